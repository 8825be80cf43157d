// Whole versions and suggestions that never get stuck, on real files, keys, signatures and a real store: a rollback puts
// back every file of a version (and removes what the newer one added), accepting edits only the lines the patch touches,
// and a suggestion made for code that is no longer on disk is explained on accept and withdrawn or renewed by `learn`.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../core/config.js';
import type { Suggestion } from '../../core/suggestion.js';
import { acceptSuggestion, learn, rollback } from '../../learner/index.js';
import { openStore, type Store } from '../../store/index.js';
import { openProjectTrust, type KeyRing, TemplateRegistry } from '../../templates/index.js';
import { createProject, type TempProject } from '../helpers/project.js';
import { craftRuns } from './helpers.js';

// Hand-formatted, keys in the author's order: what a maintainer reviews in git.
const MANIFEST = `{
  "name": "sized",
  "version": "1.0.0",
  "entry": "main.ts",
  "description": "kept as written",
  "limits": { "memoryMb": 256, "timeoutMs": 5000, "cpuMs": 5000 },
  "permissions": {
    "kv": true,
    "env": ["A", "B"]
  }
}
`;
const MAIN = "import { n } from './lib.ts';\nexport default (input) => ({ n: input.n ?? n });\n";

let project: TempProject;
let store: Store;
let registry: TemplateRegistry;
let keyRing: KeyRing;
const file = (name: string) => path.join(project.agentsDir, 'sized', name);
const read = (name: string) => readFileSync(file(name), 'utf8');

beforeEach(async () => {
  project = createProject({ 'agents/sized/agent.json': MANIFEST, 'agents/sized/main.ts': MAIN, 'agents/sized/lib.ts': 'export const n = 0;\n' });
  const config = resolveConfig({ root: project.root, processEnv: {} });
  // Sealed version rows, as `af` opens the project store (store/version-seal).
  store = openStore({ path: config.dbPath, auditAnchorDir: config.keysDir });
  keyRing = openProjectTrust(config, { store: store.trust }).keyRing;
  await keyRing.init();
  registry = new TemplateRegistry({ agentsDir: project.agentsDir, displayRoot: project.root, bundleCacheDir: config.bundleCacheDir });
  const sized = await registry.inspect('sized');
  // Runs that used kv and env A, never env B: least privilege proposes removing B; right-sizing lowers the limits.
  for (const record of craftRuns({ count: 1200, template: 'sized', digest: sized.digest, tools: () => ({ kv: 1, env: 1 }) })) {
    store.runs.write({ ...record, grantsUsed: ['kv', 'env:A'] });
  }
  await store.runs.flush();
});

afterEach(async () => {
  registry.close();
  await store.close();
  project.remove();
});

const open = (): Suggestion[] => store.suggestions.list({ template: 'sized', state: 'open' });
const bySlot = (slot: string) => open().find((s) => s.evidence.slot === slot) as Suggestion;

/** Lines of `after` not in `before` plus lines of `before` not in `after`, by longest common subsequence. */
function changedLines(before: string, after: string): number {
  const a = before.split('\n');
  const b = after.split('\n');
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) for (let j = b.length - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  return a.length + b.length - 2 * lcs[0]![0]!;
}

describe('accepting a suggestion edits only the lines its patch touches', () => {
  it('a one-entry removal from a permission list is a few-line diff, formatting and key order kept', async () => {
    await learn({ store, registry });
    const env = bySlot('permissions.env.entries');
    expect(env.patch).toEqual([{ op: 'replace', path: '/permissions/env', value: ['A'] }]);
    await acceptSuggestion({ store, registry, keyRing }, env.id, { actor: 'ada' });
    const after = read('agent.json');
    expect(after).toBe(MANIFEST.replace('"version": "1.0.0"', '"version": "1.0.1"').replace('"env": ["A", "B"]', '"env": ["A"]'));
    expect(changedLines(MANIFEST, after)).toBe(4); // two lines out, two in: the version and the list
  });
});

describe('rollback restores a whole version, never a mix', () => {
  it('puts back main.ts, its imports, agent.json and agent.sig, and removes a file only the newer version had; a suggestion for it can then be accepted', async () => {
    await learn({ store, registry });
    const memory = bySlot('limits.memoryMb');
    const cpu = bySlot('limits.cpuMs');
    await acceptSuggestion({ store, registry, keyRing }, memory.id, { actor: 'ada' });
    expect(read('agent.json')).toContain('"version": "1.0.1"');
    expect(existsSync(file('agent.sig'))).toBe(true);
    // Edits after the accept: main.ts changed, lib.ts changed, a new module imported.
    writeFileSync(file('extra.ts'), 'export const extra = 1;\n');
    writeFileSync(file('main.ts'), "import { n } from './lib.ts';\nimport { extra } from './extra.ts';\nexport default () => ({ n, extra });\n");
    writeFileSync(file('lib.ts'), 'export const n = 42;\n');

    const result = await rollback({ store, registry }, 'sized', { actor: 'ada' });
    expect(result).toMatchObject({ from: '1.0.1', version: '1.0.0', removed: ['extra.ts'] });
    expect([read('agent.json'), read('main.ts'), read('lib.ts')]).toEqual([MANIFEST, MAIN, 'export const n = 0;\n']);
    expect(existsSync(file('extra.ts'))).toBe(false);
    // 1.0.0 was never signed: the newer version's agent.sig does not stay behind to describe other files.
    expect(existsSync(file('agent.sig'))).toBe(false);
    expect((await registry.inspect('sized')).digest).toBe(memory.baseDigest);

    // The folder is 1.0.0 again, exactly: a suggestion made for it is accepted.
    expect(await acceptSuggestion({ store, registry, keyRing }, cpu.id, { actor: 'ada', canaryWeight: 1 })).toMatchObject({ state: 'accepted', candidateVersion: '1.0.1' });

    // And the edited folder was kept, whole, before it was replaced: rolling forward to it is possible.
    const edited = store.versions.list('sized').filter((v) => v.version === '1.0.1' && !v.signed);
    expect(edited).toHaveLength(1);
    expect(Object.keys(store.versions.byDigest('sized', edited[0]!.digest)?.sourceFiles ?? {}).sort()).toEqual(['extra.ts', 'lib.ts', 'main.ts']);
  });
});

describe('a suggestion for code that is no longer on disk', () => {
  it('is refused with a message that says what changed, and learn withdraws or renews it: none stays open for old code', async () => {
    const first = await learn({ store, registry });
    expect(first.created.length).toBeGreaterThanOrEqual(3);
    const kv = bySlot('permissions.env.entries');
    writeFileSync(file('main.ts'), "import { n } from './lib.ts';\nexport default (input) => ({ n: (input.n ?? n) + 1 });\n");

    const refused = await acceptSuggestion({ store, registry, keyRing }, kv.id, { actor: 'ada' }).catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: 'E_CONFLICT', message: expect.stringContaining('main.ts changed') });
    expect((refused as Error).message).toContain('af learn');
    expect((refused as Error).message).not.toContain('1.0.0 → 1.0.0');

    const second = await learn({ store, registry });
    const current = (await registry.inspect('sized')).digest;
    // The old runs no longer support every change for the edited code: those are withdrawn, the others renewed.
    expect(second.withdrawn.length + second.replaced).toBe(first.created.length);
    expect(second.withdrawn.map((w) => w.id)).toContain(kv.id);
    expect(open().every((s) => s.baseDigest === current)).toBe(true);
    expect(store.suggestions.get(kv.id)).toBeUndefined();
  });
});
