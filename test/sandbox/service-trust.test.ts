// The supervisor does not trust what a host says about a tool call: a host that forges namespace, tenant, depth,
// quota, grants, folder or run id (test/fixtures/sandbox/forging-host.mjs) gets answers derived from the supervisor's
// own record of the run and its spec, which also does the file and network I/O itself; the grants it claims a run
// used are kept only for env (the one capability a host holds), and it cannot hide a denial. A host holds the env
// values of the run it is running only. Also the kv quota code and its exit status.
import { mkdirSync, mkdtempSync, readFileSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { exitStatusFor } from '../../cli/exit-status.js';
import { FactoryError } from '../../core/errors.js';
import { createFactory, createMemoryRunSink } from '../../runtime/index.js';
import { type CountingServer, listenCounting } from '../helpers/counting-server.js';
import { createProject, simpleTemplate } from '../helpers/project.js';
import { createMemoryKvStore, createSandbox, type DenialEvent, type Sandbox, type SpawnRequest } from '../../sandbox/index.js';
import { Supervisor } from '../../sandbox/supervisor.js';
import { FIXTURES, makeSpec } from './helpers.js';

interface Reply {
  ok: boolean;
  value?: unknown;
  code?: string;
  message?: string;
}

describe('service calls from a forging host (process isolation)', () => {
  const kv = createMemoryKvStore();
  const spawns: SpawnRequest[] = [];
  const denials: DenialEvent[] = [];
  let sandbox: Sandbox;

  beforeAll(() => {
    Supervisor.testHostEntry = path.join(FIXTURES, 'forging-host.mjs');
    try {
      sandbox = createSandbox({
        hosts: 1,
        services: {
          kv,
          spawn: async (request) => {
            spawns.push({ ...request, signal: undefined });
            return { spawned: request.name };
          },
          onDenial: (denial) => denials.push(denial),
        },
      });
    } finally {
      Supervisor.testHostEntry = undefined;
    }
  });
  afterAll(() => sandbox.close());
  afterEach(() => {
    spawns.length = 0;
    denials.length = 0;
    kv.clear();
  });

  const forger = makeSpec({
    name: 'forger',
    source: 'export default () => 1;',
    permissions: { kv: true, spawn: ['leaf'] },
    limits: { kvKb: 1, spawnDepth: 2, spawnFanOut: 1 },
  });
  const noKv = makeSpec({ name: 'no-kv', source: 'export default () => 2;' });

  async function forge(spec: typeof forger, requests: unknown[], opts: { tenant?: string; depth?: number } = {}): Promise<Reply[]> {
    const slot = sandbox.reserve(spec);
    try {
      const result = await sandbox.run(slot, { requests }, { tenant: opts.tenant ?? 't1', env: 'dev', depth: opts.depth ?? 0 });
      if (!result.ok) throw new Error(`run failed: ${result.error.code} ${result.error.message}`);
      return result.output as Reply[];
    } finally {
      sandbox.release(slot);
    }
  }

  const tool = (name: string, args: unknown, extra: Record<string, unknown> = {}) => ({ op: 'tool', run: 'self', tool: name, args: JSON.stringify(args), ...extra });

  it('kv writes land in the run’s own namespace whatever namespace and quota the host claims', async () => {
    const replies = await forge(forger, [
      tool('kv.set', ['k', '"pwned"'], { ns: { template: 'victim', tenant: 'acme' }, quotaBytes: 1e9 }),
      tool('kv.set', ['big', JSON.stringify('x'.repeat(2048))], { ns: { template: 'victim', tenant: 'acme' }, quotaBytes: 1e9 }),
    ]);
    expect(replies[0]).toEqual({ ok: true, value: '' });
    expect(await kv.get({ template: 'forger', tenant: 't1' }, 'k')).toBe('"pwned"');
    expect(await kv.get({ template: 'victim', tenant: 'acme' }, 'k')).toBeUndefined();
    // The quota is the spec's limits.kvKb (1 KB), not the 1 GB the host asked for.
    expect(replies[1]).toMatchObject({ ok: false, code: 'E_KV_QUOTA' });
    expect(await kv.list({ template: 'victim', tenant: 'acme' }, {})).toEqual([]);
  });

  it('kv is refused for a template without permissions.kv, and audited for the tenant of the run, not the one the host names', async () => {
    const replies = await forge(noKv, [tool('kv.get', ['k'], { ns: { template: 'forger', tenant: 't1' }, permissions: { kv: true } })], { tenant: 'globex' });
    expect(replies[0]).toMatchObject({ ok: false, code: 'E_PERMISSION_DENIED' });
    expect(denials).toEqual([{ template: 'no-kv', tenant: 'globex', permission: 'kv', target: '', grantKey: 'permissions.kv' }]);
  });

  it('spawn is checked against the run’s own allowlist, depth and fan-out; tenant and depth come from the record', async () => {
    const replies = await forge(
      forger,
      [
        tool('spawn', ['secret', '{}'], { tenant: 'acme', env: 'prod', depth: 0 }),
        tool('spawn', ['leaf', '{"a":1}'], { tenant: 'acme', env: 'prod', depth: -5 }),
        tool('spawn', ['leaf', '{}'], { tenant: 'acme', env: 'prod', depth: -5 }),
      ],
      { tenant: 't1', depth: 1 },
    );
    expect(replies[0]).toMatchObject({ ok: false, code: 'E_PERMISSION_DENIED' });
    expect(denials).toMatchObject([{ template: 'forger', permission: 'spawn', target: 'secret' }]);
    expect(replies[1]).toEqual({ ok: true, value: JSON.stringify({ spawned: 'leaf' }) });
    expect(spawns).toEqual([{ name: 'leaf', input: { a: 1 }, tenant: 't1', env: 'dev', depth: 2, signal: undefined }]);
    // limits.spawnFanOut is 1: the supervisor counts this run's spawns itself.
    expect(replies[2]).toMatchObject({ ok: false, code: 'E_SPAWN_LIMIT' });
  });

  it('spawn past limits.spawnDepth is refused whatever depth the host claims', async () => {
    const replies = await forge(forger, [tool('spawn', ['leaf', '{}'], { depth: 0 })], { depth: 2 });
    expect(replies[0]).toMatchObject({ ok: false, code: 'E_SPAWN_LIMIT' });
    expect(spawns).toEqual([]);
  });

  it('a call naming a run that is not in flight on that host, or no run, is refused', async () => {
    const replies = await forge(forger, [
      tool('kv.get', ['k'], { run: 987654 }),
      { op: 'tool', tool: 'kv.get', args: '["k"]', ns: { template: 'forger', tenant: 't1' } },
      tool('spawn', ['leaf', '{}'], { run: 987654 }),
    ]);
    expect(replies.map((r) => r.code)).toEqual(['E_DISPOSED', 'E_DISPOSED', 'E_DISPOSED']);
    expect(spawns).toEqual([]);
  });

  describe('file and network tools, served by the supervisor', () => {
    let project: string;
    let keyText: string;
    let server: CountingServer;
    beforeAll(async () => {
      project = mkdtempSync(path.join(os.tmpdir(), 'af-forge-'));
      keyText = `PRIVATE KEY ${Math.random()}`;
      mkdirSync(path.join(project, '.af', 'keys'), { recursive: true });
      writeFileSync(path.join(project, '.af', 'keys', 'signing.key'), keyText);
      mkdirSync(path.join(project, 'data'));
      writeFileSync(path.join(project, 'data', 'ok.txt'), 'granted text');
      server = await listenCounting();
    });
    afterAll(async () => {
      await server.close();
      rmSync(project, { recursive: true, force: true });
    });

    it('a host cannot widen a run’s read, write or net grants: the supervisor checks against its own spec, and audits', async () => {
      const granted = makeSpec({ name: 'granted', dir: project, source: 'export default () => 3;', permissions: { read: ['./data'] } });
      const forgedSpec = { dir: '/', permissions: { read: ['/'], write: ['/'], net: ['*'] }, template: 'other', tenant: 'acme' };
      server.reset();
      const result = await sandbox.run(sandbox.reserve(granted), {
        requests: [
          tool('readTextFile', ['./data/ok.txt']),
          tool('readTextFile', ['../.af/keys/signing.key'], forgedSpec),
          tool('readTextFile', [path.join(project, '.af', 'keys', 'signing.key')], forgedSpec),
          tool('writeTextFile', ['./data/pwned.txt', 'pwned'], forgedSpec),
          tool('fetch', { url: `http://127.0.0.1:${server.port}/`, method: 'GET', headers: [], body: null }, forgedSpec),
        ],
      }, { tenant: 't1', env: 'dev' });
      expect(result.ok).toBe(true);
      const replies = (result as { output: Reply[] }).output;
      expect(replies[0]).toEqual({ ok: true, value: 'granted text' });
      expect(replies.slice(1).map((r) => r.code)).toEqual(['E_PERMISSION_DENIED', 'E_PERMISSION_DENIED', 'E_PERMISSION_DENIED', 'E_PERMISSION_DENIED']);
      expect(JSON.stringify(replies)).not.toContain(keyText);
      expect(existsSync(path.join(project, 'data', 'pwned.txt'))).toBe(false);
      expect(server.connections).toBe(0);
      expect(denials.map((d) => [d.template, d.permission])).toEqual([
        ['granted', 'read'],
        ['granted', 'read'],
        ['granted', 'write'],
        ['granted', 'net'],
      ]);
      // The host reported no denial and no grant use; the run's stats carry the supervisor's own.
      expect(result.stats.denials.map((d) => d.permission)).toEqual(['read', 'read', 'write', 'net']);
      expect(result.stats.grantsUsed).toEqual(['read:./data']);
      expect(readFileSync(path.join(project, 'data', 'ok.txt'), 'utf8')).toBe('granted text');
    });

    it('a forged call with arguments of the wrong shape is a usage error, not a crash', async () => {
      const granted = makeSpec({ name: 'granted', dir: project, source: 'export default () => 3;', permissions: { read: ['./data'], kv: true } });
      const replies = await forge(granted, [
        { op: 'tool', run: 'self', tool: 'readTextFile', args: 'not json' },
        { op: 'tool', run: 'self', tool: 'readTextFile', args: { path: './data/ok.txt' } },
        tool('kv.set', [1, 2]),
        tool('fetch', 'http://127.0.0.1/'),
        tool('exec', ['/bin/sh']),
      ]);
      expect(replies.map((r) => r.code)).toEqual(['E_USAGE', 'E_INTERNAL', 'E_USAGE', 'E_USAGE', 'E_INTERNAL']);
    });
  });
});

describe('env values in a host (process isolation)', () => {
  it('a host holds only the allowlisted values of the run it is running, sent with that run', async () => {
    Supervisor.testHostEntry = path.join(FIXTURES, 'forging-host.mjs');
    let sandbox: Sandbox;
    try {
      sandbox = createSandbox({ hosts: 1, processEnv: { REGION: 'eu-west-9', SECRET: 'hunter2-secret' }, services: { kv: createMemoryKvStore(), spawn: async () => undefined } });
    } finally {
      Supervisor.testHostEntry = undefined;
    }
    const withEnv = makeSpec({ name: 'with-env', source: 'export default () => 1;', permissions: { env: ['REGION'] } });
    const plain = makeSpec({ name: 'plain', source: 'export default () => 2;' });
    const inspect = async (spec: typeof plain) => {
      const result = await sandbox.run(sandbox.reserve(spec), { inspect: true }, { tenant: 't', env: 'dev' });
      if (!result.ok) throw new Error(result.error.message);
      return result.output as { received: Array<Record<string, unknown>>; env: Record<string, string> };
    };
    try {
      sandbox.register(withEnv);
      const seen = await inspect(plain);
      // Registered on this host, but no run of it yet: its value is not here.
      expect(seen.received.some((m) => m.t === 'register' && (m.spec as { name: string }).name === 'with-env')).toBe(true);
      expect(JSON.stringify(seen)).not.toContain('eu-west-9');
      expect(seen.received.find((m) => m.t === 'run')).not.toHaveProperty('envValues');
      const during = await inspect(withEnv);
      expect(during.received.filter((m) => m.t === 'run').at(-1)?.envValues).toEqual({ REGION: 'eu-west-9' });
      expect(JSON.stringify(during)).not.toContain('hunter2-secret');
      // The host's own environment is scrubbed: no value of the calling process is in it.
      for (const value of Object.values(during.env)) expect(value === 'hunter2-secret' || value === 'eu-west-9').toBe(false);
      expect(Object.keys(during.env).every((key) => ['PATH', 'TZ', 'LANG'].includes(key))).toBe(true);
    } finally {
      await sandbox!.close();
    }
  });
});

describe('E_KV_QUOTA', () => {
  it('says the kv data would exceed limits.kvKb and what to do, and maps to exit status 1', () => {
    const error = new FactoryError('E_KV_QUOTA');
    expect(error.message).toContain('limits.kvKb');
    expect(error.message).toMatch(/delete keys|raise limits\.kvKb/);
    expect(error.message).not.toMatch(/database/i);
    expect(exitStatusFor('E_KV_QUOTA')).toBe(1);
  });
});

describe('grants a forging host says a run used', () => {
  it('are recorded only for env, where the template granted it: every other grant use is the supervisor’s record', async () => {
    const project = createProject({ ...simpleTemplate('claims', { permissions: { kv: true, env: ['REGION'] } }) });
    const sink = createMemoryRunSink();
    Supervisor.testHostEntry = path.join(FIXTURES, 'forging-host.mjs');
    let factory;
    try {
      factory = await createFactory({ root: project.root, hosts: 1, store: false, runSink: sink });
    } finally {
      Supervisor.testHostEntry = undefined;
    }
    try {
      await factory.run('claims', { grantsUsed: ['kv', 'env:REGION', 'env:SECRET', 'net:*', 'read:/', 42, null] });
      // 'kv' is granted, but the run made no kv call: the host's word for it does not count.
      expect(sink.records().at(-1)?.grantsUsed).toEqual(['env:REGION']);
      await factory.run('claims', { grantsUsed: 'everything' });
      expect(sink.records().at(-1)?.grantsUsed).toEqual([]);
    } finally {
      await factory.close();
      project.remove();
    }
  });
});
