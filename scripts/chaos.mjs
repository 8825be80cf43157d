// `npm run chaos`: the full chaos test of the run queue (test/chaos/queue-chaos: 5,000 runs at 200/s through a
// killed runner, a stopped runner and a PostgreSQL restart). `npm test` runs the short version of the same test.
import { spawnSync } from 'node:child_process';

const build = spawnSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
const vitest = spawnSync('npx', ['vitest', 'run', 'test/chaos'], { stdio: 'inherit', env: { ...process.env, AF_CHAOS: 'full', CI: process.env.CI ?? 'true' } });
process.exit(vitest.status ?? 1);
