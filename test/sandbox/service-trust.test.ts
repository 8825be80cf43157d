// The supervisor does not trust what a host says about a kv or spawn call: a host that forges namespace, tenant,
// depth, quota or run id (test/fixtures/sandbox/forging-host.mjs) gets answers derived from the supervisor's own
// record of the run and its spec; the grants it claims a run used are kept only where the template granted them.
// Also the kv quota code and its exit status.
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { exitStatusFor } from '../../cli/exit-status.js';
import { FactoryError } from '../../core/errors.js';
import { createFactory, createMemoryRunSink } from '../../runtime/index.js';
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

  it('kv writes land in the run’s own namespace whatever namespace and quota the host claims', async () => {
    const replies = await forge(forger, [
      { op: 'kv', run: 'self', call: { method: 'set', key: 'k', json: '"pwned"', ns: { template: 'victim', tenant: 'acme' }, quotaBytes: 1e9 } },
      { op: 'kv', run: 'self', call: { method: 'set', key: 'big', json: JSON.stringify('x'.repeat(2048)), ns: { template: 'victim', tenant: 'acme' }, quotaBytes: 1e9 } },
    ]);
    expect(replies[0]).toEqual({ ok: true, value: '' });
    expect(await kv.get({ template: 'forger', tenant: 't1' }, 'k')).toBe('"pwned"');
    expect(await kv.get({ template: 'victim', tenant: 'acme' }, 'k')).toBeUndefined();
    // The quota is the spec's limits.kvKb (1 KB), not the 1 GB the host asked for.
    expect(replies[1]).toMatchObject({ ok: false, code: 'E_KV_QUOTA' });
    expect(await kv.list({ template: 'victim', tenant: 'acme' }, {})).toEqual([]);
  });

  it('kv is refused for a template without permissions.kv, and audited', async () => {
    const replies = await forge(noKv, [{ op: 'kv', run: 'self', call: { method: 'get', key: 'k', ns: { template: 'forger', tenant: 't1' } } }]);
    expect(replies[0]).toMatchObject({ ok: false, code: 'E_PERMISSION_DENIED' });
    expect(denials).toEqual([{ template: 'no-kv', permission: 'kv', target: '', grantKey: 'permissions.kv' }]);
  });

  it('spawn is checked against the run’s own allowlist, depth and fan-out; tenant and depth come from the record', async () => {
    const replies = await forge(
      forger,
      [
        { op: 'spawn', run: 'self', name: 'secret', inputJson: '{}', tenant: 'acme', env: 'prod', depth: 0 },
        { op: 'spawn', run: 'self', name: 'leaf', inputJson: '{"a":1}', tenant: 'acme', env: 'prod', depth: -5 },
        { op: 'spawn', run: 'self', name: 'leaf', inputJson: '{}', tenant: 'acme', env: 'prod', depth: -5 },
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
    const replies = await forge(forger, [{ op: 'spawn', run: 'self', name: 'leaf', inputJson: '{}', depth: 0 }], { depth: 2 });
    expect(replies[0]).toMatchObject({ ok: false, code: 'E_SPAWN_LIMIT' });
    expect(spawns).toEqual([]);
  });

  it('a call naming a run that is not in flight on that host, or no run, is refused', async () => {
    const replies = await forge(forger, [
      { op: 'kv', run: 987654, call: { method: 'get', key: 'k' } },
      { op: 'kv', call: { method: 'get', key: 'k' }, ns: { template: 'forger', tenant: 't1' } },
      { op: 'spawn', run: 987654, name: 'leaf', inputJson: '{}' },
    ]);
    expect(replies.map((r) => r.code)).toEqual(['E_DISPOSED', 'E_DISPOSED', 'E_DISPOSED']);
    expect(spawns).toEqual([]);
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
  it('are recorded only where the template granted them', async () => {
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
      expect(sink.records().at(-1)?.grantsUsed).toEqual(['kv', 'env:REGION']);
      await factory.run('claims', { grantsUsed: 'everything' });
      expect(sink.records().at(-1)?.grantsUsed).toEqual([]);
    } finally {
      await factory.close();
      project.remove();
    }
  });
});
