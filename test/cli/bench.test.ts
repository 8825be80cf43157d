// `af bench` runs the real suite in a child process: it must keep to temporary state whatever AF_* variables the
// caller has set, and fail when a benchmark fails (here the trust suite, whose `af` child cannot start).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAf } from '../helpers/cli.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const QUICK = path.join(ROOT, 'benchmarks/results/quick.json');
let saved: Buffer | undefined;
beforeAll(() => {
  saved = existsSync(QUICK) ? readFileSync(QUICK) : undefined;
});
afterAll(() => {
  if (saved) writeFileSync(QUICK, saved);
  else rmSync(QUICK, { force: true });
});

describe('af bench', () => {
  it("never writes into the caller's store or keys (AF_HOME, AF_KEYS_DIR)", async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'af-bench-home-'));
    try {
      const result = await runAf(ROOT, ['bench', '--quick', 'trust'], { PATH: process.env.PATH ?? '', AF_HOME: home, AF_KEYS_DIR: path.join(home, 'keys') });
      expect(result.status).toBe(0);
      expect(readdirSync(home)).toEqual([]);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  }, 240_000);

  it('exits non-zero when the trust suite fails', async () => {
    // No `node` on PATH: the suite's `af keys init` child cannot start, so the trust benchmark fails (twice).
    const result = await runAf(ROOT, ['bench', '--quick', 'trust'], { PATH: '/nonexistent' });
    expect(result.status).toBe(1);
    expect(JSON.parse(readFileSync(QUICK, 'utf8')).results[0].skipped).toMatch(/^failed: /);
  }, 240_000);
});
