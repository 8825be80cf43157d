import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The learner's TensorFlow.js is the bundle scripts/build.mjs makes of learner/tf-api.ts (so tests that load the
// learner need `node scripts/build.mjs` first, as those that fork a sandbox host do): Node loads it as in production,
// and vite does not transform tfjs's thousands of ES modules again in every test file.
const tfBundle = fileURLToPath(new URL('./dist/learner/tf-api.js', import.meta.url));

// isolated-vm needs --no-node-snapshot in every process that loads it; vitest refuses it in
// NODE_OPTIONS, so it goes through the forks pool's execArgv.
export default defineConfig({
  resolve: { alias: [{ find: /^\.\/tf-api\.js$/, replacement: tfBundle }] },
  test: {
    include: ['test/**/*.test.ts'],
    // One real PostgreSQL server for the run (or AF_TEST_PG_URL): the contract suites run every store on it too.
    globalSetup: ['./test/global-postgres.ts'],
    pool: 'forks',
    execArgv: ['--no-node-snapshot'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ['default', './test/summary-reporter.ts'],
    server: { deps: { external: [/\/dist\/learner\/tf-api\.js$/] } },
  },
});
