import { defineConfig } from 'vitest/config';

// isolated-vm needs --no-node-snapshot in every process that loads it; vitest refuses it in
// NODE_OPTIONS, so it goes through the forks pool's execArgv.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    execArgv: ['--no-node-snapshot'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
