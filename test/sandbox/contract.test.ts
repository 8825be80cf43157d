// The sandbox contract, run against both isolations: hostile agents end with the right code and the next run succeeds.
import { mkdirSync, mkdtempSync, readFileSync, existsSync, symlinkSync, writeFileSync, realpathSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureSpec, HEALTHY, makeHarness, type Harness } from './helpers.js';

const ISOLATIONS = ['process', 'inline'] as const;

describe.each(ISOLATIONS)('sandbox contract (%s)', (isolation) => {
  let h: Harness;

  beforeAll(() => {
    h = makeHarness({ isolation, hosts: 1, processEnv: { GREETING: 'hello', SECRET: 'do-not-leak' } });
  });
  afterAll(async () => {
    await h.sandbox.close();
  });

  async function expectHealthy(): Promise<void> {
    const result = await h.run(HEALTHY, { n: 4 });
    expect(result).toMatchObject({ ok: true, output: { doubled: 8 } });
  }

  it('runs a healthy agent and reports stats', async () => {
    const result = await h.run(HEALTHY, { n: 21 });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.output).toEqual({ doubled: 42 });
    expect(result.stats.outputBytes).toBe(JSON.stringify({ doubled: 42 }).length);
    expect(result.stats.inputBytes).toBe(JSON.stringify({ n: 21 }).length);
    expect(result.stats.cpuMs).toBeGreaterThan(0);
    expect(result.stats.heapUsedAtEndBytes).toBeGreaterThan(0);
  });

  it('inputBytes counts the UTF-8 bytes of the input JSON; undefined input is 0', async () => {
    const unicode = await h.run(HEALTHY, { n: 1, s: 'é✓' });
    expect(unicode.stats.inputBytes).toBe(Buffer.byteLength(JSON.stringify({ n: 1, s: 'é✓' })));
    const none = await h.run(HEALTHY, undefined);
    expect(none.stats.inputBytes).toBe(0);
  });

  it('reserve is synchronous and returns a slot at once', () => {
    const slot = h.sandbox.reserve(HEALTHY);
    expect(typeof (slot as unknown as { then?: unknown }).then).toBe('undefined');
    expect(slot.digest).toBe(HEALTHY.digest);
    h.sandbox.release(slot);
  });

  it('a released reservation cannot run (E_DISPOSED)', async () => {
    const slot = h.sandbox.reserve(HEALTHY);
    h.sandbox.release(slot);
    const result = await h.sandbox.run(slot, { n: 1 }, { tenant: 't', env: 'dev' });
    expect(result).toMatchObject({ ok: false, error: { code: 'E_DISPOSED' } });
  });

  describe('limits', () => {
    it('while(true) before any await ends with E_TIMEOUT', async () => {
      const spec = fixtureSpec('infinite-loop-sync.js', { limits: { timeoutMs: 300, cpuMs: 10_000 } });
      expect(spec.code).toContain('while (true)');
      const result = await h.run(spec);
      expect(result).toMatchObject({ ok: false, error: { code: 'E_TIMEOUT' } });
      expect(result.ok || result.error.message).toContain('limits.timeoutMs (300 ms)');
      await expectHealthy();
    });

    it('while(true) after an await ends with E_TIMEOUT', async () => {
      const spec = fixtureSpec('infinite-loop-after-await.js', { limits: { timeoutMs: 300, cpuMs: 10_000 } });
      for (const input of [{}, { afterTimer: true }]) {
        const started = Date.now();
        const result = await h.run(spec, input);
        expect(result).toMatchObject({ ok: false, error: { code: 'E_TIMEOUT' } });
        expect(Date.now() - started).toBeLessThan(3000);
      }
      await expectHealthy();
    });

    it('CPU spent past limits.cpuMs ends with E_CPU_LIMIT, before or after an await', async () => {
      const spec = fixtureSpec('infinite-loop-after-await.js', { limits: { timeoutMs: 5000, cpuMs: 150 } });
      const result = await h.run(spec, { afterTimer: true });
      expect(result).toMatchObject({ ok: false, error: { code: 'E_CPU_LIMIT' } });
      expect(result.ok || result.error.message).toContain('limits.cpuMs');
      expect(result.stats.runMs).toBeLessThan(2000);
      await expectHealthy();
    });

    it('a promise that never settles ends with E_TIMEOUT', async () => {
      const spec = fixtureSpec('never-settles.js', { limits: { timeoutMs: 250 } });
      expect(spec.code).toContain('new Promise(() => {')
      const result = await h.run(spec);
      expect(result).toMatchObject({ ok: false, error: { code: 'E_TIMEOUT' } });
      await expectHealthy();
    });

    it('a timer longer than the run is cut by limits.timeoutMs', async () => {
      const result = await h.run(fixtureSpec('long-timer.js', { limits: { timeoutMs: 200 } }));
      expect(result).toMatchObject({ ok: false, error: { code: 'E_TIMEOUT' } });
      await expectHealthy();
    });

    it('a heap bomb ends with E_MEMORY_LIMIT and the isolate is replaced', async () => {
      const spec = fixtureSpec('heap-bomb.js', { limits: { memoryMb: 32, timeoutMs: 10_000, cpuMs: 10_000 } });
      const result = await h.run(spec);
      expect(result).toMatchObject({ ok: false, error: { code: 'E_MEMORY_LIMIT' } });
      expect(result.ok || result.error.message).toContain('limits.memoryMb');
      await expectHealthy();
    });

    it('a 50 MB output is refused inside the isolate with E_OUTPUT_LIMIT', async () => {
      const spec = fixtureSpec('huge-output.js', { limits: { memoryMb: 256, outputKb: 256 } });
      expect(spec.code).toContain('50 * 1024 * 1024');
      const result = await h.run(spec);
      expect(result).toMatchObject({ ok: false, error: { code: 'E_OUTPUT_LIMIT' } });
      expect(result.ok || result.error.message).toContain('limits.outputKb (256 KB)');
      expect(result.stats.outputBytes).toBe(0);
      await expectHealthy();
    });

    it('an object output over limits.outputKb fails even with JSON.stringify and String.prototype patched', async () => {
      const spec = fixtureSpec('big-object-output.js', { limits: { outputKb: 16 } });
      for (const patch of [false, true]) {
        const result = await h.run(spec, { patch });
        expect(result).toMatchObject({ ok: false, error: { code: 'E_OUTPUT_LIMIT' } });
      }
      await expectHealthy();
    });

    it('a log flood is capped by limits.logKb; the rest is dropped and counted, the run completes', async () => {
      const spec = fixtureSpec('log-flood.js', { limits: { logKb: 8, timeoutMs: 10_000, cpuMs: 10_000 } });
      const result = await h.run(spec);
      expect(result).toMatchObject({ ok: true, output: { done: true } });
      const bytes = result.stats.logs.reduce((n, l) => n + l.message.length + (l.fields ? JSON.stringify(l.fields).length : 0), 0);
      expect(bytes).toBeLessThanOrEqual(8 * 1024);
      expect(result.stats.logs.length).toBeGreaterThan(10);
      expect(result.stats.logsDropped).toBeGreaterThan(900_000);
      await expectHealthy();
    });

    it('a timer flood is capped per run and cleared when the run ends', async () => {
      const result = await h.run(fixtureSpec('timer-flood.js', { limits: { timeoutMs: 10_000, cpuMs: 10_000 } }));
      expect(result).toMatchObject({ ok: true, output: { armed: 20000 } });
      await expectHealthy();
    });

    it('cancelling through the AbortSignal ends the run with E_DISPOSED', async () => {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      const result = await h.run(fixtureSpec('never-settles.js', { limits: { timeoutMs: 5000 } }), undefined, { signal: controller.signal });
      expect(result).toMatchObject({ ok: false, error: { code: 'E_DISPOSED' } });
      await expectHealthy();
    });
  });

  describe('isolation from the host', () => {
    it('process, require, constructor tricks and dynamic import find nothing', async () => {
      const result = await h.run(fixtureSpec('reach-for-host.js'));
      expect(result).toMatchObject({
        ok: true,
        output: {
          process: 'undefined',
          require: 'undefined',
          module: 'undefined',
          globalProcess: 'undefined',
          ctorProcess: 'ReferenceError',
          functionProcess: 'undefined',
          evalRequire: 'ReferenceError',
          bridgeGlobals: [],
          dynamicImport: 'rejected',
        },
      });
    });

    it('Error.prepareStackTrace sees no prelude function or receiver', async () => {
      const result = await h.run(fixtureSpec('prepare-stack-trace.js'));
      expect(result.ok).toBe(true);
      if (!result.ok) return;
      const output = result.output as { code: string; frames: number; leaked: unknown[] };
      expect(output.code).toBe('E_PERMISSION_DENIED');
      expect(output.frames).toBeGreaterThan(0);
      expect(output.leaked).toEqual([]);
      await expectHealthy();
    });

    it('walking globalThis and ctx finds no Reference, ExternalCopy or host object', async () => {
      const result = await h.run(fixtureSpec('find-reference.js'));
      expect(result.ok).toBe(true);
      if (!result.ok) return;
      const output = result.output as { visited: number; suspicious: string[]; callerLeak: string };
      expect(output.visited).toBeGreaterThan(100);
      expect(output.suspicious).toEqual([]);
      expect(output.callerLeak).toBe('none');
    });

    it('prototype pollution in one run is gone in the next fresh-context run', async () => {
      const spec = fixtureSpec('pollute-prototype.js');
      expect(await h.run(spec, { mode: 'pollute' })).toMatchObject({ ok: true, output: { polluted: 'yes' } });
      expect(await h.run(spec, { mode: 'check' })).toMatchObject({ ok: true, output: { polluted: null, map: [2, 4], leftover: null } });
    });

    it('WebAssembly is absent unless permissions.wasm', async () => {
      const result = await h.run(fixtureSpec('wasm-memory-bomb.js'));
      expect(result).toMatchObject({ ok: true, output: { wasm: false } });
    });

    it('an agent error ends with E_AGENT_THREW; a self-claimed code is not trusted', async () => {
      const thrown = await h.run(fixtureSpec('throws.js'));
      expect(thrown).toMatchObject({ ok: false, error: { code: 'E_AGENT_THREW', message: 'TypeError: boom' } });
      const faked = await h.run(fixtureSpec('fake-code.js'));
      expect(faked).toMatchObject({ ok: false, error: { code: 'E_AGENT_THREW' } });
      const atLoad = await h.run(fixtureSpec('throws-at-load.js'));
      expect(atLoad).toMatchObject({ ok: false, error: { code: 'E_AGENT_THREW' } });
      expect(atLoad.ok || atLoad.error.message).toContain('broken at load');
      await expectHealthy();
    });

    it('reuseContext keeps the agent global state between runs', async () => {
      const spec = fixtureSpec('counter.js', { pool: { reuseContext: true, prewarm: 1 } });
      const counts: number[] = [];
      for (let i = 0; i < 4; i++) {
        const result = await h.run(spec);
        expect(result.ok).toBe(true);
        if (result.ok) counts.push((result.output as { count: number }).count);
      }
      expect(Math.max(...counts)).toBeGreaterThanOrEqual(2);
      const fresh = fixtureSpec('counter.js', { name: 'counter-fresh' });
      for (let i = 0; i < 3; i++) expect(await h.run(fresh)).toMatchObject({ ok: true, output: { count: 1 } });
    });
  });

  describe('tools', () => {
    const tools = (rest: Parameters<typeof fixtureSpec>[1] = {}) => fixtureSpec('tools.js', rest);

    it('ctx has one shape whatever is granted (as in Deno): every tool is present, kv included', async () => {
      const everyKey = ['config', 'env', 'fetch', 'kv', 'log', 'readTextFile', 'signal', 'spawn', 'writeTextFile'];
      for (const spec of [tools(), tools({ permissions: { kv: true } })]) {
        expect(await h.run(spec, { op: 'has-kv' })).toMatchObject({ ok: true, output: { value: 'object' } });
        expect(await h.run(spec, { op: 'ctx-keys' })).toMatchObject({ ok: true, output: { value: everyKey } });
        expect(await h.run(spec, { op: 'kv-keys' })).toMatchObject({ ok: true, output: { value: ['delete', 'get', 'list', 'set'], frozen: true } });
      }
    });

    // Every ctx tool, called by a template granted nothing: the call throws E_PERMISSION_DENIED naming the manifest key
    // that would grant it, the run records the denial, and onDenial (what the runtime writes to the audit log) hears it.
    it.each([
      { tool: 'env.get', permission: 'env', target: 'GREETING' },
      { tool: 'fetch', permission: 'net', target: '127.0.0.1:9' },
      { tool: 'readTextFile', permission: 'read' },
      { tool: 'writeTextFile', permission: 'write' },
      { tool: 'spawn', permission: 'spawn', target: 'child' },
      { tool: 'kv.get', permission: 'kv', target: '' },
      { tool: 'kv.set', permission: 'kv', target: '' },
      { tool: 'kv.delete', permission: 'kv', target: '' },
      { tool: 'kv.list', permission: 'kv', target: '' },
    ])('ungranted $tool throws E_PERMISSION_DENIED naming permissions.$permission, recorded as a denial', async ({ tool, permission, target }) => {
      const heard = h.denials.length;
      const result = await h.run(tools(), { op: 'call', tool });
      expect(result).toMatchObject({ ok: true, output: { error: { code: 'E_PERMISSION_DENIED', name: 'NotCapable' } } });
      expect(h.denials.slice(heard)).toEqual([expect.objectContaining({ template: 'tools', permission, grantKey: `permissions.${permission}` })]);
      const message = result.ok ? (result.output as { error: { message: string } }).error.message : '';
      expect(message).toContain(`grant it in agent.json at permissions.${permission}`);
      expect(result.stats.denials).toEqual([target === undefined ? { permission, target: expect.any(String) } : { permission, target }]);
    });

    it('kv works when granted, is namespaced by tenant and enforces limits.kvKb', async () => {
      const spec = tools({ permissions: { kv: true }, limits: { kvKb: 1 } });
      expect(await h.run(spec, { op: 'kv', key: 'k', value: { a: 1 } }, { tenant: 'acme' })).toMatchObject({ ok: true, output: { value: { a: 1 }, keys: ['k'] } });
      expect(await h.run(spec, { op: 'kv-get', key: 'k' }, { tenant: 'other' })).toMatchObject({ ok: true, output: { value: null } });
      const over = await h.run(spec, { op: 'kv', key: 'big', value: 'x'.repeat(2048) }, { tenant: 'acme' });
      expect(over).toMatchObject({ ok: true, output: { error: { code: 'E_KV_QUOTA', name: 'QuotaExceededError' } } });
      const message = over.ok ? (over.output as { error: { message: string } }).error.message : '';
      expect(message).toContain('limits.kvKb (1 KB');
      expect(message).toContain('tools for tenant acme');
      expect(message).not.toMatch(/database/i);
      // The failed write left the namespace as it was.
      expect(await h.run(spec, { op: 'kv-get', key: 'big' }, { tenant: 'acme' })).toMatchObject({ ok: true, output: { value: null } });
      expect(await h.run(spec, { op: 'kv-delete', key: 'k' }, { tenant: 'acme' })).toMatchObject({ ok: true, output: { value: true } });
    });

    it('env.get reads allowlisted variables only; a denial is reported to onDenial and in stats', async () => {
      const spec = tools({ permissions: { env: ['GREETING'] } });
      expect(await h.run(spec, { op: 'env', name: 'GREETING' })).toMatchObject({ ok: true, output: { value: 'hello' } });
      const before = h.denials.length;
      const denied = await h.run(spec, { op: 'env', name: 'SECRET' });
      expect(denied).toMatchObject({ ok: true, output: { error: { code: 'E_PERMISSION_DENIED', name: 'NotCapable', message: 'Requires env access to "SECRET", grant it in agent.json at permissions.env' } } });
      expect(JSON.stringify(denied)).not.toContain('do-not-leak');
      expect(denied.stats.denials).toEqual([{ permission: 'env', target: 'SECRET' }]);
      expect(h.denials.slice(before)).toEqual([{ template: 'tools', tenant: 't1', permission: 'env', target: 'SECRET', grantKey: 'permissions.env' }]);
    });

    it('config is frozen; crypto, structuredClone work', async () => {
      expect(await h.run(tools({ config: { topN: 5 } }), { op: 'config' })).toMatchObject({ ok: true, output: { value: { topN: 5 }, frozen: true } });
      const random = await h.run(tools(), { op: 'random' });
      expect(random).toMatchObject({ ok: true });
      if (random.ok) expect((random.output as { value: unknown[] }).value[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    });

    it('an uncaught denial ends the run with E_PERMISSION_DENIED naming the host and manifest key', async () => {
      const result = await h.run(fixtureSpec('uncaught-denial.js'));
      expect(result).toMatchObject({ ok: false, error: { code: 'E_PERMISSION_DENIED', message: 'Requires net access to "evil.test:443", grant it in agent.json at permissions.net' } });
      expect(result.stats.denials).toEqual([{ permission: 'net', target: 'evil.test:443' }]);
    });

    describe('files', () => {
      let root: string;
      let outside: string;
      beforeAll(() => {
        const base = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'af-sandbox-fs-')));
        root = path.join(base, 'template');
        outside = path.join(base, 'outside');
        mkdirSync(path.join(root, 'data'), { recursive: true });
        mkdirSync(path.join(root, 'out'), { recursive: true });
        mkdirSync(outside);
        writeFileSync(path.join(root, 'data', 'ok.txt'), 'inside');
        writeFileSync(path.join(outside, 'secret.txt'), 'secret');
        writeFileSync(path.join(outside, 'target.txt'), 'original');
        symlinkSync(path.join(outside, 'secret.txt'), path.join(root, 'data', 'escape.txt'));
        symlinkSync(path.join(outside, 'target.txt'), path.join(root, 'out', 'link.txt'));
        symlinkSync(outside, path.join(root, 'out', 'linkdir'));
      });
      const spec = () => fixtureSpec('fs-tools.js', { dir: root, permissions: { read: ['./data'], write: ['./out'] } });

      it('reads and writes inside the grants', async () => {
        expect(await h.run(spec(), { op: 'read', path: 'data/ok.txt' })).toMatchObject({ ok: true, output: { text: 'inside' } });
        expect(await h.run(spec(), { op: 'write', path: 'out/new.txt', text: 'made' })).toMatchObject({ ok: true });
        expect(readFileSync(path.join(root, 'out', 'new.txt'), 'utf8')).toBe('made');
      });

      it('denies traversal, absolute paths and symlink escapes when reading', async () => {
        for (const p of ['../outside/secret.txt', 'data/../../outside/secret.txt', '/etc/passwd', 'data/escape.txt', 'out/new.txt']) {
          const result = await h.run(spec(), { op: 'read', path: p });
          expect(result, p).toMatchObject({ ok: false, error: { code: 'E_PERMISSION_DENIED' } });
          expect(result.ok || result.error.message).toContain('permissions.read');
        }
      });

      it('denies traversal and symlink escapes when writing; nothing outside changes', async () => {
        for (const p of ['out/../../outside/pwn.txt', '../outside/pwn.txt', 'out/link.txt', 'out/linkdir/pwn.txt', 'data/new.txt']) {
          const result = await h.run(spec(), { op: 'write', path: p, text: 'pwned' });
          expect(result, p).toMatchObject({ ok: false, error: { code: 'E_PERMISSION_DENIED' } });
        }
        expect(existsSync(path.join(outside, 'pwn.txt'))).toBe(false);
        expect(readFileSync(path.join(outside, 'target.txt'), 'utf8')).toBe('original');
        expect(existsSync(path.join(root, 'data', 'new.txt'))).toBe(false);
        await expectHealthy();
      });
    });

    describe('fetch', () => {
      let allowed: http.Server;
      let other: http.Server;
      let otherHits = 0;
      let allowedPort = 0;
      let otherPort = 0;
      beforeAll(async () => {
        other = http.createServer((_req, res) => {
          otherHits++;
          res.end('stolen');
        });
        await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
        otherPort = (other.address() as AddressInfo).port;
        allowed = http.createServer((req, res) => {
          if (req.url === '/redirect-out') {
            res.writeHead(302, { location: `http://127.0.0.1:${otherPort}/steal` });
            res.end();
          } else if (req.url === '/redirect-in') {
            res.writeHead(302, { location: '/ok' });
            res.end();
          } else if (req.url === '/big') {
            res.end('z'.repeat(2 * 1024 * 1024));
          } else {
            res.writeHead(200, { 'content-type': 'text/plain' });
            res.end('hello');
          }
        });
        await new Promise<void>((r) => allowed.listen(0, '127.0.0.1', r));
        allowedPort = (allowed.address() as AddressInfo).port;
      });
      afterAll(() => {
        allowed.close();
        other.close();
      });
      const spec = () => fixtureSpec('fetch-tool.js', { permissions: { net: [`127.0.0.1:${allowedPort}`] } });

      it('fetches an allowed host and follows a redirect that stays allowed', async () => {
        expect(await h.run(spec(), { url: `http://127.0.0.1:${allowedPort}/ok` })).toMatchObject({ ok: true, output: { status: 200, body: 'hello', type: 'text/plain' } });
        expect(await h.run(spec(), { url: `http://127.0.0.1:${allowedPort}/redirect-in` })).toMatchObject({ ok: true, output: { status: 200, body: 'hello', redirected: true } });
      });

      it('re-checks each redirect hop: a 302 to another port is denied and never reached', async () => {
        const result = await h.run(spec(), { url: `http://127.0.0.1:${allowedPort}/redirect-out` });
        expect(result).toMatchObject({ ok: false, error: { code: 'E_PERMISSION_DENIED', message: `Requires net access to "127.0.0.1:${otherPort}", grant it in agent.json at permissions.net` } });
        expect(otherHits).toBe(0);
      });

      it('denies ungranted hosts and non-http schemes', async () => {
        const none = fixtureSpec('fetch-tool.js');
        expect(await h.run(none, { url: `http://127.0.0.1:${allowedPort}/ok` })).toMatchObject({ ok: false, error: { code: 'E_PERMISSION_DENIED' } });
        expect(await h.run(spec(), { url: 'file:///etc/passwd' })).toMatchObject({ ok: false, error: { code: 'E_PERMISSION_DENIED' } });
        expect(otherHits).toBe(0);
      });
    });

    describe('spawn', () => {
      beforeAll(() => {
        h.specs.set('spawn-chain', fixtureSpec('spawn-chain.js', { permissions: { spawn: ['spawn-chain'] }, limits: { spawnDepth: 3 } }));
        h.specs.set('leaf', fixtureSpec('leaf.js'));
      });

      it('spawns a granted template and gets its output', async () => {
        const result = await h.run(fixtureSpec('tools.js', { permissions: { spawn: ['leaf'] } }), { op: 'spawn', name: 'leaf', input: { i: 7 } });
        expect(result).toMatchObject({ ok: true, output: { value: { leaf: 7 } } });
        expect(result.stats.tools.spawn).toBe(1);
      });

      it('denies an ungranted template', async () => {
        const result = await h.run(fixtureSpec('tools.js'), { op: 'spawn', name: 'leaf', input: {} });
        expect(result).toMatchObject({ ok: true, output: { error: { code: 'E_PERMISSION_DENIED', message: 'Requires spawn access to "leaf", grant it in agent.json at permissions.spawn' } } });
      });

      it('a chain up to limits.spawnDepth works; one level deeper ends with E_SPAWN_LIMIT', async () => {
        const chain = h.specs.get('spawn-chain')!;
        expect(await h.run(chain, { left: 3 })).toMatchObject({ ok: true, output: { depth: 3 } });
        const deep = await h.run(chain, { left: 4 });
        expect(deep).toMatchObject({ ok: false, error: { code: 'E_SPAWN_LIMIT' } });
        expect(deep.ok || deep.error.message).toContain('limits.spawnDepth');
      });

      it('more spawns per run than limits.spawnFanOut end with E_SPAWN_LIMIT', async () => {
        const fan = fixtureSpec('spawn-fanout.js', { permissions: { spawn: ['leaf'] }, limits: { spawnFanOut: 2 } });
        expect(await h.run(fan, { count: 2 })).toMatchObject({ ok: true, output: [{ leaf: 0 }, { leaf: 1 }] });
        const over = await h.run(fan, { count: 3 });
        expect(over).toMatchObject({ ok: false, error: { code: 'E_SPAWN_LIMIT' } });
        expect(over.ok || over.error.message).toContain('limits.spawnFanOut');
        await expectHealthy();
      });
    });
  });
});
