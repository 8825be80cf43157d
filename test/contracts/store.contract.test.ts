// The store contract: what the runtime, the learner, the API and the CLI rely on from the store's public interface
// (runs, run queries, versions, suggestions, rollouts, the audit log, tenants and API keys, learner models, prune),
// run against every backend in STORES (test/contracts/implementations). Only public methods: nothing SQLite-specific.
// Its kv, trust data and run writer run their own contracts (kv-store, trust-store, run-sink) from the same table.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ManualClock } from '../../core/clock.js';
import type { Suggestion } from '../../core/suggestion.js';
import type { Store } from '../../store/index.js';
import { runRecord } from '../store/helpers.js';
import { contractClock, STORES, type StoreFixture } from './implementations.js';

const T0 = 1_700_000_000_000;

/** Every item of a sync or async iterable. */
async function collect<T>(items: Iterable<T> | AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

function suggestion(id: string, overrides: Partial<Suggestion> = {}): Suggestion {
  return {
    id,
    kind: 'right-sizing',
    template: 'hello',
    tenant: 'acme',
    baseVersion: '1.0.0',
    baseDigest: 'd'.repeat(64),
    patch: [{ op: 'replace', path: '/limits/memoryMb', value: 64 }],
    evidence: { runs: 120 },
    expectedImpact: { summary: 'less memory' },
    confidence: 0.8,
    state: 'open',
    createdAt: T0,
    evidenceKey: `key-${id}`,
    ...overrides,
  };
}

describe.each(STORES)('Store: $name', ({ open }) => {
  let fixture: StoreFixture;
  let store: Store;
  let clock: ManualClock;
  beforeEach(async () => {
    clock = contractClock();
    fixture = await open(clock);
    store = fixture.store;
  });
  afterEach(() => fixture.close());

  /** Writes records through the store's run writer and waits until they are durable. */
  async function record(...records: ReturnType<typeof runRecord>[]): Promise<void> {
    for (const r of records) store.runs.write(r);
    await store.runs.flush();
  }

  describe('runs', () => {
    it('reads back every field of a record, and counts them', async () => {
      const failed = runRecord(1, { outcome: 'error', errorCode: 'E_TIMEOUT', denials: [{ permission: 'net', target: 'x:1' }], grantsUsed: ['kv'], parentId: 'p', depth: 1 });
      await record(runRecord(0), failed);
      expect(await store.queries.get(failed.id)).toEqual(failed);
      expect(await store.queries.get('run-99999999')).toBeUndefined();
      expect(await store.queries.count()).toBe(2);
    });

    it('lists newest first under every combination of filters, and honours the limit', async () => {
      const records = Array.from({ length: 24 }, (_, i) =>
        runRecord(i, { template: i % 2 ? 'hello' : 'other', tenant: i % 3 ? 'acme' : 'globex', outcome: i % 4 ? 'ok' : 'error', ...(i % 4 ? {} : { errorCode: 'E_TIMEOUT' as const }) }),
      );
      await record(...records);
      const ids = (list: ReturnType<typeof runRecord>[]) => list.map((r) => r.id);
      const newestFirst = [...records].reverse();
      expect(ids(await store.queries.list())).toEqual(ids(newestFirst));
      for (const template of [undefined, 'hello']) {
        for (const tenant of [undefined, 'acme']) {
          for (const outcome of [undefined, 'error'] as const) {
            const expected = newestFirst.filter((r) => (!template || r.template === template) && (!tenant || r.tenant === tenant) && (!outcome || r.outcome === outcome));
            const filter = { ...(template ? { template } : {}), ...(tenant ? { tenant } : {}), ...(outcome ? { outcome } : {}) };
            expect(ids(await store.queries.list(filter)), JSON.stringify(filter)).toEqual(ids(expected));
            expect(ids(await collect(store.queries.iterate(filter))), JSON.stringify(filter)).toEqual(ids([...expected].reverse()));
          }
        }
      }
      // An empty value means any, as an empty query parameter does.
      expect(await store.queries.list({ template: '', tenant: '' })).toHaveLength(24);
      expect(ids(await store.queries.list({ since: T0 + 5, until: T0 + 7 }))).toEqual(['run-00000007', 'run-00000006', 'run-00000005']);
      expect(ids(await store.queries.list({ template: 'hello', limit: 2 }))).toEqual(['run-00000023', 'run-00000021']);
    });

    it('gives per-template statistics: runs, errors by code and percentiles', async () => {
      await record(
        ...Array.from({ length: 10 }, (_, i) => runRecord(i, { runMs: i + 1 })),
        runRecord(10, { template: 'other', outcome: 'error', errorCode: 'E_TIMEOUT' }),
        runRecord(11, { template: 'other', outcome: 'error' }),
      );
      const stats = await store.queries.stats();
      expect(stats.map((s) => s.template)).toEqual(['hello', 'other']);
      expect(stats[0]).toMatchObject({ runs: 10, errors: 0, errorRate: 0, runMs: { p50: 5, p95: 10, p99: 10 } });
      expect(stats[1]).toMatchObject({ runs: 2, errors: 2, errorRate: 1, errorsByCode: { E_TIMEOUT: 1, E_INTERNAL: 1 } });
      expect((await store.queries.stats({ template: 'other' })).map((s) => s.template)).toEqual(['other']);
    });

    it('walks runs in the order they were written, after a place and up to it, whatever their start times', async () => {
      expect(await store.queries.maxSeq()).toBe(0);
      await record(runRecord(5), runRecord(1, { template: 'other' }), runRecord(3));
      const first = await store.queries.after(0);
      expect(first.map((entry) => entry.run.id)).toEqual(['run-00000005', 'run-00000001', 'run-00000003']);
      expect(await store.queries.maxSeq()).toBe(first[2]?.seq);
      expect((await store.queries.after(first[0]!.seq, { template: 'hello' })).map((entry) => entry.run.id)).toEqual(['run-00000003']);
      expect((await store.queries.upTo(first[1]!.seq, { limit: 1 })).map((entry) => entry.run.id)).toEqual(['run-00000001']);
      expect((await store.queries.upTo(await store.queries.maxSeq())).map((entry) => entry.run.id)).toEqual(['run-00000005', 'run-00000001', 'run-00000003']);
      await record(runRecord(9));
      expect((await store.queries.after(first[2]!.seq)).map((entry) => entry.run.id)).toEqual(['run-00000009']);
    });

    it('finds a run by the start or end of its id, and says what is wrong otherwise', async () => {
      await record(runRecord(0, { id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b' }), runRecord(1, { id: '0190a1b2-ffff-7e5f-8a9b-00000000beef' }));
      expect(await store.queries.resolveId('4a5b')).toBe('0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b');
      expect(await store.queries.resolveId(' 0190A1B2-FFFF ')).toBe('0190a1b2-ffff-7e5f-8a9b-00000000beef');
      await expect(Promise.resolve().then(() => store.queries.resolveId('0190a1b2'))).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringContaining('matches 2 runs') });
      await expect(Promise.resolve().then(() => store.queries.resolveId('dead'))).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
      await expect(Promise.resolve().then(() => store.queries.resolveId('zz'))).rejects.toMatchObject({ code: 'E_USAGE' });
    });

    it('keeps a failed run’s capture and the runs it spawned', async () => {
      const capture = { input: '{"a":1}', inputTruncated: false, outputTruncated: false, errorMessage: 'boom', logs: '[]', logsTruncated: false, maxBytes: 4096 };
      await record(runRecord(1, { outcome: 'error', errorCode: 'E_AGENT_ERROR', capture }), runRecord(2, { parentId: 'run-00000001', depth: 1 }), runRecord(3, { parentId: 'run-00000001', depth: 1 }));
      expect(await store.queries.capture('run-00000001')).toEqual({ runId: 'run-00000001', startedAt: T0 + 1, ...capture });
      expect(await store.queries.capture('run-00000002')).toBeUndefined();
      expect((await store.queries.children('run-00000001')).map((r) => r.id)).toEqual(['run-00000002', 'run-00000003']);
    });

    it('prunes runs older than a duration measured on its clock, and audits it', async () => {
      clock.set(T0 + 100);
      await record(...Array.from({ length: 100 }, (_, i) => runRecord(i)));
      expect(await store.prune(50)).toBe(50);
      expect(await store.queries.count()).toBe(50);
      expect((await store.audit.list({ type: 'store.pruned' }))[0]).toMatchObject({ at: T0 + 100, data: { before: new Date(T0 + 50).toISOString(), deleted: 50 } });
    });
  });

  describe('template versions', () => {
    const version = { name: 'hello', version: '1.0.0', digest: 'a'.repeat(64), manifest: { name: 'hello' }, sources: { 'main.ts': 'f'.repeat(64) }, bundle: 'code', manifestFile: '{"name":"hello"}\n' };

    it('records each digest once, fills in a signature later, and lists versions oldest first with the time of its clock', async () => {
      await store.versions.record(version);
      clock.advance(10);
      await store.versions.record({ ...version, version: '1.1.0', digest: 'b'.repeat(64) });
      await store.versions.record({ ...version, signature: { keyId: 'k' } });
      expect(await store.versions.get('hello', '1.0.0')).toEqual({ ...version, signature: { keyId: 'k' }, recordedAt: T0 });
      expect(await store.versions.byDigest('hello', 'b'.repeat(64))).toMatchObject({ version: '1.1.0', recordedAt: T0 + 10 });
      expect(await store.versions.list('hello')).toEqual([
        { version: '1.0.0', digest: 'a'.repeat(64), signed: true, recordedAt: T0 },
        { version: '1.1.0', digest: 'b'.repeat(64), signed: false, recordedAt: T0 + 10 },
      ]);
      expect(await store.versions.get('hello', '9.9.9')).toBeUndefined();
      expect(await store.versions.list('nobody')).toEqual([]);
    });
  });

  describe('suggestions', () => {
    it('lists newest first under each filter, a suggestion for every tenant in each tenant’s list', async () => {
      await store.suggestions.add(suggestion('s1', { createdAt: T0 + 1 }));
      await store.suggestions.add(suggestion('s2', { createdAt: T0 + 2, kind: 'least-privilege', tenant: '*' }));
      await store.suggestions.add(suggestion('s3', { createdAt: T0 + 3, template: 'other', tenant: 'globex' }));
      const ids = (list: Suggestion[]) => list.map((s) => s.id);
      expect(await store.suggestions.get('s1')).toEqual(suggestion('s1', { createdAt: T0 + 1 }));
      expect(ids(await store.suggestions.list())).toEqual(['s3', 's2', 's1']);
      expect(ids(await store.suggestions.list({ template: 'hello' }))).toEqual(['s2', 's1']);
      expect(ids(await store.suggestions.list({ tenant: 'globex' }))).toEqual(['s3', 's2']);
      expect(ids(await store.suggestions.list({ kind: 'least-privilege' }))).toEqual(['s2']);
      expect(ids(await store.suggestions.list({ state: 'open', limit: 1 }))).toEqual(['s3']);
      expect(ids(await store.suggestions.history('hello', 'right-sizing'))).toEqual(['s1']);
    });

    it('records decisions, withdraws only open suggestions, and counts acceptance per kind', async () => {
      await store.suggestions.add(suggestion('s1'));
      await store.suggestions.add(suggestion('s2'));
      await store.suggestions.add(suggestion('s3', { kind: 'least-privilege' }));
      expect(await store.suggestions.decide('s1', 'accepted', { by: 'ada', at: T0 + 5, candidateVersion: '1.0.1' })).toMatchObject({ state: 'accepted', decidedBy: 'ada', decidedAt: T0 + 5, candidateVersion: '1.0.1' });
      expect(await store.suggestions.decide('s1', 'promoted', { at: T0 + 9 })).toMatchObject({ state: 'promoted', decidedBy: 'ada', decidedAt: T0 + 9, candidateVersion: '1.0.1' });
      await store.suggestions.decide('s3', 'rejected', { by: 'bob', reason: 'no', at: T0 + 6 });
      expect(await store.suggestions.decide('missing', 'accepted', { at: 1 })).toBeUndefined();
      expect(await store.suggestions.withdraw('s1')).toBe(false);
      expect(await store.suggestions.withdraw('s2')).toBe(true);
      expect(await store.suggestions.get('s2')).toBeUndefined();
      expect(await store.suggestions.acceptanceByKind()).toEqual({ 'right-sizing': { accepted: 1, rejected: 0 }, 'least-privilege': { accepted: 0, rejected: 1 } });
    });
  });

  describe('rollouts', () => {
    it('starts a canary, lists it as active, decides it once, and a new start replaces it', async () => {
      expect(await store.rollouts.start({ template: 'hello', stableVersion: '1.0.0', candidateVersion: '1.0.1', weight: 0.1, startedAt: T0, suggestionId: 's1' })).toEqual({
        template: 'hello', stableVersion: '1.0.0', candidateVersion: '1.0.1', weight: 0.1, state: 'canary', startedAt: T0, suggestionId: 's1',
      });
      expect((await store.rollouts.active()).map((r) => r.template)).toEqual(['hello']);
      expect(await store.rollouts.decide('hello', 'promoted', T0 + 5, { p95: 12 })).toBe(true);
      expect(await store.rollouts.decide('hello', 'rolled_back', T0 + 6, {})).toBe(false);
      expect(await store.rollouts.get('hello')).toMatchObject({ state: 'promoted', decidedAt: T0 + 5, decision: { p95: 12 } });
      expect(await store.rollouts.active()).toEqual([]);
      await store.rollouts.start({ template: 'hello', stableVersion: '1.0.1', candidateVersion: '1.0.2', weight: 0.5, startedAt: T0 + 7 });
      expect(await store.rollouts.get('hello')).toEqual({ template: 'hello', stableVersion: '1.0.1', candidateVersion: '1.0.2', weight: 0.5, state: 'canary', startedAt: T0 + 7 });
      expect(await store.rollouts.get('other')).toBeUndefined();
    });
  });

  describe('audit log', () => {
    it('appends entries at the time of its clock, chained, lists them newest first by type and subject, and verifies', async () => {
      await store.audit.append({ type: 'key.created', subject: 'k1', data: { name: 'signer-1' } });
      clock.advance(5);
      await store.audit.append({ type: 'key.revoked', actor: 'cli', subject: 'k1' });
      await store.audit.append({ type: 'key.created', subject: 'k2' });
      const entries = await store.audit.list();
      expect(entries.map((e) => [e.seq, e.type, e.subject, e.at])).toEqual([[3, 'key.created', 'k2', T0 + 5], [2, 'key.revoked', 'k1', T0 + 5], [1, 'key.created', 'k1', T0]]);
      expect(entries[1]).toMatchObject({ actor: 'cli', prevHash: entries[2]?.hash });
      expect(entries[2]?.data).toEqual({ name: 'signer-1' });
      expect((await store.audit.list({ type: 'key.created' })).map((e) => e.subject)).toEqual(['k2', 'k1']);
      expect((await store.audit.list({ subject: 'k1', limit: 1 })).map((e) => e.seq)).toEqual([2]);
      expect((await store.audit.list({ afterSeq: 2 })).map((e) => e.seq)).toEqual([3]);
      expect(await store.audit.verify()).toMatchObject({ ok: true, entries: 3, head: entries[0]?.hash });
    });
  });

  describe('tenants and API keys', () => {
    it('creates tenants and keys on its clock, authenticates a key until it is revoked', async () => {
      await store.tenants.ensureTenant('acme');
      await store.tenants.ensureTenant('acme', 'renamed');
      const { record, key } = await store.tenants.createApiKey('globex', 'operator', 'ci');
      expect(await store.tenants.tenants()).toEqual([{ id: 'acme', name: 'acme', createdAt: T0 }, { id: 'globex', name: 'globex', createdAt: T0 }]);
      expect(record).toMatchObject({ tenant: 'globex', role: 'operator', label: 'ci', createdAt: T0 });
      expect(await store.tenants.authenticate(key)).toEqual({ keyId: record.id, tenant: 'globex', role: 'operator' });
      expect(await store.tenants.authenticate(`${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`)).toBeUndefined();
      expect(await store.tenants.listApiKeys('acme')).toEqual([]);
      expect((await store.tenants.listApiKeys()).map((k) => k.id)).toEqual([record.id]);
      clock.advance(3);
      expect(await store.tenants.revokeApiKey(record.id)).toMatchObject({ id: record.id, revokedAt: T0 + 3 });
      expect(await store.tenants.authenticate(key)).toBeUndefined();
      await expect(Promise.resolve().then(() => store.tenants.revokeApiKey('000000000000'))).rejects.toMatchObject({ code: 'E_KEY_NOT_FOUND' });
    });
  });

  describe('learner models', () => {
    it('saves a model per template and target and loads the latest', async () => {
      expect(await store.models.load('hello', 'runMs')).toBeUndefined();
      await store.models.save('hello', 'runMs', { weights: [1, 2] }, T0, 100);
      await store.models.save('hello', 'runMs', { weights: [3] }, T0 + 1, 150);
      expect(await store.models.load('hello', 'runMs')).toEqual({ state: { weights: [3] }, trainedAt: T0 + 1, samples: 150 });
      expect(await store.models.load('hello', 'cpuMs')).toBeUndefined();
    });
  });

  describe('another process', () => {
    it('sees runs, versions and the audit log written by this one', async () => {
      await record(runRecord(1));
      await store.audit.append({ type: 'test', subject: 'x' });
      await store.kv.set({ template: 'hello', tenant: 'acme' }, 'k', '1', 1024);
      const other = await fixture.reopen();
      expect(await other.queries.get('run-00000001')).toEqual(runRecord(1));
      expect((await other.audit.list()).map((e) => e.type)).toEqual(['test']);
      expect(await other.kv.get({ template: 'hello', tenant: 'acme' }, 'k')).toBe('1');
    });
  });
});
