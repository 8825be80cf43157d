// Trust data in PostgreSQL beyond the TrustStore contract (test/contracts runs that on it): importing, the seal
// (store/trust-seal) as the SQLite store checks it, and two nodes: a revocation on one is enforced by the other in time.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../../core/clock.js';
import type { KeyRecord } from '../../../core/trust-records.js';
import { PgDatabase } from '../../../store/postgres/connection.js';
import { migratePostgres } from '../../../store/postgres/migrations.js';
import { PgTrustStore } from '../../../store/postgres/trust-store.js';
import { TRUST_SEAL_FILE, TrustSeal } from '../../../store/trust-seal.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';

const key = (id: string, role: KeyRecord['role'], createdAt: number): KeyRecord => ({ id, role, name: `${role}-${id}`, certificatePem: `PEM ${id}`, notBefore: 0, notAfter: 10, createdAt });
const root = key('00000000000000aa', 'root', 1);
const signer = key('00000000000000bb', 'signer', 3);
const older = key('00000000000000cc', 'signer', 2);
/** Short, so the tests that wait for another node do not wait long; they wait on a condition, never a fixed time. */
const REFRESH_MS = 25;

let database: TestDatabase;
let db: PgDatabase;
let handles: PgDatabase[];
let stores: PgTrustStore[];
let dir: string;
let keysDir: string;

/** A node: its own pool and its own trust store, sealed with the (shared) keys folder when `sealed`. */
async function node(options: { sealed?: boolean; refreshMs?: number } = {}): Promise<PgTrustStore> {
  const handle = new PgDatabase(database.url);
  handles.push(handle);
  const store = await PgTrustStore.open(handle, {
    clock: createManualClock(1_700_000_000_000),
    refreshMs: options.refreshMs ?? REFRESH_MS,
    ...(options.sealed ? { seal: new TrustSeal(keysDir, { subject: 'the test database' }) } : {}),
  });
  stores.push(store);
  return store;
}

/** Waits until `check` holds, looking every few milliseconds, failing after `deadlineMs`. */
async function until(check: () => boolean, what: string, deadlineMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > deadlineMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

beforeEach(async () => {
  database = await createTestDatabase();
  db = new PgDatabase(database.url);
  handles = [db];
  stores = [];
  await migratePostgres(db);
  dir = mkdtempSync(path.join(os.tmpdir(), 'af-pg-trust-'));
  keysDir = path.join(dir, 'keys');
});

afterEach(async () => {
  for (const store of stores) store.close();
  for (const handle of handles) await handle.close();
  await database.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('PgTrustStore: keeping and importing', () => {
  it('keeps everything for the next node that opens it, and imports a trust.json store', async () => {
    const trust = await node();
    await trust.addKey(root);
    expect(await trust.importFrom({ keys: () => [signer], revocation: (id) => (id === signer.id ? { id, revokedAt: 5, reason: 'leaked' } : undefined) })).toBe(1);
    await trust.retire({ name: 'hello', version: '1.0.0', retiredAt: 5, reason: 'CVE', by: 'ops' });
    const next = await node();
    expect(next.keys()).toEqual([root, signer]);
    expect(next.revocation(signer.id)).toEqual({ id: signer.id, revokedAt: 5, reason: 'leaked' });
    expect(next.retirement('hello', '1.0.0')).toMatchObject({ reason: 'CVE', by: 'ops' });
  });

  it('moves trust_generation in the database on every change, also one made with SQL', async () => {
    const trust = await node();
    const generation = async () => (await db.row<{ generation: number }>('SELECT generation FROM trust_generation'))?.generation ?? -1;
    let last = await generation();
    for (const change of [() => trust.addKey(root), () => trust.revoke(root.id, 'r', 1), () => trust.retire({ name: 'a', version: '1', retiredAt: 1, reason: 'r', by: 'b' }), () => db.query("DELETE FROM retired_versions")]) {
      await change();
      const now = await generation();
      expect(now).toBeGreaterThan(last);
      last = now;
    }
  });
});

describe('PgTrustStore: two nodes', () => {
  it('a revocation and a retirement on node A are enforced by node B within its refresh interval, and by A at once', async () => {
    const a = await node();
    const b = await node();
    await a.addKey(signer);
    await until(() => b.key(signer.id) !== undefined, 'node B to see the new key');
    expect(b.isRevoked(signer.id)).toBe(false);
    await a.revoke(signer.id, 'leaked', 5);
    expect(a.isRevoked(signer.id)).toBe(true);
    await until(() => b.isRevoked(signer.id), 'node B to see the revocation');
    expect(b.revocation(signer.id)).toEqual({ id: signer.id, revokedAt: 5, reason: 'leaked' });
    await a.retire({ name: 'hello', version: '1.0.0', retiredAt: 6, reason: 'CVE', by: 'ops' });
    expect(a.retirement('hello', '1.0.0')).toBeDefined();
    await until(() => b.retirement('hello', '1.0.0') !== undefined, 'node B to see the retirement');
  });

  it('a node that does not poll keeps what it loaded (what the refresh interval bounds)', async () => {
    const a = await node();
    const frozen = await node({ refreshMs: 0 });
    const b = await node();
    await a.addKey(signer);
    await a.revoke(signer.id, 'leaked', 5);
    await until(() => b.isRevoked(signer.id), 'the polling node to see the revocation');
    expect(frozen.isRevoked(signer.id)).toBe(false);
  });

  it('a revocation written with SQL (an operator on psql) is enforced by every node', async () => {
    const a = await node();
    await a.addKey(signer);
    await db.query('INSERT INTO revocations (id, revoked_at, reason) VALUES ($1, 7, $2)', [signer.id, 'by hand']);
    await until(() => a.isRevoked(signer.id), 'node A to see the revocation');
  });

  it('revokes on node B a key node A added a moment ago, before B reloaded', async () => {
    const a = await node();
    const b = await node({ refreshMs: 0 });
    await a.addKey(signer);
    expect(b.key(signer.id)).toBeUndefined();
    await b.revoke(signer.id, 'leaked', 5);
    expect(b.isRevoked(signer.id)).toBe(true);
  });

  it('concurrent changes on two nodes all land, and each node ends with all of them', async () => {
    const a = await node({ sealed: true });
    const b = await node({ sealed: true });
    const keys = Array.from({ length: 8 }, (_, i) => key(`00000000000001${String(i).padStart(2, '0')}`, 'signer', 10 + i));
    await Promise.all(keys.map((k, i) => (i % 2 === 0 ? a : b).addKey(k)));
    await until(() => a.keys().length === 8 && b.keys().length === 8, 'both nodes to see every key');
    expect(a.trustProblem()).toBeUndefined();
    expect(b.trustProblem()).toBeUndefined();
    expect(await a.sealChanges()).toEqual([]);
  });
});

describe('PgTrustStore: the seal', () => {
  it('seals the data on first open and with every change, so a fresh node trusts it', async () => {
    const trust = await node({ sealed: true });
    expect(trust.trustProblem()).toBeUndefined();
    await trust.addKey(root);
    await trust.addKey(signer);
    await trust.revoke(signer.id, 'leaked', 5);
    expect(await trust.sealChanges()).toEqual([]);
    const next = await node({ sealed: true });
    expect(next.trustProblem()).toBeUndefined();
    expect(next.keys()).toEqual([root, signer]);
  });

  it("a root inserted with SQL: every node's trustProblem names it; sealChanges lists it; repair deletes it", async () => {
    const a = await node({ sealed: true });
    const b = await node({ sealed: true });
    await a.addKey(root);
    const attacker = key('00000000000000ee', 'root', 4);
    await db.query('INSERT INTO keys (id, role, name, certificate_pem, not_before, not_after, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)', [attacker.id, attacker.role, attacker.name, attacker.certificatePem, 0, 10, 4]);
    await until(() => b.trustProblem() !== undefined && a.trustProblem() !== undefined, 'both nodes to see the tampering');
    expect(b.trustProblem()).toMatchObject({ code: 'E_TRUST_STATE', message: expect.stringContaining('was changed without the keys folder') });
    expect(await b.sealChanges()).toEqual([expect.objectContaining({ table: 'keys', row: expect.stringContaining(attacker.id), change: 'added' })]);
    expect(await b.repair()).toEqual([expect.objectContaining({ table: 'keys', row: expect.stringContaining(attacker.id), change: 'added' })]);
    expect(b.key(attacker.id)).toBeUndefined();
    expect(b.trustProblem()).toBeUndefined();
    await until(() => a.trustProblem() === undefined && a.key(attacker.id) === undefined, 'node A to see the repair');
  });

  it('a revocation deleted with SQL is a problem, and repair puts it back', async () => {
    const trust = await node({ sealed: true });
    await trust.addKey(signer);
    await trust.revoke(signer.id, 'leaked', 5);
    await db.query('DELETE FROM revocations');
    await until(() => trust.trustProblem() !== undefined, 'the node to see the deletion');
    expect(trust.isRevoked(signer.id)).toBe(false);
    await trust.repair();
    expect(trust.revocation(signer.id)).toEqual({ id: signer.id, revokedAt: 5, reason: 'leaked' });
    expect(trust.trustProblem()).toBeUndefined();
  });

  it('a revocation added without the keys folder is accepted (it only refuses more), listed, and sealed by takeIn', async () => {
    const trust = await node({ sealed: true });
    await trust.addKey(signer);
    await db.query('INSERT INTO revocations (id, revoked_at, reason) VALUES ($1, 7, $2)', [signer.id, 'by hand']);
    await until(() => trust.isRevoked(signer.id), 'the node to see the revocation');
    expect(trust.trustProblem()).toBeUndefined();
    expect(await trust.sealChanges()).toEqual([expect.objectContaining({ table: 'revocations', row: expect.stringContaining(signer.id), change: 'added' })]);
    await trust.takeIn();
    expect(await trust.sealChanges()).toEqual([]);
  });

  it('adoptAsIs seals the data as it is, after a review', async () => {
    const trust = await node({ sealed: true });
    await trust.addKey(root);
    await db.query("UPDATE keys SET name = 'edited'");
    await until(() => trust.trustProblem() !== undefined, 'the node to see the edit');
    const state = await trust.adoptAsIs();
    expect(state.keys).toEqual([{ ...root, name: 'edited' }]);
    expect(trust.trustProblem()).toBeUndefined();
    expect(await trust.sealChanges()).toEqual([]);
  });

  it('without the seal key a key cannot be added (the row is rolled back), but a revocation and a retirement still can', async () => {
    const trust = await node({ sealed: true });
    await trust.addKey(signer);
    // Tests run as root, which file modes do not stop: a folder where the seal's temporary file goes blocks its writes.
    mkdirSync(path.join(keysDir, `${TRUST_SEAL_FILE}.${process.pid}.tmp`));
    await expect(trust.addKey(root)).rejects.toThrow();
    expect(trust.key(root.id)).toBeUndefined();
    expect(trust.trustProblem()).toBeUndefined();
    expect(await db.rows('SELECT id FROM keys')).toEqual([{ id: signer.id }]);
    await trust.revoke(signer.id, 'leaked', 5);
    await trust.retire({ name: 'hello', version: '1.0.0', retiredAt: 6, reason: 'CVE', by: 'ops' });
    expect(trust.isRevoked(signer.id)).toBe(true);
    expect(trust.retirement('hello', '1.0.0')).toBeDefined();
  });

  it('a seal edited by hand vouches for nothing', async () => {
    const trust = await node({ sealed: true });
    await trust.addKey(root);
    const file = path.join(keysDir, TRUST_SEAL_FILE);
    writeFileSync(file, readFileSync(file, 'utf8').replace('"name":"root-', '"name":"evil-'));
    const next = await node({ sealed: true });
    expect(next.trustProblem()).toMatchObject({ code: 'E_TRUST_STATE', message: expect.stringContaining('is not valid') });
  });

  it('a store without a seal refuses the seal operations with E_USAGE, and takeIn has nothing to do (as on SQLite)', async () => {
    const trust = await node();
    for (const operation of [() => trust.sealChanges(), () => trust.repair(), () => trust.adoptAsIs()]) {
      await expect(operation()).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringContaining('this store has no trust seal') });
    }
    const generation = trust.generation;
    await expect(trust.takeIn()).resolves.toBeUndefined();
    expect(trust.generation).toBe(generation);
  });
});
