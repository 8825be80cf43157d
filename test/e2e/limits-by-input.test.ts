// limits.byInput through the CLI, as a user meets it: `af templates show` states the rule, `af run` of a small input
// doing a large input's work fails with the effective limit named (exit 1), the same work on a large input succeeds,
// and `af validate` points at a malformed rule.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAf } from '../helpers/cli.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

const SPIN = `export default (input) => {
  let a = 0;
  for (let i = 0; i < input.spin; i++) a = (a * 31 + i) % 1000003;
  return { rows: input.rows.length };
};
`;
// About 600 ms of CPU: over 2 rows' 200 ms, under 100 rows' 10 s.
const HEAVY = 1.2e8;
const input = (rows: number) => JSON.stringify({ rows: Array.from({ length: rows }, (_, i) => i), spin: HEAVY });

let project: TempProject;
beforeAll(() => {
  project = createProject({
    ...simpleTemplate('sized', { limits: { cpuMs: 20000, timeoutMs: 30000, byInput: { measure: '/rows', cpuMs: { base: 100, exponent: 1 } } } }, SPIN),
    ...simpleTemplate('broken', { limits: { byInput: { measure: 'rows', memoryMb: { base: 1, exponent: 1 } } } }),
  });
});
afterAll(() => project.remove());

describe('limits.byInput from the CLI', () => {
  it('af templates show states the rule as it applies', async () => {
    const result = await runAf(project.root, ['templates', 'show', 'sized']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('byInput  cpuMs = min(20000, ceil(100 × x^1)) for x = /rows (at least 1)');
  });

  it('af run: a small input is held to its small limit, a large one with the same work gets its larger one', async () => {
    const small = await runAf(project.root, ['run', 'sized', '--input', input(2), '--json']);
    expect(small.status).toBe(1);
    expect(JSON.parse(small.stdout)).toMatchObject({
      ok: false,
      error: { code: 'E_CPU_LIMIT', message: expect.stringContaining('run exceeded its effective limits.cpuMs (200 ms of CPU), set by limits.byInput.cpuMs for /rows = 2') },
    });
    const large = await runAf(project.root, ['run', 'sized', '--input', input(100), '--json']);
    expect(large.status).toBe(0);
    expect(JSON.parse(large.stdout)).toMatchObject({ ok: true, output: { rows: 100 } });
  });

  it('af validate points at each mistake in a rule', async () => {
    const result = await runAf(project.root, ['validate', 'agents/broken']);
    expect(result.status).not.toBe(0);
    expect(result.stdout + result.stderr).toContain('/limits/byInput/measure');
    expect(result.stdout + result.stderr).toContain('must be "inputBytes" or a JSON pointer into the input (RFC 6901), e.g. "/items" or "/doc/text", not "rows"');
    expect(result.stdout + result.stderr).toContain('/limits/byInput/memoryMb');
    expect(result.stdout + result.stderr).toContain('the heap limit belongs to a pooled isolate shared by many runs');
  });
});
