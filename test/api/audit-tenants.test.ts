// Whose audit chain an entry goes to: an API request refused for a tenant's key, and a permission denial in a tenant's
// run, belong to that tenant. On PostgreSQL each tenant has a chain of its own (plus the system chain); on SQLite the
// one chain carries the tenant in the entry. Either way the log still verifies.
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApiServer } from '../../api/index.js';
import { createFactory } from '../../runtime/index.js';
import { openStore, type Store } from '../../store/index.js';
import { PostgresStore } from '../../store/postgres/postgres-store.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

let project: TempProject;

beforeEach(() => {
  project = createProject({
    ...simpleTemplate('hello'),
    // No kv permission: asking for it is a denial, audited.
    ...simpleTemplate('snoop', {}, "export default async (input, ctx) => { try { await ctx.kv.get('x'); } catch (error) { return error.code; } };\n"),
  });
});
afterEach(() => project.remove());

/** A refused API request by t1's viewer, a refused audit read by t1's admin, and a denied run of t2; the store then closed-over writes settled. */
async function refuseAndDeny(store: Store): Promise<{ viewerId: string; adminId: string }> {
  const factory = await createFactory({ root: project.root, store, isolation: 'inline', hosts: 1 });
  const viewer = await store.tenants.createApiKey('t1', 'viewer', 't1-viewer');
  const admin = await store.tenants.createApiKey('t1', 'admin', 't1-admin');
  const app = createApiServer({ factory });
  try {
    await app.ready();
    const run = await app.inject({ method: 'POST', url: '/v1/agents/hello/runs', headers: { authorization: `Bearer ${viewer.key}` }, payload: { input: null } });
    expect(run.statusCode).toBe(403);
    const audit = await app.inject({ url: '/v1/audit', headers: { authorization: `Bearer ${admin.key}` } });
    expect(audit.statusCode).toBe(403);
    expect((await factory.run('snoop', null, { tenant: 't2' })).output).toBe('E_PERMISSION_DENIED');
  } finally {
    // Refusals and denials are audited in the background; closing waits for those writes.
    await app.close();
    await factory.close();
  }
  return { viewerId: viewer.record.id, adminId: admin.record.id };
}

describe('audit entries of a tenant', () => {
  let database: TestDatabase | undefined;

  afterEach(async () => {
    await database?.drop();
    database = undefined;
  });

  it("go to the tenant's own chain on PostgreSQL, and every chain verifies", async () => {
    database = await createTestDatabase();
    const store = await PostgresStore.open({ url: database.url });
    try {
      const { viewerId, adminId } = await refuseAndDeny(store);
      const rows = await store.db.rows<{ chain: string; chain_seq: number; type: string; actor: string; subject: string }>(
        "SELECT chain, chain_seq, type, actor, subject FROM audit WHERE type IN ('api.forbidden', 'permission.denied') ORDER BY chain, chain_seq",
      );
      expect(rows).toEqual([
        { chain: 't1', chain_seq: 1, type: 'api.forbidden', actor: `key:${viewerId}`, subject: 'POST /v1/agents/:name/runs' },
        { chain: 't1', chain_seq: 2, type: 'api.forbidden', actor: `key:${adminId}`, subject: 'GET /v1/audit' },
        { chain: 't2', chain_seq: 1, type: 'permission.denied', actor: 'system', subject: 'snoop' },
      ]);
      // The readers see every chain: the list has them all, and verify walks them all.
      expect((await store.audit.list({ limit: 100 })).map((entry) => entry.type)).toEqual(expect.arrayContaining(['api.forbidden', 'permission.denied']));
      expect(await store.audit.verify()).toMatchObject({ ok: true });
    } finally {
      await store.close();
    }
  });

  it('carry the tenant in the one chain on SQLite, which verifies', async () => {
    const store = openStore({ path: path.join(project.root, '.af', 'factory.db') });
    try {
      await refuseAndDeny(store);
      expect(store.audit.list({ type: 'api.forbidden' }).map((entry) => entry.data.tenant)).toEqual(['t1', 't1']);
      expect(store.audit.list({ type: 'permission.denied' })).toEqual([expect.objectContaining({ subject: 'snoop', data: { permission: 'kv', target: '', grantKey: 'permissions.kv', tenant: 't2' } })]);
      expect(store.audit.verify()).toMatchObject({ ok: true });
    } finally {
      await store.close();
    }
  });
});
