// Second, independent attempt at the classes of the trust-boundary findings: each test is an attack that
// got through the first round of fixes, with real files, real isolates and the real CLI.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAf } from '../helpers/cli.js';
import { makeHarness, makeSpec } from '../sandbox/helpers.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

/** Raw bytes a terminal acts on (NO_COLOR: the CLI paints nothing itself). */
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]/;

const af = (root: string, args: string[]) => runAf(root, args);

describe('class 9: template folder names reach the terminal through af sign --all and af verify --all', () => {
  let project: TempProject;
  // A hostile author adds folders to agents/: any byte but `/` and NUL is a valid folder name on Linux.
  const TITLE = 'x\u001b]0;pwned\u0007';
  const FORGED = 'y\n✓ payments 9.9.9 signed by Release (0123456789abcdef) at 2026-01-01T00:00:00.000Z';

  beforeAll(async () => {
    project = createProject(simpleTemplate('good'));
    for (const name of [TITLE, FORGED]) {
      mkdirSync(path.join(project.agentsDir, name), { recursive: true });
      writeFileSync(path.join(project.agentsDir, name, 'agent.json'), JSON.stringify({ name: 'good', version: '1.0.0', entry: 'main.ts' }));
    }
    expect((await af(project.root, ['keys', 'init'])).status).toBe(0);
  });
  afterAll(() => project.remove());

  it.each([['sign'], ['verify']])('af %s --all prints each folder name as text, one line per template: no escape, no forged ok line', async (verb) => {
    const { stdout, stderr } = await af(project.root, [verb, '--all']);
    expect(stdout + stderr).not.toMatch(RAW_CONTROL);
    // The forged line never starts a line of its own: the only ✓ line is the real template's.
    expect(stdout.split('\n').filter((line) => line.startsWith('✓')).map((line) => line.split(' ')[1])).toEqual(['good']);
    expect(stdout).toContain('\\x1b]0;pwned\\x07');
    expect(stdout).toContain('y\\n✓ payments');
  });
});

describe('class 9: a retirement reason (an API client of the installation, or a row in the database) reaches af versions', () => {
  let project: TempProject;
  beforeAll(() => {
    project = createProject(simpleTemplate('good'));
  });
  afterAll(() => project.remove());

  it('af versions list and a second af versions retire print the reason as text', async () => {
    const reason = 'cve\u001b]0;pwned\u0007\n1.0.1     (not recorded)       on disk';
    expect((await af(project.root, ['versions', 'retire', 'good', '9.0.0', '--reason', reason])).status).toBe(0);
    const list = await af(project.root, ['versions', 'list', 'good']);
    expect(list.status).toBe(0);
    expect(list.stdout + list.stderr).not.toMatch(RAW_CONTROL);
    expect(list.stdout).toContain('cve\\x1b]0;pwned\\x07\\n1.0.1');
    // One row per version: the reason forged none.
    expect(list.stdout.trim().split('\n')).toHaveLength(2);
  });
});

// V8 answers Atomics.waitAsync with a timeout by posting a delayed task to the embedder's platform; isolated-vm's
// platform aborts the whole process on it ("terminate called without an active exception"). One line of agent code
// took down its sandbox host, and with it every other tenant's run in flight there (or, inline, the embedding program).
const WAIT_ASYNC_SOURCES: Array<[string, string]> = [
  ['in the run', `export default async () => {
    const cell = new Int32Array(new SharedArrayBuffer(4));
    return { async: Atomics.waitAsync(cell, 0, 0, 50).async };
  };`],
  ['at top level', `const cell = new Int32Array(new SharedArrayBuffer(4));
  Atomics.waitAsync(cell, 0, 0, 50);
  export default async () => 'loaded';`],
];

describe('classes 4 and 8: a run cannot crash the sandbox host under other tenants (Atomics.waitAsync)', () => {
  const BYSTANDER = makeSpec({
    name: 'bystander',
    source: 'export default async (input) => { await new Promise((resolve) => setTimeout(resolve, input.ms)); return { ok: input.n }; };',
    limits: { memoryMb: 32, timeoutMs: 10_000 },
  });
  let h: ReturnType<typeof makeHarness>;
  beforeAll(() => {
    h = makeHarness({ isolation: 'process', hosts: 1 });
  });
  afterAll(() => h.sandbox.close());

  it.each(WAIT_ASYNC_SOURCES)('%s: the waiter is refused inside the isolate; the host and a concurrent run of tenant B survive', async (_where, source) => {
    const hostile = makeSpec({ name: `wait-async-${_where.length}`, source, limits: { memoryMb: 32, timeoutMs: 3000, cpuMs: 1000 } });
    const restartsBefore = h.sandbox.stats().restarts;
    const bystander = h.run(BYSTANDER, { ms: 400, n: 1 }, { tenant: 'b' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const result = await h.run(hostile, {}, { tenant: 'a' });
    // Its own failure, as a TypeError thrown in the agent: Atomics.waitAsync is not there.
    expect(result).toMatchObject({ ok: false, error: { code: 'E_AGENT_THREW', message: expect.stringMatching(/waitAsync|not a function/) } });
    expect(await bystander).toMatchObject({ ok: true, output: { ok: 1 } });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(h.sandbox.stats().restarts).toBe(restartsBefore);
  }, 20_000);
});

// isolated-vm counts ArrayBuffers against the isolate's memoryLimit through its own allocator, but V8 allocates
// resizable ArrayBuffers and growable SharedArrayBuffers (and their initial length) outside it: measured, eight
// 128 MB resizable buffers held 1.1 GB under memoryLimit 32. A run could hold any amount of memory past
// limits.memoryMb, be never blamed (its heap is within its limit) and take its host and every tenant's run down.
const RESIZABLE_SOURCES: Array<[string, string]> = [
  ['resizable ArrayBuffer, resized', `export default async () => {
    const held = [];
    for (let i = 0; i < 6; i++) { const b = new ArrayBuffer(1, { maxByteLength: 2 ** 30 }); b.resize(2 ** 27); new Uint8Array(b).fill(1); held.push(b); }
    return { resizable: held[0].resizable, bytes: held.reduce((n, b) => n + b.byteLength, 0) };
  };`],
  ['resizable ArrayBuffer, initial length', `export default async () => {
    const held = [];
    for (let i = 0; i < 6; i++) { const b = new ArrayBuffer(2 ** 27, { maxByteLength: 2 ** 28 }); new Uint8Array(b).fill(1); held.push(b); }
    return { resizable: held[0].resizable, bytes: held.reduce((n, b) => n + b.byteLength, 0) };
  };`],
  ['growable SharedArrayBuffer, through a subclass and the prototype constructor', `export default async () => {
    const Shared = Object.getPrototypeOf(new SharedArrayBuffer(1)).constructor;
    class Big extends Shared {}
    const held = [];
    for (let i = 0; i < 3; i++) { const b = new Big(1, { maxByteLength: 2 ** 30 }); b.grow(2 ** 27); new Uint8Array(b).fill(1); held.push(b); }
    return { resizable: held[0].growable, bytes: held.reduce((n, b) => n + b.byteLength, 0) };
  };`],
];

describe('class 8: resizable buffers do not escape limits.memoryMb', () => {
  let h: ReturnType<typeof makeHarness>;
  beforeAll(() => {
    h = makeHarness({ isolation: 'process', hosts: 1 });
  });
  afterAll(() => h.sandbox.close());

  it.each(RESIZABLE_SOURCES)('%s: hundreds of MB under memoryMb 32 are refused inside the isolate, and the host lives', async (title, source) => {
    const spec = makeSpec({ name: `resizable-${title.length}`, source, limits: { memoryMb: 32, timeoutMs: 10_000, cpuMs: 5000 } });
    const restartsBefore = h.sandbox.stats().restarts;
    const result = await h.run(spec, {}, { tenant: 'a' });
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.error.code).toMatch(/^E_(AGENT_THREW|MEMORY_LIMIT)$/);
    expect(h.sandbox.stats().restarts).toBe(restartsBefore);
  }, 30_000);

  it('inline isolation (no host flag, the prelude alone) refuses them too', async () => {
    const inline = makeHarness({ isolation: 'inline' });
    try {
      for (const [title, source] of RESIZABLE_SOURCES) {
        const spec = makeSpec({ name: `resizable-inline-${title.length}`, source, limits: { memoryMb: 32, timeoutMs: 10_000, cpuMs: 5000 } });
        const result = await inline.run(spec, {});
        expect(result.ok ? result.output : result.error.code).toMatch(/^E_(AGENT_THREW|MEMORY_LIMIT)$/);
      }
    } finally {
      await inline.sandbox.close();
    }
  }, 30_000);

  it('fixed-length buffers, subclasses, species and isView still work', async () => {
    const spec = makeSpec({
      name: 'buffers-still-work',
      source: `export default async () => {
        class Mine extends ArrayBuffer {}
        const a = new ArrayBuffer(8, { maxByteLength: 16 });
        const m = new Mine(4);
        return {
          length: a.byteLength, resizable: a.resizable === true, sub: m instanceof Mine && m instanceof ArrayBuffer, subLength: m.byteLength,
          sliced: a.slice(2).byteLength, view: ArrayBuffer.isView(new Uint8Array(2)), ctor: new Uint8Array(1).buffer.constructor === ArrayBuffer,
          name: ArrayBuffer.name, shared: new SharedArrayBuffer(4).byteLength, noCall: (() => { try { ArrayBuffer(1); return false; } catch (e) { return e instanceof TypeError; } })(),
        };
      };`,
      limits: { memoryMb: 32 },
    });
    expect(await h.run(spec, {})).toMatchObject({
      ok: true,
      output: { length: 8, resizable: false, sub: true, subLength: 4, sliced: 6, view: true, ctor: true, name: 'ArrayBuffer', shared: 4, noCall: true },
    });
  });
});

// Whoever can write the database (partly trusted: `.af/`, not `.af/keys/`) could insert a "suggestion" whose patch
// grants anything; accepting it applied the patch and signed the result with the maintainer's key, so content the
// store's writer chose ran outside dev. A suggestion may only change what its kind changes, in the direction it does.
describe('class 2: a suggestion planted in the database cannot get a grant signed', () => {
  let project: TempProject;
  const manifestFile = () => path.join(project.agentsDir, 'pay', 'agent.json');
  const FORGED: Array<[string, string, unknown[]]> = [
    ['right-sizing that also adds a net grant', 'right-sizing', [{ op: 'replace', path: '/limits', value: { memoryMb: 64 } }, { op: 'add', path: '/permissions/net/-', value: '*.evil.example' }]],
    ['least-privilege that adds a permission', 'least-privilege', [{ op: 'add', path: '/permissions/kv', value: true }]],
    ['least-privilege that swaps a list entry', 'least-privilege', [{ op: 'replace', path: '/permissions/net', value: ['evil.example'] }]],
    ['pre-warming that changes the entry', 'pre-warming', [{ op: 'add', path: '/pool', value: { prewarm: 2 } }, { op: 'replace', path: '/entry', value: 'other.ts' }]],
    ['failure-pattern that adds an environment overlay', 'failure-pattern', [{ op: 'add', path: '/environments', value: { prod: { permissions: { write: ['/etc'] } } } }]],
    ['right-sizing that adds config', 'right-sizing', [{ op: 'add', path: '/config', value: { endpoint: 'http://evil.example' } }]],
    ['right-sizing that raises the spawn depth', 'right-sizing', [{ op: 'replace', path: '/limits', value: { memoryMb: 64, spawnDepth: 50 } }]],
    ['right-sizing that adds a key named __proto__', 'right-sizing', [{ op: 'add', path: '/__proto__', value: { permissions: { kv: true } } }]],
    ['pre-warming that turns on context reuse', 'pre-warming', [{ op: 'add', path: '/pool', value: { prewarm: 2, reuseContext: true } }]],
  ];

  beforeAll(async () => {
    project = createProject({
      ...simpleTemplate('pay', { permissions: { net: ['api.example.com'], env: ['REGION'] }, limits: { memoryMb: 128 } }),
      'agents/pay/other.ts': 'export default () => "other";\n',
    });
    expect((await af(project.root, ['keys', 'init'])).status).toBe(0);
    expect((await af(project.root, ['sign', 'pay'])).status).toBe(0);
  });
  afterAll(() => project.remove());

  async function plant(id: string, kind: string, patch: unknown[]) {
    const { openStore } = await import('../../store/index.js');
    const { TemplateRegistry } = await import('../../templates/index.js');
    const registry = new TemplateRegistry({ agentsDir: project.agentsDir });
    const current = await registry.inspect('pay');
    registry.close();
    const store = openStore({ path: path.join(project.root, '.af', 'factory.db') });
    try {
      store.suggestions.add({
        id, kind: kind as never, template: 'pay', tenant: '*', baseVersion: current.version, baseDigest: current.digest, patch: patch as never,
        evidence: {}, expectedImpact: { summary: 'memoryMb 128 → 64' }, confidence: 0.9, state: 'open', createdAt: 1, evidenceKey: id,
      });
    } finally {
      await store.close();
    }
  }

  it.each(FORGED)('%s is refused: agent.json and agent.sig stay as signed', async (title, kind, patch) => {
    const id = `forged-${title.replace(/\W+/g, '-')}`;
    await plant(id, kind, patch);
    const before = readFileSync(manifestFile(), 'utf8');
    const signature = readFileSync(path.join(project.agentsDir, 'pay', 'agent.sig'), 'utf8');
    const accepted = await af(project.root, ['suggestions', 'accept', id]);
    expect(accepted.status).not.toBe(0);
    expect(accepted.stderr).toMatch(/E_CONFLICT.*never changes|never changes/s);
    expect(readFileSync(manifestFile(), 'utf8')).toBe(before);
    expect(readFileSync(path.join(project.agentsDir, 'pay', 'agent.sig'), 'utf8')).toBe(signature);
  });

  it('the changes the learner does make are still accepted (limits, a removed list entry)', async () => {
    await plant('real-limits', 'right-sizing', [{ op: 'replace', path: '/limits/memoryMb', value: 96 }]);
    expect((await af(project.root, ['suggestions', 'accept', 'real-limits'])).status).toBe(0);
    expect(JSON.parse(readFileSync(manifestFile(), 'utf8'))).toMatchObject({ version: '1.0.1', limits: { memoryMb: 96 } });
    await plant('real-privilege', 'least-privilege', [{ op: 'replace', path: '/permissions/env', value: [] }]);
    expect((await af(project.root, ['suggestions', 'accept', 'real-privilege'])).status).toBe(0);
    expect(JSON.parse(readFileSync(manifestFile(), 'utf8'))).toMatchObject({ version: '1.0.2', permissions: { env: [], net: ['api.example.com'] } });
  });
});

// The bundle cache (`.af/cache/bundles/`) is written by people who cannot sign; every process that resolves a template
// re-hashes the sources an entry names to see whether it is stale. The names were joined to the template folder as they
// were: `../../…/some/fifo` blocked every `af` command and the server on a FIFO (and `/dev/zero` would be read forever).
describe('class 2: the bundle cache cannot make the factory read outside the template folder', () => {
  let project: TempProject;
  const AF = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
  beforeAll(async () => {
    project = createProject(simpleTemplate('good'));
    expect((await af(project.root, ['templates', 'list'])).status).toBe(0);
  });
  afterAll(() => project.remove());

  it('a cache entry naming a FIFO outside the folder is a miss: af templates list finishes, and validates the real sources', () => {
    const fifo = path.join(project.root, 'outside.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const folder = path.join(project.root, '.af', 'cache', 'bundles');
    const [file] = readdirSync(folder).filter((name) => name.endsWith('.json'));
    const entry = JSON.parse(readFileSync(path.join(folder, file!), 'utf8'));
    const climb = `${'../'.repeat(40)}${fifo.slice(1)}`;
    entry.sources = { [climb]: 'x', ...entry.sources };
    entry.code = 'globalThis.__afModule = { default: () => "planted" };';
    writeFileSync(path.join(folder, file!), JSON.stringify(entry));
    const listed = spawnSync(process.execPath, ['--no-node-snapshot', AF, 'templates', 'list', '--json'], { cwd: project.root, env: { PATH: process.env.PATH, NO_COLOR: '1' }, timeout: 20_000, encoding: 'utf8' });
    expect(listed.signal).toBeNull();
    expect(listed.status).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ name: 'good', status: 'valid' })]);
  }, 30_000);
});
