#!/usr/bin/env -S node --no-node-snapshot
// The `af` launcher. isolated-vm needs --no-node-snapshot in every process that loads it; the shebang
// passes it, and when started another way (`node bin/af.js`) the launcher re-runs itself with it.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

if (!process.execArgv.includes('--no-node-snapshot')) {
  const result = spawnSync(process.execPath, ['--no-node-snapshot', ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(result.status ?? (result.signal ? 128 + 15 : 1));
} else {
  await import('../dist/cli/main.js');
}
