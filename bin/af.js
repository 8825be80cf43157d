#!/usr/bin/env node
// The `af` launcher: the CLI runs in this very process, so `kill PID`, Ctrl-C, `timeout`, pm2 and systemd reach it
// and its exit status is the command's own. No --no-node-snapshot here: isolated-vm needs that flag only in the
// processes that load it, the sandbox hosts, which are forked with it (sandbox/supervisor.ts); this process never
// loads isolated-vm (sandbox/engine.ts loads it on the first isolate).
await import('../dist/cli/main.js');
