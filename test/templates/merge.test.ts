// The extends and environment merge rules, table-driven: each row is parent + child → the merged manifest.
import { describe, expect, it } from 'vitest';
import { applyEnvironment, mergeManifests, type RawManifest } from '../../templates/index.js';

const base = { name: 'parent', version: '1.0.0' };
const child = (extra: Record<string, unknown>) => ({ name: 'child', version: '2.0.0', extends: 'parent', ...extra }) as RawManifest;
const parent = (extra: Record<string, unknown>) => ({ ...base, ...extra }) as RawManifest;

describe('mergeManifests', () => {
  const rows: Array<[string, Record<string, unknown>, Record<string, unknown>, Record<string, unknown>]> = [
    ['objects deep-merge', { limits: { memoryMb: 64, timeoutMs: 100 } }, { limits: { timeoutMs: 50 } }, { limits: { memoryMb: 64, timeoutMs: 50 } }],
    ['child wins on scalars', { description: 'parent', entry: 'a.ts' }, { description: 'child' }, { description: 'child', entry: 'a.ts' }],
    ['permission lists are unioned, parent first, without duplicates', { permissions: { net: ['a.com', 'b.com'], read: ['./x'] } }, { permissions: { net: ['b.com', 'c.com'] } }, { permissions: { net: ['a.com', 'b.com', 'c.com'], read: ['./x'] } }],
    ['every permission list unions', { permissions: { read: ['r'], write: ['w'], env: ['E'], spawn: ['s'] } }, { permissions: { read: ['r2'], write: ['w2'], env: ['E2'], spawn: ['s2'] } }, { permissions: { read: ['r', 'r2'], write: ['w', 'w2'], env: ['E', 'E2'], spawn: ['s', 's2'] } }],
    ['permission booleans follow the child', { permissions: { kv: true, wasm: true } }, { permissions: { kv: false } }, { permissions: { kv: false, wasm: true } }],
    ['other arrays are replaced', { input: { type: 'object', required: ['a', 'b'] } }, { input: { required: ['c'] } }, { input: { type: 'object', required: ['c'] } }],
    ['config arrays are replaced', { config: { tags: ['x', 'y'] } }, { config: { tags: ['z'] } }, { config: { tags: ['z'] } }],
    ['null removes an inherited key', { limits: { memoryMb: 64, timeoutMs: 100 } }, { limits: { timeoutMs: null } }, { limits: { memoryMb: 64 } }],
    ['null removes a whole section', { permissions: { net: ['a.com'] }, config: { a: 1 } }, { permissions: null }, { config: { a: 1 } }],
    ['null removes a permission list instead of unioning', { permissions: { net: ['a.com'], kv: true } }, { permissions: { net: null } }, { permissions: { kv: true } }],
    ['null in a root manifest means absent', {}, { limits: { memoryMb: null, timeoutMs: 5 } }, { limits: { timeoutMs: 5 } }],
    ['a null stored inside config data stays', {}, { config: { nested: { value: null } } }, { config: { nested: { value: null } } }],
    ['environment overlays merge key by key', { environments: { prod: { limits: { timeoutMs: 1 } } } }, { environments: { prod: { limits: { memoryMb: 8 } }, dev: { pool: { prewarm: 0 } } } }, { environments: { prod: { limits: { timeoutMs: 1, memoryMb: 8 } }, dev: { pool: { prewarm: 0 } } } }],
    ['permission lists inside environments union too', { environments: { prod: { permissions: { net: ['a.com'] } } } }, { environments: { prod: { permissions: { net: ['b.com'] } } } }, { environments: { prod: { permissions: { net: ['a.com', 'b.com'] } } } }],
    ['abstract is not inherited', { abstract: true, entry: 'main.ts' }, {}, { entry: 'main.ts' }],
  ];

  it.each(rows)('%s', (_title, parentExtra, childExtra, expected) => {
    expect(mergeManifests(parent(parentExtra), child(childExtra))).toEqual({ name: 'child', version: '2.0.0', extends: 'parent', ...expected });
  });

  it('modifies neither input', () => {
    const p = parent({ permissions: { net: ['a.com'] }, limits: { memoryMb: 8 } });
    const c = child({ permissions: { net: ['b.com'] }, limits: { memoryMb: null } });
    const before = JSON.stringify([p, c]);
    mergeManifests(p, c);
    expect(JSON.stringify([p, c])).toBe(before);
  });
});

describe('applyEnvironment', () => {
  const inherited = parent({
    entry: 'main.ts',
    permissions: { net: ['api.example.com:443'], kv: true },
    limits: { memoryMb: 64, timeoutMs: 2000 },
    config: { topN: 5 },
    environments: { prod: { limits: { timeoutMs: 1000 }, permissions: { net: ['backup.example.com'] }, config: { topN: 3 } } },
  });

  it('merges the chosen environment last and fills every default', () => {
    expect(applyEnvironment(inherited, 'prod')).toEqual({
      name: 'parent',
      version: '1.0.0',
      description: '',
      entry: 'main.ts',
      permissions: { read: [], write: [], net: ['api.example.com:443', 'backup.example.com'], env: [], kv: true, spawn: [], wasm: false },
      limits: { memoryMb: 64, timeoutMs: 1000, cpuMs: 5000, outputKb: 256, logKb: 64, kvKb: 1024, spawnDepth: 3, spawnFanOut: 16 },
      pool: { prewarm: 1, reuseContext: false },
      config: { topN: 3 },
    });
  });

  it('leaves an environment without an overlay at the inherited values', () => {
    const dev = applyEnvironment(inherited, 'dev');
    expect(dev.limits.timeoutMs).toBe(2000);
    expect(dev.permissions.net).toEqual(['api.example.com:443']);
    expect(dev.config).toEqual({ topN: 5 });
    expect(dev).not.toHaveProperty('environments');
  });
});
