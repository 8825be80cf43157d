// The demo's SQLite store (bundled agents, signed by the DEMO key, run as a seeded workload, the learner trained on
// them) migrated into a real PostgreSQL database: every run, kv entry, version, suggestion and model preserved, the
// audit chain verifying with its hashes unchanged; later appends of tenants go to chains of their own and the log
// still verifies. A source whose chain is broken is refused before anything is copied.
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DemoState, prepareDemoState, removeDemoState } from '../../cli/commands/demo.js';
import { migrateToPostgres } from '../../store/migrate-to-postgres.js';
import { openStore, type SqliteStore } from '../../store/index.js';
import { PostgresStore } from '../../store/postgres/postgres-store.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { captureContext } from '../helpers/streams.js';

let demo: DemoState;
const databases: TestDatabase[] = [];
const cwd = mkdtempSync(path.join(os.tmpdir(), 'af-migrate-cwd-'));

beforeAll(async () => {
  const { context } = captureContext({ cwd, env: { PATH: process.env.PATH } });
  demo = await prepareDemoState(context, { runs: 200, json: true });
  // What a longer demo's learner and an operator would add: a suggestion, a rollout, an API key of a tenant.
  const store = openDemoStore();
  try {
    await store.suggestions.add({
      id: 'sug-demo', kind: 'right-sizing', template: 'summarizer', tenant: '*', baseVersion: '1.0.0', baseDigest: 'd'.repeat(64),
      patch: [{ op: 'replace', path: '/limits/memoryMb', value: 64 }], evidence: { runs: 40 }, expectedImpact: { summary: 'smaller heap' },
      confidence: 0.6, state: 'open', createdAt: 1_700_000_000_000, evidenceKey: 'k',
    });
    await store.rollouts.start({ template: 'summarizer', stableVersion: '1.0.0', candidateVersion: '1.0.1', weight: 0.1, startedAt: 1_700_000_000_100, suggestionId: 'sug-demo' });
    await store.tenants.ensureTenant('acme', 'Acme');
    const { record } = await store.tenants.createApiKey('acme', 'operator', 'ci');
    // A retirement through the trust store (sealed in the keys folder), and what the CLI records of it and of the key.
    await store.trust.retire({ name: 'summarizer', version: '0.9.0', retiredAt: 1_700_000_000_200, reason: 'old', by: 'test' });
    await store.audit.append({ type: 'version.retired', actor: 'cli', subject: 'summarizer@0.9.0', data: { reason: 'old' } });
    await store.audit.append({ type: 'api-key.created', actor: 'cli', subject: record.id, data: { tenant: 'acme', role: 'operator' } });
    await store.audit.append({ type: 'policy.denied', subject: 'summarizer', data: { tenant: 'acme', path: '/etc/passwd' } });
  } finally {
    await store.close();
  }
}, 180_000);

afterAll(async () => {
  if (demo) removeDemoState(demo);
  rmSync(cwd, { recursive: true, force: true });
  for (const database of databases) await database.drop();
});

const keysDir = () => path.join(demo.home, 'keys');
const openDemoStore = (): SqliteStore => openStore({ path: path.join(demo.home, 'factory.db'), auditAnchorDir: keysDir() });

async function emptyTarget(): Promise<PostgresStore> {
  const database = await createTestDatabase();
  databases.push(database);
  return PostgresStore.open({ url: database.url, auditAnchorDir: keysDir(), maxConnections: 2 });
}

describe('migrating the demo store into PostgreSQL', () => {
  it('preserves every run, kv entry, version, suggestion and model, and a verifying audit chain', async () => {
    const source = openDemoStore();
    const target = await emptyTarget();
    try {
      const result = await migrateToPostgres(source, target);
      expect(result.copied.runs).toBeGreaterThan(200);
      expect(result.copied).toMatchObject({ suggestions: 1, rollouts: 1, api_keys: 1, retired_versions: 1 });
      expect(result.copied.audit).toBeGreaterThanOrEqual(3);
      expect(result.copied.template_versions).toBeGreaterThan(3);
      expect(result.verification.audit).toMatchObject({ ok: true, entries: result.copied.audit + 1 });
      expect(result.verification.trust).toEqual({ sqlite: null, postgres: null });
      expect(result.audit.anchor).toBe('moved');

      // Every run, in the order written, and the same seq numbers (what `af runs --follow` walks).
      const before = source.queries.after(0, { limit: 100_000 });
      const after = await target.queries.after(0, { limit: 100_000 });
      expect(after).toHaveLength(result.copied.runs);
      expect(after).toEqual(before);
      // The per-run memory figures the demo measured (one run in 8 per isolate) came across with them (schema 9).
      expect(after.filter(({ run }) => run.heapGrowthBytes !== undefined).length).toBeGreaterThan(10);
      expect(await target.queries.stats()).toEqual(source.queries.stats());
      // Every kv entry.
      const entries = source.db.prepare('SELECT template, tenant, key, value FROM kv').all() as Array<{ template: string; tenant: string; key: string; value: string }>;
      for (const entry of entries) expect(await target.kv.get({ template: entry.template, tenant: entry.tenant }, entry.key)).toBe(entry.value);
      // Every version (sealed rows load: the keys folder vouches for them on PostgreSQL too).
      const names = (source.db.prepare('SELECT DISTINCT name FROM template_versions').all() as Array<{ name: string }>).map((row) => row.name);
      expect(names.length).toBeGreaterThan(3);
      for (const name of names) {
        expect(await target.versions.list(name)).toEqual(source.versions.list(name));
        for (const { version } of source.versions.list(name)) expect(await target.versions.get(name, version)).toEqual(source.versions.get(name, version));
      }
      expect(await target.suggestions.list({ limit: 1000 })).toEqual(source.suggestions.list({ limit: 1000 }));
      expect(await target.rollouts.active()).toEqual(source.rollouts.active());
      expect(await target.tenants.listApiKeys()).toEqual(source.tenants.listApiKeys());
      expect(await target.tenants.tenants()).toEqual(source.tenants.tenants());
      const models = source.db.prepare('SELECT template, target FROM learner_models').all() as Array<{ template: string; target: string }>;
      for (const model of models) expect(await target.models.load(model.template, model.target)).toEqual(source.models.load(model.template, model.target));
      // The SQLite chain, entry for entry, then store.migrated naming its head.
      const log = await target.audit.list({ limit: 10_000 });
      expect(log.slice(1)).toEqual(source.audit.list({ limit: 10_000 }));
      expect(log[0]).toMatchObject({ type: 'store.migrated', data: { sourceHead: result.audit.sourceHead, source: source.location } });

      // New entries of a tenant start a chain of their own; the whole log still verifies, anchored.
      await target.audit.append({ type: 'test.tenant', subject: 'x', tenant: 'acme' });
      await target.audit.append({ type: 'test.system', subject: 'y' });
      expect(await target.audit.verify()).toMatchObject({ ok: true, entries: result.copied.audit + 3, anchor: { unanchored: 0 } });
    } finally {
      await target.close();
      await source.close();
    }
  });

  it('re-anchors on the record when the keys folder anchored another database, and the log verifies', async () => {
    const source = openDemoStore();
    const target = await emptyTarget();
    try {
      // The first test's database is what the keys folder's PostgreSQL anchor vouches for now.
      const result = await migrateToPostgres(source, target);
      expect(result.audit.anchor).toBe('reanchored');
      expect(result.verification.audit).toMatchObject({ ok: true, entries: result.copied.audit + 2 });
      const [reanchored] = await target.audit.list({ limit: 1 });
      expect(reanchored).toMatchObject({ type: 'audit.reanchored', data: { reason: expect.stringContaining('vouched for another database') } });
    } finally {
      await target.close();
      await source.close();
    }
  });

  it('refuses a source whose audit chain is broken, before copying anything', async () => {
    const source = openDemoStore();
    const target = await emptyTarget();
    try {
      source.audit.append({ type: 'test.one', subject: 'a' });
      source.audit.append({ type: 'test.two', subject: 'b' });
      source.db.prepare("UPDATE audit SET actor = 'mallory' WHERE seq = 2").run();
      const refused = await migrateToPostgres(source, target).catch((error: unknown) => error);
      expect(refused).toMatchObject({ code: 'E_TRUST_STATE', message: expect.stringContaining('entry #2, edited') });
      expect(await target.db.row('SELECT (SELECT count(*) FROM runs) + (SELECT count(*) FROM audit) AS n')).toEqual({ n: 0 });
    } finally {
      await target.close();
      await source.close();
    }
  });
});
