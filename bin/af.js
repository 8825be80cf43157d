#!/usr/bin/env node
// The `af` launcher: the CLI runs in this very process, so `kill PID`, Ctrl-C, `timeout`, pm2 and systemd reach it
// and its exit status is the command's own. No --no-node-snapshot here: isolated-vm needs that flag only in the
// processes that load it, the sandbox hosts, which are forked with it (sandbox/supervisor.ts); this process never
// loads isolated-vm (sandbox/engine.ts loads it on the first isolate).
//
// CommonJS (bin/package.json): `af run` first tries the project's running `af serve` with the hand-off client built on
// its own (dist/cli-bundle/handoff.cjs, Node's modules only), so a handed-over run loads neither the CLI nor Node's ES
// module loader. Then, or for any other command, the bundled CLI (dist/cli-bundle/, scripts/build-cli-bundle.mjs),
// which starts faster than dist/: a few files to read and link instead of every module. `af demo` and `af` with no
// command (which may run the demo) load dist/index.js by path for the workload, so they use the unbundled modules:
// one copy of each class in the process.
'use strict';
if (process.env.AF_STARTUP_TRACE === '1') {
  // Marks on stderr (core/startup-trace): this process's start and its first line of code.
  const mark = (what, at) => require('node:fs').writeSync(2, `af-trace ${at.toFixed(1)} ${what}\n`);
  mark('cli: process started', 0);
  mark('cli: first line', performance.now());
  process.once('exit', () => mark('cli: exit', performance.now()));
}
const { existsSync } = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

const VALUED = new Set(['--root', '--env', '--store']);
function commandWord(argv) {
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    if (VALUED.has(word)) i++;
    else if (!word.startsWith('-')) return word;
  }
  return undefined;
}

const dist = path.join(__dirname, '../dist');
const load = (file) => import(pathToFileURL(path.join(dist, file)).href);

async function main() {
  const argv = process.argv.slice(2);
  const command = commandWord(argv);
  if (command === 'run' && existsSync(path.join(dist, 'cli-bundle/handoff.cjs')) && existsSync(path.join(dist, 'cli-bundle/prestart.cjs'))) {
    // stdin is made (a few ms) only when read: not for `--input`, nor for a run handed over.
    const streams = { stdout: process.stdout, stderr: process.stderr, get stdin() { return process.stdin; }, env: process.env, cwd: process.cwd() };
    const outcome = await require('../dist/cli-bundle/handoff.cjs').handOff(argv, streams);
    if ('status' in outcome) {
      process.exitCode = outcome.status;
      return;
    }
    // Runs here: its sandbox host is forked now (cli/host-prestart, built on its own), and starts while the CLI loads.
    if ('streams' in outcome && !('lost' in outcome)) require('../dist/cli-bundle/prestart.cjs').prestartForCommandLine(argv, outcome.streams);
    process.exitCode = await (await load('cli-bundle/run-here.js')).runHere(argv, outcome);
  } else if (command !== undefined && command !== 'demo' && existsSync(path.join(dist, 'cli-bundle/main.js'))) await load('cli-bundle/main.js');
  else await load('cli/main.js');
}

void main();
