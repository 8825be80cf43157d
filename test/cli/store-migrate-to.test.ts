// `af store migrate-to URL`: a project's SQLite store (signed agents, runs of several tenants, kv, versions, a retired
// version, a revoked key, an API key, a suggestion, a rollout, a learner model) copied into a real PostgreSQL database,
// then used there: every run, kv entry and version the same, the audit chain verifying with its hashes unchanged, the
// retirement still enforced, agents running. And the refusals: a target with data, a URL of another kind, a server
// that does not answer, a failure in the middle of the copy (nothing is left behind).
import { PassThrough } from 'node:stream';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/index.js';
import { createFactory } from '../../runtime/index.js';
import type { Suggestion } from '../../core/suggestion.js';
import { openStore, type SqliteStore } from '../../store/index.js';
import { PostgresStore } from '../../store/postgres/postgres-store.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

const COUNTER = `export default async (input, ctx) => {
  const n = ((await ctx.kv.get('n')) ?? 0) + 1;
  await ctx.kv.set('n', n);
  await ctx.kv.set('last-' + n, { input, at: n });
  return { n };
};
`;

let project: TempProject;
let database: TestDatabase;
const databases: TestDatabase[] = [];

async function af(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const stdin = new PassThrough();
  stdin.end();
  const status = await runCli(args, { stdout: { write: (c: string) => (stdout += c) }, stderr: { write: (c: string) => (stderr += c) }, stdin, env: { NO_COLOR: '1' }, cwd: project.root });
  return { status, stdout, stderr };
}

async function freshDatabase(): Promise<TestDatabase> {
  const created = await createTestDatabase();
  databases.push(created);
  return created;
}

const keysDir = () => path.join(project.root, '.af', 'keys');
const openSqlite = (): SqliteStore => openStore({ path: path.join(project.root, '.af', 'factory.db'), auditAnchorDir: keysDir() });
const openPostgres = (url: string) => PostgresStore.open({ url, auditAnchorDir: keysDir(), maxConnections: 2 });

beforeAll(async () => {
  project = createProject({ ...simpleTemplate('counter', { permissions: { kv: true } }, COUNTER), ...simpleTemplate('alpha') });
  database = await freshDatabase();
  expect((await af('keys', 'init')).status).toBe(0);
  expect((await af('sign', '--all')).status).toBe(0);
  for (const tenant of ['acme', 'beta', 'acme', 'gamma', 'acme']) {
    const ran = await af('run', 'counter', '--env', 'prod', '--tenant', tenant, '--input', `{"tenant":"${tenant}"}`, '--json');
    expect(ran.status, ran.stderr).toBe(0);
  }
  expect((await af('run', 'alpha', '--env', 'prod', '--input', '{"x":1}')).status).toBe(0);
  // A second signer, revoked; alpha 1.0.0 retired: both must hold on PostgreSQL.
  const signer = JSON.parse((await af('keys', 'create', '--name', 'signer-2', '--json')).stdout) as { id: string };
  expect((await af('keys', 'revoke', signer.id, '--reason', 'leaked')).status).toBe(0);
  expect((await af('versions', 'retire', 'alpha', '1.0.0', '--reason', 'bad release')).status).toBe(0);
  expect((await af('keys', 'api', 'create', '--tenant', 'acme', '--role', 'operator', '--json')).status).toBe(0);
  const store = openSqlite();
  try {
    const suggestion: Suggestion = {
      id: 'sug-1', kind: 'right-sizing', template: 'counter', tenant: 'acme', baseVersion: '1.0.0', baseDigest: 'd'.repeat(64),
      patch: [{ op: 'replace', path: '/limits/timeoutMs', value: 500 }], evidence: { runs: 5 }, expectedImpact: { summary: 'faster' },
      confidence: 0.75, state: 'open', createdAt: 1_700_000_000_000, evidenceKey: 'e1',
    };
    await store.suggestions.add(suggestion);
    await store.rollouts.start({ template: 'counter', stableVersion: '1.0.0', candidateVersion: '1.0.1', weight: 0.25, startedAt: 1_700_000_000_500, suggestionId: 'sug-1' });
    // Decided, so runs of the counter are not routed to a candidate this project does not have.
    await store.rollouts.decide('counter', 'rolled_back', 1_700_000_000_900, { reason: 'errors' });
    await store.models.save('counter', 'runMs', { weights: [0.5, 1.5] }, 1_700_000_001_000, 5);
  } finally {
    await store.close();
  }
}, 120_000);

afterAll(async () => {
  project.remove();
  for (const created of databases) await created.drop();
});

describe('af store migrate-to', () => {
  it('copies everything into PostgreSQL, verified, and the project works there', async () => {
    const migrated = await af('store', 'migrate-to', database.url, '--json');
    expect(migrated.status, migrated.stderr).toBe(0);
    const result = JSON.parse(migrated.stdout);
    expect(new URL(database.url).password).not.toBe('');
    expect(result.target).not.toContain(`:${new URL(database.url).password}@`);
    expect(result.copied).toMatchObject({ runs: 6, tenants: expect.any(Number), api_keys: 1, keys: 3, revocations: 1, retired_versions: 1, suggestions: 1, rollouts: 1, learner_models: 1 });
    expect(result.verification.audit).toMatchObject({ ok: true });

    const sqlite = openSqlite();
    const postgres = await openPostgres(database.url);
    try {
      // Every run, in the order it was written, field by field.
      const before = sqlite.queries.after(0, { limit: 1000 });
      const after = await postgres.queries.after(0, { limit: 1000 });
      expect(after).toEqual(before);
      expect(before).toHaveLength(6);
      // Every kv entry, with the same value.
      const entries = sqlite.db.prepare('SELECT template, tenant, key, value FROM kv').all() as Array<{ template: string; tenant: string; key: string; value: string }>;
      expect(entries.length).toBeGreaterThanOrEqual(8);
      for (const entry of entries) expect(await postgres.kv.get({ template: entry.template, tenant: entry.tenant }, entry.key)).toBe(entry.value);
      // Every version.
      for (const name of ['alpha', 'counter']) expect(await postgres.versions.list(name)).toEqual(sqlite.versions.list(name));
      // The SQLite chain is the system chain, hashes unchanged, then store.migrated naming its head.
      const sqliteLog = sqlite.audit.list({ limit: 10_000 });
      const postgresLog = await postgres.audit.list({ limit: 10_000 });
      const head = sqliteLog[0];
      expect(postgresLog.slice(1)).toEqual(sqliteLog);
      expect(postgresLog[0]).toMatchObject({ type: 'store.migrated', prevHash: head?.hash, data: { from: 'sqlite', sourceHead: { seq: head?.seq, hash: head?.hash } } });
      // The API key authenticates against PostgreSQL.
      expect((await postgres.tenants.listApiKeys()).map((key) => key.tenant)).toEqual(['acme']);
      expect(postgres.trust.trustProblem()).toBeUndefined();
    } finally {
      await sqlite.close();
      await postgres.close();
    }

    const verified = await af('--store', database.url, 'audit-log', 'verify', '--json');
    expect([verified.status, JSON.parse(verified.stdout).ok]).toEqual([0, true]);
    // On a factory over the PostgreSQL store: the retirement holds, and the counter runs and continues from the migrated kv.
    const factory = await createFactory({ root: project.root, env: 'prod', hosts: 1, watch: false, store: database.url });
    try {
      expect(factory.store?.kind).toBe('postgres');
      const retired = await factory.runSettled('alpha', {}).catch((error: unknown) => error);
      expect(retired).toMatchObject({ code: 'E_VERSION_RETIRED', message: expect.stringContaining('(bad release)') });
      const counted = await factory.runSettled('counter', {}, { tenant: 'acme' });
      expect(counted).toMatchObject({ ok: true, output: { n: 4 } });
    } finally {
      await factory.close();
    }
    // Its record is in PostgreSQL, after the migrated ones; the SQLite file is untouched.
    const runs = JSON.parse((await af('--store', database.url, 'runs', '--json')).stdout) as Array<{ template: string }>;
    const local = JSON.parse((await af('runs', '--json')).stdout) as Array<{ template: string }>;
    expect([runs.length, local.length]).toEqual([7, 6]);
    const keys = JSON.parse((await af('--store', database.url, 'keys', 'list', '--json')).stdout) as Array<{ name?: string; subject?: string; status: string }>;
    expect(keys.map((key) => key.status).sort()).toEqual(['active', 'active', 'revoked']);
  });

  it('refuses a target that holds data, naming what is there, and changes nothing', async () => {
    const target = await freshDatabase();
    const postgres = await openPostgres(target.url);
    try {
      await postgres.kv.set({ template: 'other', tenant: 'x' }, 'k', '1', 1000);
    } finally {
      await postgres.close();
    }
    const refused = await af('store', 'migrate-to', target.url);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('E_CONFLICT');
    expect(refused.stderr).toContain('already holds data (kv: 1, kv_usage: 1)');
    expect(refused.stderr).toContain('copies into an empty database only');
    expect(refused.stderr).not.toContain(`:${new URL(target.url).password}@`);
    expect(await countRows(target.url, 'runs')).toBe(0);
  });

  it('refuses a location that is not PostgreSQL (exit 2) without echoing it', async () => {
    const refused = await af('store', 'migrate-to', 'mysql://root:hunter2@db.example/af');
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('takes its URL, postgres://USER:PASSWORD@HOST:PORT/DATABASE');
    expect(refused.stderr).not.toContain('hunter2');
  });

  it('refuses a source that is not SQLite (exit 2), before touching the target', async () => {
    const target = await freshDatabase();
    const refused = await af('--store', database.url, 'store', 'migrate-to', target.url);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('af store migrate-to copies a SQLite store, and this store is postgres at postgres://postgres:***@');
    expect(await countRows(target.url, 'runs').catch((error: Error) => error.message)).toContain('does not exist');
  });

  it('says clearly when the server cannot be reached (exit 6, no stack, no password)', async () => {
    const refused = await af('store', 'migrate-to', 'postgres://af:s3cret@127.0.0.1:1/af');
    expect(refused.status).toBe(6);
    expect(refused.stderr).toContain('postgres://af:***@127.0.0.1:1/af');
    expect(refused.stderr).toContain('ECONNREFUSED');
    expect(refused.stderr).not.toContain('s3cret');
    expect(refused.stderr).not.toMatch(/\n\s+at /);
  });

  it('leaves the target empty when the copy fails in the middle', async () => {
    const target = await freshDatabase();
    await (await openPostgres(target.url)).close();
    // A schema that accepts runs and kv but refuses kv usage totals: the copy fails after several tables went in.
    await sql(target.url, 'ALTER TABLE kv_usage ADD CONSTRAINT sabotaged CHECK (bytes < 0)');
    const failed = await af('store', 'migrate-to', target.url);
    expect(failed.status).toBe(6);
    expect(failed.stderr).toContain('sabotaged');
    for (const table of ['runs', 'kv', 'keys', 'template_versions', 'audit', 'audit_heads']) expect(await countRows(target.url, table), table).toBe(0);
    // Repaired, the same target takes the migration.
    await sql(target.url, 'ALTER TABLE kv_usage DROP CONSTRAINT sabotaged');
    // The source named with the global --store, as for any other file.
    const migrated = await af('--store', `sqlite:${path.join(project.root, '.af', 'factory.db')}`, 'store', 'migrate-to', target.url);
    expect(migrated.status, migrated.stderr).toBe(0);
    // What a person reads: counts, the verification, and the audit chain's fate; never the password.
    expect(migrated.stdout).toMatch(/^migrated .*factory\.db into postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/\w+ in [\d.]+ s:\n  6 runs \(0 with captured failure data\)/);
    expect(migrated.stdout).toContain('3 keys, 1 revocation, 1 retired version');
    expect(migrated.stdout).toContain('verified before the commit: the same row count in all 14 tables');
    expect(migrated.stdout).toContain('✓ audit log intact in PostgreSQL');
    expect(migrated.stdout).toContain("✓ trust data: the keys folder's seal vouches for the copied keys, revocations and retirements");
    expect(migrated.stdout + migrated.stderr).not.toContain(`:${new URL(target.url).password}@`);
    const sqlite = openSqlite();
    try {
      expect(await countRows(target.url, 'runs')).toBe(sqlite.queries.count());
    } finally {
      await sqlite.close();
    }
  });
});

async function sql(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

async function countRows(url: string, table: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number((await client.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
  } finally {
    await client.end();
  }
}
