// Tenants and API keys in PostgreSQL: the SQLite module's cases on a real server, and a key revoked on one node
// refused by another at once.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock, type ManualClock } from '../../../core/clock.js';
import { PgDatabase } from '../../../store/postgres/connection.js';
import { migratePostgres } from '../../../store/postgres/migrations.js';
import { PgTenants } from '../../../store/postgres/tenants.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';

const T0 = 1_700_000_000_000;
let database: TestDatabase;
let nodes: PgDatabase[];
let db: PgDatabase;
let clock: ManualClock;
let tenants: PgTenants;

function node(): PgTenants {
  const handle = new PgDatabase(database.url);
  nodes.push(handle);
  return new PgTenants(handle, clock);
}

beforeEach(async () => {
  database = await createTestDatabase();
  db = new PgDatabase(database.url);
  nodes = [db];
  await migratePostgres(db);
  clock = createManualClock(T0);
  tenants = new PgTenants(db, clock);
});

afterEach(async () => {
  for (const handle of nodes) await handle.close();
  await database.drop();
});

describe('PgTenants', () => {
  it('creates tenants and keys on its clock, authenticates a key until it is revoked', async () => {
    await tenants.ensureTenant('acme');
    await tenants.ensureTenant('acme', 'renamed');
    const { record, key } = await tenants.createApiKey('globex', 'operator', 'ci');
    expect(await tenants.tenants()).toEqual([{ id: 'acme', name: 'acme', createdAt: T0 }, { id: 'globex', name: 'globex', createdAt: T0 }]);
    expect(record).toMatchObject({ tenant: 'globex', role: 'operator', label: 'ci', createdAt: T0 });
    expect(await tenants.authenticate(key)).toEqual({ keyId: record.id, tenant: 'globex', role: 'operator' });
    expect(await tenants.authenticate(`${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`)).toBeUndefined();
    expect(await tenants.listApiKeys('acme')).toEqual([]);
    expect((await tenants.listApiKeys()).map((k) => k.id)).toEqual([record.id]);
    clock.advance(3);
    expect(await tenants.revokeApiKey(record.id)).toMatchObject({ id: record.id, revokedAt: T0 + 3 });
    // Revoking again keeps the first time.
    clock.advance(3);
    expect(await tenants.revokeApiKey(record.id)).toMatchObject({ revokedAt: T0 + 3 });
    expect(await tenants.authenticate(key)).toBeUndefined();
    await expect(tenants.revokeApiKey('000000000000')).rejects.toMatchObject({ code: 'E_KEY_NOT_FOUND', message: 'no API key with id 000000000000; run `af keys api list`' });
  });

  it('stores only a hash of the secret, and refuses malformed, unknown and revoked keys', async () => {
    const { record, key } = await tenants.createApiKey('acme', 'operator', 'ci');
    expect(key).toMatch(/^afk_[0-9a-f]{12}_[A-Za-z0-9_-]{32}$/);
    const row = await db.row('SELECT * FROM api_keys');
    // The secret is everything after `afk_<id>_`: base64url may hold "_" itself, so it is not split on it.
    const secret = key.slice('afk_'.length + 12 + 1);
    expect(secret).toHaveLength(32);
    expect(JSON.stringify(row)).not.toContain(secret);
    expect(row?.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(await tenants.authenticate('Bearer nonsense')).toBeUndefined();
    expect(await tenants.authenticate(key.replace(record.id, '0'.repeat(12)))).toBeUndefined();
    expect(await tenants.authenticate(`${key}x`)).toBeUndefined();
    expect((await tenants.listApiKeys('acme'))[0]).toEqual({ id: record.id, tenant: 'acme', role: 'operator', label: 'ci', createdAt: T0 });
  });

  it('refuses an invalid tenant id and an unknown role with E_USAGE and the same messages as SQLite', async () => {
    await expect(tenants.ensureTenant('bad id')).rejects.toMatchObject({ code: 'E_USAGE', message: 'tenant "bad id" is not valid: use letters, digits, ".", "_" and "-" (at most 64)' });
    await expect(tenants.createApiKey('acme', 'root' as never)).rejects.toMatchObject({ code: 'E_USAGE', message: 'role "root" is not one of viewer, operator, maintainer, admin' });
    await tenants.ensureTenant('*');
    expect(await tenants.tenants()).toEqual([{ id: '*', name: 'installation', createdAt: T0 }]);
    expect(await db.rows('SELECT * FROM api_keys')).toEqual([]);
  });

  it('lists tenants in byte order and keys oldest first, keys of one millisecond in the order they were made', async () => {
    for (const id of ['b', 'B', 'a', 'a.b', 'a_b', 'A-1']) await tenants.ensureTenant(id);
    expect((await tenants.tenants()).map((t) => t.id)).toEqual(['A-1', 'B', 'a', 'a.b', 'a_b', 'b']);
    const made: string[] = [];
    for (let i = 0; i < 12; i++) made.push((await tenants.createApiKey(i % 2 === 0 ? 'acme' : 'globex', 'viewer', `k${i}`)).record.id);
    clock.advance(-1);
    const earlier = (await tenants.createApiKey('acme', 'admin')).record.id;
    expect((await tenants.listApiKeys()).map((k) => k.id)).toEqual([earlier, ...made]);
    expect((await tenants.listApiKeys('acme')).map((k) => k.id)).toEqual([earlier, ...made.filter((_, i) => i % 2 === 0)]);
  });

  it('two nodes: a key made on one authenticates on the other, and once revoked there is refused by both at once', async () => {
    const other = node();
    const { record, key } = await tenants.createApiKey('acme', 'maintainer');
    expect(await other.authenticate(key)).toEqual({ keyId: record.id, tenant: 'acme', role: 'maintainer' });
    await other.revokeApiKey(record.id);
    expect(await tenants.authenticate(key)).toBeUndefined();
    expect(await other.authenticate(key)).toBeUndefined();
    // Both nodes creating the same tenant at once: one row.
    await Promise.all([tenants.ensureTenant('globex'), other.ensureTenant('globex'), tenants.createApiKey('initech', 'viewer'), other.createApiKey('initech', 'viewer')]);
    expect((await other.tenants()).map((t) => t.id)).toEqual(['acme', 'globex', 'initech']);
  });
});
