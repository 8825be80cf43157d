// The store on real SQLite files: the batched run writer, queries, kv quotas, versions, trust data, API keys and data operations.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../core/clock.js';
import { MIGRATIONS, openStore, readExport, restoreDatabase, SCHEMA_VERSION, type Store } from '../../store/index.js';
import { runRecord, tempDir } from './helpers.js';

let temp: ReturnType<typeof tempDir>;
let store: Store;

beforeEach(() => {
  temp = tempDir();
  store = openStore({ path: temp.db });
});
afterEach(async () => {
  await store.close();
  temp.remove();
});

describe('opening', () => {
  it('creates the schema with WAL and foreign keys, and records the schema version', () => {
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(store.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    const tables = store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all().map((row) => (row as { name: string }).name);
    expect(tables).toEqual(expect.arrayContaining(['runs', 'kv', 'kv_usage', 'template_versions', 'keys', 'revocations', 'audit', 'audit_head', 'tenants', 'api_keys']));
  });

  it('refuses a database newer than this code', async () => {
    store.db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    await store.close();
    expect(() => openStore({ path: temp.db })).toThrow(expect.objectContaining({ code: 'E_STORE', message: expect.stringContaining('newer than this Agent Factory') }));
    store = openStore({ path: ':memory:' });
  });
});

describe('the run writer', () => {
  it('only queues on write, and commits within the flush interval', async () => {
    for (let i = 0; i < 10; i++) store.runs.write(runRecord(i));
    expect(store.runs.queueDepth).toBe(10);
    expect(store.queries.count()).toBe(0);
    const started = performance.now();
    while (store.runs.queueDepth > 0) await new Promise((resolve) => setTimeout(resolve, 2));
    expect(performance.now() - started).toBeLessThanOrEqual(100);
    expect(store.queries.count()).toBe(10);
    expect(store.runs.written).toBe(10);
  });

  it('writes a full batch at once and keeps every field', async () => {
    const record = runRecord(1, { outcome: 'error', errorCode: 'E_TIMEOUT', denials: [{ permission: 'net', target: 'x:1' }], grantsUsed: ['env:LOG_LEVEL', 'kv'], parentId: 'parent', depth: 2 });
    const none = runRecord(2, { grantsUsed: [] });
    store.runs.write(record);
    store.runs.write(none);
    await store.runs.flush();
    expect(store.queries.get(record.id)).toEqual(record);
    expect(store.queries.get(none.id)).toEqual(none);
  });

  it('reads runs written before grants were recorded (schema 2) without grantsUsed, and records them from then on', async () => {
    await store.close();
    // A schema-2 database, as the previous release left it, with one run.
    const old = new Database(temp.db);
    old.exec('DROP TABLE runs');
    // Tables of later steps did not exist yet either.
    old.exec('DROP TABLE retired_versions');
    old.exec('DROP TABLE run_captures');
    old.exec('ALTER TABLE template_versions DROP COLUMN source_files');
    old.exec('ALTER TABLE template_versions DROP COLUMN seal');
    old.exec(MIGRATIONS[0]!.sql.slice(MIGRATIONS[0]!.sql.indexOf('CREATE TABLE runs'), MIGRATIONS[0]!.sql.indexOf('CREATE TABLE kv ')));
    old.prepare("INSERT INTO runs (id, template, version, digest, env, tenant, started_at, create_ms, run_ms, cpu_ms, heap_peak_bytes, input_bytes, output_bytes, outcome, tools, denials, logs_dropped, depth) VALUES ('old', 'hello', '1.0.0', 'd', 'dev', 'default', 1, 0, 1, 0, 0, 0, 0, 'ok', '{}', '[]', 0, 0)").run();
    old.pragma('user_version = 2');
    old.close();
    store = openStore({ path: temp.db });
    expect(store.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(store.queries.get('old')).not.toHaveProperty('grantsUsed');
    store.runs.write(runRecord(3, { grantsUsed: ['kv'] }));
    await store.runs.flush();
    expect(store.queries.get(runRecord(3).id)?.grantsUsed).toEqual(['kv']);
  });

  it('keeps every heap figure of a schema-7 database when heap_peak_bytes becomes heap_used_at_end_bytes', async () => {
    await store.close();
    temp.remove();
    temp = tempDir();
    // A database exactly as the release at schema 7 left it: its own steps, run one by one, on a real file.
    const old = new Database(temp.db);
    for (const step of MIGRATIONS.filter((m) => m.version <= 7)) old.exec(step.sql);
    old.pragma('user_version = 7');
    const insert = old.prepare("INSERT INTO runs (id, template, version, digest, env, tenant, started_at, create_ms, run_ms, cpu_ms, heap_peak_bytes, input_bytes, output_bytes, outcome, tools, denials, logs_dropped, depth) VALUES (?, 'hello', '1.0.0', 'd', 'dev', 'default', ?, 0, 1, 0, ?, 0, 0, 'ok', '{}', '[]', 0, 0)");
    insert.run('old-1', 1, 7_340_032);
    insert.run('old-2', 2, 12_582_912);
    old.close();
    store = openStore({ path: temp.db });
    expect(store.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    const columns = store.db.prepare("SELECT name FROM pragma_table_info('runs')").all().map((row) => (row as { name: string }).name);
    expect(columns).toContain('heap_used_at_end_bytes');
    expect(columns).not.toContain('heap_peak_bytes');
    expect(store.queries.get('old-1')?.heapUsedAtEndBytes).toBe(7_340_032);
    expect(store.queries.get('old-2')?.heapUsedAtEndBytes).toBe(12_582_912);
    expect(store.queries.stats({}).find((s) => s.template === 'hello')?.heapUsedAtEndBytes.max).toBe(12_582_912);
    // New runs land in the renamed column beside the old ones.
    store.runs.write(runRecord(3, { heapUsedAtEndBytes: 4_194_304 }));
    await store.runs.flush();
    expect(store.queries.get(runRecord(3).id)?.heapUsedAtEndBytes).toBe(4_194_304);
  });

  it('reads runs of a schema-8 database without a memory figure, censoring or limits, and keeps them for new runs', async () => {
    await store.close();
    temp.remove();
    temp = tempDir();
    const old = new Database(temp.db);
    for (const step of MIGRATIONS.filter((m) => m.version <= 8)) old.exec(step.sql);
    old.pragma('user_version = 8');
    old.prepare("INSERT INTO runs (id, template, version, digest, env, tenant, started_at, create_ms, run_ms, cpu_ms, heap_used_at_end_bytes, input_bytes, output_bytes, outcome, error_code, tools, denials, logs_dropped, depth) VALUES ('old-cpu', 'hello', '1.0.0', 'd', 'dev', 'default', 1, 0, 1, 50, 0, 0, 0, 'error', 'E_CPU_LIMIT', '{}', '[]', 0, 0)").run();
    old.close();
    store = openStore({ path: temp.db });
    expect(store.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    const before = store.queries.get('old-cpu');
    expect(before).toMatchObject({ errorCode: 'E_CPU_LIMIT', heapUsedAtEndBytes: 0 });
    // Absent, not 0 and not guessed: the old row never said which limit stopped it or what the run grew the heap by.
    expect(before).not.toHaveProperty('heapGrowthBytes');
    expect(before).not.toHaveProperty('censoredBy');
    expect(before).not.toHaveProperty('limits');
    const stored = store.db.prepare("SELECT heap_growth_bytes, censored_by, limits FROM runs WHERE id = 'old-cpu'").get();
    expect(stored).toEqual({ heap_growth_bytes: null, censored_by: null, limits: null });
    const fresh = runRecord(3, { heapGrowthBytes: 786_432, limits: { cpuMs: 120, timeoutMs: 900, memoryMb: 64 } });
    const killed = runRecord(4, { outcome: 'error', errorCode: 'E_TIMEOUT', censoredBy: 'timeoutMs' });
    store.runs.write(fresh);
    store.runs.write(killed);
    await store.runs.flush();
    expect(store.queries.get(fresh.id)).toEqual(fresh);
    expect(store.queries.get(killed.id)).toEqual(killed);
    // A run that was not measured is NULL in the store, never 0.
    expect(store.db.prepare('SELECT heap_growth_bytes FROM runs WHERE id = ?').get(killed.id)).toEqual({ heap_growth_bytes: null });
  });

  it('bounds its queue: past maxQueue records are dropped and counted, never buffered', async () => {
    await store.close();
    store = openStore({ path: temp.db, writer: { maxQueue: 1000, batchSize: 1000, flushIntervalMs: 100 } });
    // No await between writes: the scheduled flush cannot run, as under a burst faster than the disk.
    for (let i = 0; i < 1500; i++) store.runs.write(runRecord(i));
    // The full batch was scheduled for the next turn; until then the queue holds exactly its cap.
    expect(store.runs.queueDepth).toBe(1000);
    expect(store.runs.dropped).toBe(500);
  });

  it('keeps a batch that failed and writes it at the next flush', async () => {
    const errors: Error[] = [];
    await store.close();
    store = openStore({ path: temp.db, writer: { onError: (error) => errors.push(error) } });
    const other = new Database(temp.db, { timeout: 0 });
    other.exec('BEGIN IMMEDIATE');
    // A second connection holds the write lock past the busy timeout of this one.
    store.db.pragma('busy_timeout = 10');
    store.runs.write(runRecord(1));
    store.runs.flushNow();
    expect(errors[0]?.message).toContain('database is locked');
    expect(store.runs.queueDepth).toBe(1);
    other.exec('ROLLBACK');
    other.close();
    store.runs.flushNow();
    expect(store.queries.count()).toBe(1);
  });

  it('writes a long burst in batches, and after a failed batch keeps exactly the records not yet written', async () => {
    const errors: Error[] = [];
    await store.close();
    store = openStore({ path: temp.db, writer: { batchSize: 1000, maxQueue: 5000, onError: (error) => errors.push(error) } });
    for (let i = 0; i < 2500; i++) store.runs.write(runRecord(i));
    store.runs.flushNow();
    expect(store.queries.count()).toBe(2500);
    expect(store.runs.written).toBe(2500);

    for (let i = 2500; i < 5000; i++) store.runs.write(runRecord(i));
    const other = new Database(temp.db, { timeout: 0 });
    store.db.pragma('busy_timeout = 10');
    other.exec('BEGIN IMMEDIATE');
    store.runs.flushNow();
    expect(errors[0]?.message).toContain('database is locked');
    expect(store.runs.queueDepth).toBe(2500);
    other.exec('ROLLBACK');
    other.close();
    store.runs.flushNow();
    expect(store.queries.count()).toBe(5000);
    expect(store.runs.queueDepth).toBe(0);
    expect(store.runs.dropped).toBe(0);
  });

  it('drops and reports a record SQLite refuses, and writes every record around it', async () => {
    const errors: Error[] = [];
    await store.close();
    store = openStore({ path: temp.db, writer: { onError: (error) => errors.push(error) } });
    store.runs.write(runRecord(1));
    // A string where the STRICT table wants a number: without care it would fail every batch it is in, forever.
    store.runs.write(runRecord(2, { createMs: 'slow' as unknown as number }));
    store.runs.write(runRecord(3));
    store.runs.write(runRecord(1)); // the same id again: skipped
    store.runs.flushNow();
    // The next batch has only a duplicate: its one INSERT writes nothing, which is said in one line.
    store.runs.write(runRecord(3));
    store.runs.flushNow();
    expect(store.queries.list({ limit: 10 }).map((run) => run.id).sort()).toEqual([runRecord(1).id, runRecord(3).id]);
    expect(store.runs.queueDepth).toBe(0);
    expect(store.runs.written).toBe(2);
    expect(store.runs.dropped).toBe(3);
    expect(errors.map((error) => error.message)).toEqual([
      expect.stringMatching(new RegExp(`^run record ${runRecord(2).id} was refused and dropped: .*`)),
      `run record ${runRecord(1).id} was skipped and dropped: a duplicate id, or a value a CHECK or NOT NULL constraint of the runs table refuses`,
      '1 run record(s) were skipped and dropped: a duplicate id, or a value a CHECK or NOT NULL constraint of the runs table refuses',
    ]);
  });

  it('flushes on close and drops (counting) what comes after', async () => {
    store.runs.write(runRecord(1));
    await store.runs.close();
    store.runs.write(runRecord(2));
    expect(store.queries.count()).toBe(1);
    expect(store.runs.dropped).toBe(1);
  });
});

describe('queries', () => {
  it('filters runs and computes per-template statistics', async () => {
    for (let i = 0; i < 100; i++) store.runs.write(runRecord(i, { template: i % 4 === 0 ? 'other' : 'hello', runMs: i, outcome: i % 10 === 0 ? 'error' : 'ok', ...(i % 10 === 0 ? { errorCode: 'E_TIMEOUT' as const } : {}) }));
    await store.runs.flush();
    expect(store.queries.list({ template: 'other', limit: 1000 })).toHaveLength(25);
    expect(store.queries.list({ outcome: 'error', limit: 1000 }).every((run) => run.errorCode === 'E_TIMEOUT')).toBe(true);
    expect(store.queries.list({ since: 1_700_000_000_090 })).toHaveLength(10);
    const [hello, other] = store.queries.stats();
    expect(hello).toMatchObject({ template: 'hello', runs: 75, errors: 5, errorsByCode: { E_TIMEOUT: 5 } });
    expect(other).toMatchObject({ template: 'other', runs: 25, errors: 5 });
    // hello holds runMs 1..99 minus multiples of 4: nearest-rank p50 of 75 values is the 38th.
    const helloTimes = Array.from({ length: 100 }, (_, i) => i).filter((i) => i % 4 !== 0);
    expect(hello?.runMs.p50).toBe(helloTimes[37]);
    expect(hello?.runMs.p99).toBe(99);
  });
});

describe('kv', () => {
  const acme = { template: 'hello', tenant: 'acme' };
  const globex = { template: 'hello', tenant: 'globex' };

  it('keeps namespaces apart and lists keys by prefix in order', () => {
    store.kv.set(acme, 'b', '2', 1024);
    store.kv.set(acme, 'a', '1', 1024);
    store.kv.set(acme, 'c:1', '3', 1024);
    store.kv.set(globex, 'a', '"other"', 1024);
    expect(store.kv.get(acme, 'a')).toBe('1');
    expect(store.kv.get(globex, 'a')).toBe('"other"');
    expect(store.kv.list(acme, {})).toEqual(['a', 'b', 'c:1']);
    expect(store.kv.list(acme, { prefix: 'c:' })).toEqual(['c:1']);
    expect(store.kv.delete(acme, 'a')).toBe(true);
    expect(store.kv.delete(acme, 'a')).toBe(false);
    expect(store.kv.get(acme, 'a')).toBeUndefined();
  });

  it('enforces the quota over keys and values, counting overwrites once', () => {
    expect(store.kv.set(acme, 'k', '"12345"', 20)).toEqual({ ok: true, usedBytes: 8 });
    expect(store.kv.set(acme, 'k', '"1234567890"', 20)).toEqual({ ok: true, usedBytes: 13 });
    expect(store.kv.set(acme, 'j', '"123456789"', 20)).toEqual({ ok: false, usedBytes: 13 });
    store.kv.delete(acme, 'k');
    expect(store.kv.set(acme, 'j', '"123456789"', 20)).toEqual({ ok: true, usedBytes: 12 });
  });
});

describe('template versions', () => {
  it('records each digest once, fills in a signature later, and lists versions', () => {
    const version = { name: 'hello', version: '1.0.0', digest: 'a'.repeat(64), manifest: { name: 'hello' }, sources: { 'main.ts': 'f'.repeat(64) }, bundle: 'code' };
    store.versions.record(version);
    store.versions.record({ ...version, signature: { keyId: 'k' } });
    store.versions.record({ ...version, version: '1.1.0', digest: 'b'.repeat(64) });
    expect(store.versions.get('hello', '1.0.0')).toMatchObject({ ...version, signature: { keyId: 'k' } });
    expect(store.versions.list('hello').map((v) => [v.version, v.signed])).toEqual([['1.0.0', true], ['1.1.0', false]]);
  });
});

describe('trust data', () => {
  const key = { id: 'abcdef0123456789', role: 'signer' as const, name: 'signer-1', certificatePem: 'PEM', notBefore: 0, notAfter: 10, createdAt: 1 };

  it('sees a revocation made through another connection', async () => {
    store.trust.addKey(key);
    const clock = createManualClock(1_700_000_000_000);
    const other = openStore({ path: temp.db, clock });
    expect(other.trust.isRevoked(key.id)).toBe(false);
    store.trust.revoke(key.id, 'leaked', 5);
    // It asks SQLite again 100 ms (of its clock) after it last asked.
    clock.advance(99);
    expect(other.trust.isRevoked(key.id)).toBe(false);
    clock.advance(1);
    expect(other.trust.isRevoked(key.id)).toBe(true);
    expect(other.trust.revocation(key.id)).toEqual({ id: key.id, revokedAt: 5, reason: 'leaked' });
    await other.close();
  });

  it('migrates a trust.json from before the store, once', async () => {
    await store.close();
    const file = path.join(temp.dir, 'trust.json');
    writeFileSync(file, JSON.stringify({ version: 1, keys: [key], revocations: [{ id: key.id, revokedAt: 3, reason: 'old' }] }));
    store = openStore({ path: temp.db, migrateTrustFrom: file });
    expect(store.trust.keys()).toEqual([key]);
    expect(store.trust.isRevoked(key.id)).toBe(true);
    expect(readFileSync(`${file}.migrated`, 'utf8')).toContain(key.id);
    expect(store.audit.list({ type: 'key.migrated' })).toHaveLength(1);
  });
});

describe('tenants and API keys', () => {
  it('stores only a hash, authenticates the key once shown, and refuses wrong, malformed and revoked keys', () => {
    const { record, key } = store.tenants.createApiKey('acme', 'operator', 'ci');
    expect(key).toMatch(/^afk_[0-9a-f]{12}_[A-Za-z0-9_-]{32}$/);
    const row = store.db.prepare('SELECT * FROM api_keys').get() as Record<string, unknown>;
    // The secret is everything after `afk_<id>_`: base64url may hold "_" itself, so it is not split on it.
    const secret = key.slice('afk_'.length + 12 + 1);
    expect(secret).toHaveLength(32);
    expect(JSON.stringify(row)).not.toContain(secret);
    expect(store.tenants.authenticate(key)).toEqual({ keyId: record.id, tenant: 'acme', role: 'operator' });
    expect(store.tenants.authenticate(`${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`)).toBeUndefined();
    expect(store.tenants.authenticate('Bearer nonsense')).toBeUndefined();
    store.tenants.revokeApiKey(record.id);
    expect(store.tenants.authenticate(key)).toBeUndefined();
    expect(store.tenants.listApiKeys('acme')[0]?.revokedAt).toBeTypeOf('number');
    expect(() => store.tenants.createApiKey('acme', 'root' as never)).toThrow('role "root" is not one of viewer, operator, maintainer, admin');
  });
});

describe('data operations', () => {
  it('backs up while runs are being written, and the backup is a sound copy', async () => {
    for (let i = 0; i < 500; i++) store.runs.write(runRecord(i));
    await store.runs.flush();
    const writing = setInterval(() => {
      for (let i = 0; i < 50; i++) store.runs.write(runRecord(10_000 + Math.floor(Math.random() * 1e6)));
    }, 1);
    const file = path.join(temp.dir, 'backup.db');
    await store.backup(file);
    clearInterval(writing);
    const copy = new Database(file, { readonly: true });
    expect(copy.pragma('integrity_check', { simple: true })).toBe('ok');
    expect((copy.prepare('SELECT count(*) AS n FROM runs').get() as { n: number }).n).toBeGreaterThanOrEqual(500);
    copy.close();
    await expect(store.backup(file)).rejects.toMatchObject({ code: 'E_USAGE' });
  });

  it('restores a sound backup and refuses one that fails integrity_check, changing nothing', async () => {
    store.runs.write(runRecord(1));
    await store.runs.flush();
    const good = path.join(temp.dir, 'good.db');
    await store.backup(good);
    store.runs.write(runRecord(2));
    await store.close();

    const corrupt = path.join(temp.dir, 'corrupt.db');
    const bytes = readFileSync(good);
    // Keep the header, scramble the pages behind it.
    for (let i = 4096; i < bytes.length; i += 7) bytes[i] = 0xa5;
    writeFileSync(corrupt, bytes);
    expect(() => restoreDatabase(corrupt, temp.db)).toThrow(expect.objectContaining({ code: 'E_STORE', message: expect.stringMatching(/nothing was restored$/) }));
    store = openStore({ path: temp.db });
    expect(store.queries.count()).toBe(2);
    await store.close();

    expect(restoreDatabase(good, temp.db)).toEqual({ previous: `${temp.db}.before-restore` });
    store = openStore({ path: temp.db });
    expect(store.queries.count()).toBe(1);
  });

  it('prunes old runs and keeps the audit log, recording the prune in it', async () => {
    const clock = createManualClock(1_700_000_000_000 + 100);
    await store.close();
    store = openStore({ path: temp.db, clock });
    for (let i = 0; i < 100; i++) store.runs.write(runRecord(i));
    store.audit.append({ type: 'test', subject: 'x' });
    expect(store.prune(50, clock.now())).toBe(50);
    expect(store.queries.count()).toBe(50);
    expect(store.audit.list().map((entry) => entry.type)).toEqual(['store.pruned', 'test']);
    expect(store.audit.verify().ok).toBe(true);
  });

  it('exports runs and the audit log as zstd JSON lines that read back', async () => {
    for (let i = 0; i < 2500; i++) store.runs.write(runRecord(i));
    store.audit.append({ type: 'key.created', subject: 'k', data: { name: 'signer-1' } });
    const file = path.join(temp.dir, 'export.jsonl.zst');
    expect(await store.export(file)).toMatchObject({ runs: 2500, audit: 1 });
    const magic = readFileSync(file).subarray(0, 4).toString('hex');
    expect(magic).toBe('28b52ffd');
    const lines = await readExport(file);
    expect(lines).toHaveLength(2501);
    expect(lines[0]).toMatchObject({ kind: 'run', id: 'run-00000000', template: 'hello' });
    expect(lines[2500]).toMatchObject({ kind: 'audit', seq: 1, type: 'key.created', subject: 'k', data: { name: 'signer-1' } });
  });
});

describe('retired versions', () => {
  it('are kept once per name and version, seen at once by this connection and within 100 ms by another', async () => {
    const clock = createManualClock(1_700_000_000_000);
    const other = openStore({ path: temp.db, clock });
    try {
      expect(other.trust.retirement('hello', '1.0.0')).toBeUndefined();
      store.trust.retire({ name: 'hello', version: '1.0.0', retiredAt: 5, reason: 'CVE', by: 'ops' });
      store.trust.retire({ name: 'hello', version: '1.0.0', retiredAt: 9, reason: 'again', by: 'someone' });
      expect(store.trust.retirement('hello', '1.0.0')).toEqual({ name: 'hello', version: '1.0.0', retiredAt: 5, reason: 'CVE', by: 'ops' });
      expect(store.trust.retirement('hello', '1.0.1')).toBeUndefined();
      clock.advance(100);
      expect(other.trust.retirement('hello', '1.0.0')?.reason).toBe('CVE');
      expect(other.trust.retirements()).toHaveLength(1);
    } finally {
      await other.close();
    }
  });

  it('a trust.json store keeps them across key changes', async () => {
    const { JsonTrustStore } = await import('../../templates/index.js');
    const json = new JsonTrustStore(path.join(temp.dir, 'trust.json'), { pollMs: 0 });
    json.retire({ name: 'hello', version: '2.0.0', retiredAt: 1, reason: 'r', by: 'b' });
    json.addKey({ id: 'k1', role: 'root', name: 'root', certificatePem: 'x', notBefore: 0, notAfter: 1, createdAt: 0 });
    const reopened = new JsonTrustStore(path.join(temp.dir, 'trust.json'), { pollMs: 0 });
    expect(reopened.retirement('hello', '2.0.0')).toMatchObject({ reason: 'r', by: 'b' });
    expect(reopened.keys().map((key) => key.id)).toEqual(['k1']);
  });
});
