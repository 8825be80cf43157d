#!/usr/bin/env node
// The `af` launcher: the CLI runs in this very process, so `kill PID`, Ctrl-C, `timeout`, pm2 and systemd reach it
// and its exit status is the command's own. No --no-node-snapshot here: isolated-vm needs that flag only in the
// processes that load it, the sandbox hosts, which are forked with it (sandbox/supervisor.ts); this process never
// loads isolated-vm (sandbox/engine.ts loads it on the first isolate).
//
// The bundled CLI (dist/cli-bundle/, scripts/build-cli-bundle.mjs) starts faster: a few files to read and link
// instead of every module of dist/. `af demo` and `af` with no command (which may run the demo) load dist/index.js by
// path for the workload, so they use the unbundled modules: one copy of each class in the process.
import { existsSync } from 'node:fs';

const VALUED = new Set(['--root', '--env', '--store']);
function commandWord(argv) {
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    if (VALUED.has(word)) i++;
    else if (!word.startsWith('-')) return word;
  }
  return undefined;
}

const command = commandWord(process.argv.slice(2));
const bundled = new URL('../dist/cli-bundle/main.js', import.meta.url);
if (command !== undefined && command !== 'demo' && existsSync(bundled)) await import(bundled.href);
else await import('../dist/cli/main.js');
