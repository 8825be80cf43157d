// The published agent type (`agent-factory/agent`) as an author meets it: a project made by af init / af new, with the
// package installed, type-checks with the tsconfig af init wrote; a misuse of ctx fails to; and the bundled agents,
// which use it instead of declaring their own Context, type-check against it. Needs dist/ (node scripts/build.mjs).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineAgent } from '../../agent/index.js';
import { REPO_AGENTS, REPO_ROOT } from '../agents/bundled.js';
import { runAf } from '../helpers/cli.js';

const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const tsc = (project: string) => spawnSync(process.execPath, [TSC, '-p', project, '--pretty', 'false'], { encoding: 'utf8' });

let root: string;

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'af-agent-type-'));
  expect((await runAf(root, ['init'])).status).toBe(0);
  expect((await runAf(root, ['new', 'demo'])).status).toBe(0);
  // What `npm install --save-dev agent-factory` gives the project: the package, resolved through its `exports`.
  mkdirSync(path.join(root, 'node_modules'));
  symlinkSync(REPO_ROOT, path.join(root, 'node_modules', 'agent-factory'), 'dir');
}, 60_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('agent-factory/agent for the author', () => {
  it('type-checks the agents af init and af new wrote, with the tsconfig af init wrote', () => {
    const result = tsc(path.join(root, 'tsconfig.json'));
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  }, 60_000);

  it('is typed, not any: a misused ctx fails to type-check, naming the mistake', () => {
    const bad = path.join(root, 'agents', 'bad');
    mkdirSync(bad);
    writeFileSync(
      path.join(bad, 'main.ts'),
      [
        "import { defineAgent, type Context } from 'agent-factory/agent';",
        'export default defineAgent(async (input: { n: number }, ctx: Context<{ topN?: number }>) => {',
        "  await ctx.kv.gett('count');",
        "  const text: number = await ctx.readTextFile('x');",
        '  ctx.config.topN = 3;',
        '  return input.n;',
        '});',
        '',
      ].join('\n'),
    );
    try {
      const result = tsc(path.join(root, 'tsconfig.json'));
      expect(result.status).not.toBe(0);
      expect(result.stdout).toContain("agents/bad/main.ts(3,16): error TS2551: Property 'gett' does not exist on type 'Kv'");
      expect(result.stdout).toContain("agents/bad/main.ts(4,9): error TS2322: Type 'string' is not assignable to type 'number'");
      expect(result.stdout).toContain("agents/bad/main.ts(5,14): error TS2540: Cannot assign to 'topN' because it is a read-only property");
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  }, 60_000);

  it('types every bundled agent, none of which declares its own Context', () => {
    const declaring = readdirSync(REPO_AGENTS).filter((name) => existsSync(path.join(REPO_AGENTS, name, 'main.ts')) && /\binterface Context\b/.test(readFileSync(path.join(REPO_AGENTS, name, 'main.ts'), 'utf8')));
    expect(declaring).toEqual([]);
    const config = path.join(root, 'tsconfig.bundled.json');
    writeFileSync(config, JSON.stringify({ extends: './tsconfig.json', include: [path.join(REPO_AGENTS, '**/*.ts')] }));
    const result = tsc(config);
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  }, 60_000);

  it('defineAgent is the identity at run time', () => {
    const run = async (input: { name?: string }) => ({ greeting: `Hello, ${input.name ?? 'world'}` });
    expect(defineAgent(run)).toBe(run);
  });
});
