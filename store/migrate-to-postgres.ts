/** @module store/migrate-to-postgres — copies a SQLite store into an empty PostgreSQL store in one transaction (`af store migrate-to`), keeping ids, order, seals and the audit chain's hashes, and verifies the copy before it commits. */
import { isDeepStrictEqual } from 'node:util';
import { type Clock, systemClock } from '../core/clock.js';
import { FactoryError } from '../core/errors.js';
import { plural } from '../core/plural.js';
import type { AuditVerification } from './audit-log.js';
import { PgAuditLog, SYSTEM_CHAIN } from './postgres/audit-log.js';
import type { PostgresStore } from './postgres/postgres-store.js';
import type { SqliteStore } from './store.js';

/** A column as both dialects hold it: its name, its PostgreSQL type, and how a SQLite value becomes a PostgreSQL one. */
interface Column {
  name: string;
  type: 'text' | 'bigint' | 'int' | 'float8' | 'boolean';
  /** What SQLite is asked for, when it is not the column itself. */
  from?: string;
}

/** One table to copy. Order matters: tenants before the API keys that reference them, keys before revocations. */
interface TableSpec {
  table: string;
  columns: Column[];
  /** What identifies a row, for comparing both sides. */
  key: string[];
  /**
   * SQLite's `rowid` goes into this PostgreSQL identity column (the order rows were written in, which PostgreSQL
   * keeps in a column of its own), and the identity's sequence continues after it.
   */
  rowidInto?: string;
  /** Whether every row is compared after the copy; the big tables are compared by count and by sample instead. */
  compareAll: boolean;
}

const text = (name: string): Column => ({ name, type: 'text' });
const bigint = (name: string): Column => ({ name, type: 'bigint' });
const int = (name: string): Column => ({ name, type: 'int' });
const float8 = (name: string): Column => ({ name, type: 'float8' });
const boolean = (name: string): Column => ({ name, type: 'boolean' });

const TABLES: readonly TableSpec[] = [
  { table: 'tenants', columns: [text('id'), text('name'), bigint('created_at')], key: ['id'], compareAll: true },
  {
    table: 'api_keys',
    columns: [text('id'), text('tenant_id'), text('role'), text('hash'), text('label'), bigint('created_at'), bigint('revoked_at')],
    key: ['id'],
    rowidInto: 'seq',
    compareAll: true,
  },
  { table: 'keys', columns: [text('id'), text('role'), text('name'), text('certificate_pem'), bigint('not_before'), bigint('not_after'), bigint('created_at')], key: ['id'], compareAll: true },
  { table: 'revocations', columns: [text('id'), bigint('revoked_at'), text('reason')], key: ['id'], compareAll: true },
  { table: 'retired_versions', columns: [text('name'), text('version'), bigint('retired_at'), text('reason'), text('retired_by')], key: ['name', 'version'], compareAll: true },
  {
    table: 'template_versions',
    columns: [text('name'), text('version'), text('digest'), text('manifest'), text('sources'), text('bundle'), text('signature'), bigint('recorded_at'), text('manifest_file'), text('source_files'), text('seal')],
    key: ['name', 'digest'],
    compareAll: true,
  },
  {
    table: 'runs',
    columns: [
      text('id'), text('template'), text('version'), text('digest'), text('env'), text('tenant'), bigint('started_at'), float8('create_ms'), float8('run_ms'), float8('cpu_ms'),
      bigint('heap_used_at_end_bytes'), bigint('input_bytes'), bigint('output_bytes'), text('outcome'), text('error_code'), text('tools'), text('denials'), int('logs_dropped'),
      int('depth'), text('parent_id'), text('input_shape'), text('grants_used'), bigint('heap_growth_bytes'), text('censored_by'), text('limits'),
    ],
    key: ['id'],
    rowidInto: 'seq',
    compareAll: false,
  },
  {
    table: 'run_captures',
    columns: [text('run_id'), bigint('started_at'), text('input'), boolean('input_truncated'), text('output'), boolean('output_truncated'), text('error_message'), text('logs'), boolean('logs_truncated'), int('max_bytes')],
    key: ['run_id'],
    compareAll: false,
  },
  { table: 'kv', columns: [text('template'), text('tenant'), text('key'), text('value'), int('bytes'), bigint('updated_at')], key: ['template', 'tenant', 'key'], compareAll: true },
  { table: 'kv_usage', columns: [text('template'), text('tenant'), bigint('bytes')], key: ['template', 'tenant'], compareAll: true },
  {
    table: 'suggestions',
    columns: [
      text('id'), text('kind'), text('template'), text('tenant'), text('base_version'), text('base_digest'), text('patch'), text('evidence'), text('expected_impact'), float8('confidence'),
      text('state'), text('evidence_key'), bigint('created_at'), bigint('decided_at'), text('decided_by'), text('reason'), text('candidate_version'),
    ],
    key: ['id'],
    compareAll: true,
  },
  { table: 'learner_models', columns: [text('template'), text('target'), text('state'), bigint('trained_at'), int('samples')], key: ['template', 'target'], compareAll: true },
  {
    table: 'rollouts',
    columns: [text('template'), text('stable_version'), text('candidate_version'), float8('weight'), text('state'), bigint('started_at'), bigint('decided_at'), text('decision'), text('suggestion_id')],
    key: ['template'],
    compareAll: true,
  },
  {
    // SQLite's single chain becomes the system chain, entry for entry: same number, time, actor, subject, data and
    // hashes (the system chain starts from the same genesis hash, and the hash covers the number), so every hash the
    // SQLite log ever had, its head included, stays valid in PostgreSQL.
    table: 'audit',
    columns: [bigint('seq'), { name: 'chain', type: 'text', from: 'NULL' }, { name: 'chain_seq', type: 'bigint', from: 'seq' }, bigint('at'), text('type'), text('actor'), text('subject'), text('data'), text('prev_hash'), text('hash')],
    key: ['seq'],
    compareAll: false,
  },
];

/** Tables PostgreSQL has and SQLite does not, which must be empty too: a target with queued runs is in use. */
const POSTGRES_ONLY_TABLES = ['run_queue', 'run_results'] as const;

/** Rows per INSERT, and the bytes of text after which a batch goes early (template bundles are large). */
const BATCH_ROWS = 2000;
const BATCH_BYTES = 8 * 1024 * 1024;

/** Held while migrating ('afmt'), so two migrations into one database take turns and the second finds it not empty. */
const MIGRATE_LOCK = 0x61666d74;

export type MigratedTable = (typeof TABLES)[number]['table'];

export interface MigrateToPostgresOptions {
  /** Who the `store.migrated` entry names. @default 'cli' */
  actor?: string;
  /** Runs (and kv entries) compared field by field, spread evenly over the table. @default 100 */
  sample?: number;
  clock?: Clock;
}

/** What `af store migrate-to` reports. */
export interface MigrationResult {
  source: string;
  /** The PostgreSQL URL without its password. */
  target: string;
  /** Rows copied, per table (the audit log's count excludes the `store.migrated` entry). */
  copied: Record<string, number>;
  audit: {
    /** The SQLite chain's last entry, which the `store.migrated` entry names and follows. */
    sourceHead: { seq: number; hash: string } | null;
    /** The log number of the `store.migrated` entry. */
    migratedEntry: number;
    /**
     * What happened to the PostgreSQL anchor in the keys folder: `moved` (created, or moved on from an anchor that
     * vouched for nothing), `reanchored` (it vouched for another database: an `audit.reanchored` entry records what it
     * said), `none` (no keys folder), `unwritten` (the keys folder could not be written: `verification.audit` says
     * what that leaves unanchored).
     */
    anchor: 'moved' | 'reanchored' | 'none' | 'unwritten';
  };
  verification: {
    /** Rows per table on both sides, compared before the commit. */
    counts: Record<string, { sqlite: number; postgres: number }>;
    /** Tables compared row by row, and how many runs, captures and kv entries were compared field by field. */
    comparedTables: string[];
    runsCompared: number;
    capturesCompared: number;
    /** `af audit-log verify` on the PostgreSQL store after the commit (with its anchor). */
    audit: AuditVerification;
    /** The trust gate's verdict on each side after the copy: the same seal vouches for both (null: sound). */
    trust: { sqlite: string | null; postgres: string | null };
  };
  ms: number;
}

type Row = Record<string, unknown>;

/**
 * Copies everything `source` holds into `target`, which must hold no data yet, in ONE PostgreSQL transaction that is
 * verified before it commits (counts, the audit chains, small tables row by row, a sample of runs and captures field
 * by field): on any failure nothing is left in the target. Run records queued in this process are flushed first; the
 * copy is a snapshot of the SQLite file at the moment it starts (a read transaction), so writers elsewhere neither
 * wait nor tear it, and what they write after that moment stays in SQLite only: stop them first.
 *
 * The keys folder goes with the store: the target must be opened with the same one (`af` does), so the trust seal,
 * the version rows' seals and the signatures keep verifying. The audit log is copied into the system chain with its
 * hashes unchanged, followed by one `store.migrated` entry naming the source and its chain's head.
 *
 * @throws FactoryError `E_CONFLICT` when the target holds data; `E_TRUST_STATE` when the source's audit chain does
 * not verify (a broken chain cannot be copied into one that verifies); `E_STORE` when PostgreSQL fails or the copy
 * does not match (nothing committed).
 */
export async function migrateToPostgres(source: SqliteStore, target: PostgresStore, options: MigrateToPostgresOptions = {}): Promise<MigrationResult> {
  const clock = options.clock ?? systemClock;
  const started = performance.now();
  const sample = options.sample ?? 100;
  await source.runs.flush();
  await checkSourceChain(source);
  checkSourceTrust(source);
  const db = source.db;
  let snapshot: Snapshot;
  // A read transaction: one snapshot of the file for every read below (WAL: writers elsewhere go on).
  db.exec('BEGIN');
  try {
    snapshot = await target.db.transaction(async () => {
      await target.db.query('SELECT pg_advisory_xact_lock($1)', [MIGRATE_LOCK]);
      await requireEmpty(target);
      const copied: Record<string, number> = {};
      const sampled = { runs: [] as string[], captures: [] as string[] };
      for (const spec of TABLES) {
        copied[spec.table] = await copyTable(source, target, spec, sample, spec.table === 'runs' ? sampled.runs : spec.table === 'run_captures' ? sampled.captures : undefined);
      }
      await continueSequences(target);
      const head = db.prepare<[], { seq: number; hash: string }>('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1').get() ?? null;
      const entry = await target.audit.append({
        type: 'store.migrated',
        actor: options.actor ?? 'cli',
        subject: 'store',
        data: { from: 'sqlite', source: source.location, sourceHead: head, copied, at: new Date(clock.now()).toISOString() },
      });
      const checked = await verifyCopy(source, target, copied, sampled, clock);
      return { copied, head, migratedEntry: entry.seq, ...checked };
    });
  } finally {
    db.exec('COMMIT');
  }
  const anchor = await anchorAfterCommit(target, source.location);
  // The trust tables were written with SQL: this node reloads them now rather than at its next poll.
  await target.trust.sealChanges().catch(() => {});
  const audit = await target.audit.verify();
  return {
    source: source.location,
    target: target.location,
    copied: snapshot.copied,
    audit: { sourceHead: snapshot.head, migratedEntry: snapshot.migratedEntry, anchor },
    verification: {
      counts: snapshot.counts,
      comparedTables: snapshot.comparedTables,
      runsCompared: snapshot.runsCompared,
      capturesCompared: snapshot.capturesCompared,
      audit,
      trust: { sqlite: source.trust.trustProblem()?.message ?? null, postgres: target.trust.trustProblem()?.message ?? null },
    },
    ms: Math.round(performance.now() - started),
  };
}

interface Snapshot {
  copied: Record<string, number>;
  head: { seq: number; hash: string } | null;
  migratedEntry: number;
  counts: Record<string, { sqlite: number; postgres: number }>;
  comparedTables: string[];
  runsCompared: number;
  capturesCompared: number;
}

/** The source's chain must verify: a broken one would be copied into a PostgreSQL chain that does not. */
async function checkSourceChain(source: SqliteStore): Promise<void> {
  const verdict = source.audit.verify();
  if (verdict.ok) return;
  const { firstBad } = verdict;
  const inChain = ['unreadable', 'malformed', 'missing', 'duplicate', 'edited', 'unlinked'].includes(firstBad.kind);
  throw new FactoryError(
    'E_TRUST_STATE',
    `the audit log of ${source.location} does not verify (entry #${firstBad.seq}, ${firstBad.kind}: ${firstBad.message}), and a copy of it would not verify either: ${
      inChain
        ? 'look into it with `af audit-log verify` and `af audit-log list` first; nothing was copied'
        : 'if you know why, `af audit-log reanchor --reason "…"` accepts the log as it is, then migrate again; nothing was copied'
    }`,
    { details: { firstBad } },
  );
}

/**
 * The source's trust data must be what the keys folder's seal vouches for: rows edited without the keys folder (a
 * revocation or retirement deleted, a key added) would be copied as they are, and the copy refused as the file is.
 */
function checkSourceTrust(source: SqliteStore): void {
  const problem = source.trust.trustProblem();
  if (!problem) return;
  throw new FactoryError('E_TRUST_STATE', `${problem.message}; nothing was copied`, { details: problem.details });
}

/** @throws FactoryError `E_CONFLICT` naming what the target holds. */
async function requireEmpty(target: PostgresStore): Promise<void> {
  const tables = [...TABLES.map((spec) => spec.table), ...POSTGRES_ONLY_TABLES];
  // Writers on the target (a node started too early) wait until the migration commits, and then find it done.
  await target.db.query(`LOCK TABLE ${tables.join(', ')} IN EXCLUSIVE MODE`);
  const row = await target.db.row<Record<string, number>>(`SELECT ${tables.map((table) => `(SELECT count(*) FROM ${table}) AS ${table}`).join(', ')}`);
  const held = Object.entries(row ?? {}).filter(([, count]) => count > 0);
  if (held.length === 0) return;
  throw new FactoryError(
    'E_CONFLICT',
    `the PostgreSQL database at ${target.location} already holds data (${held.map(([table, count]) => `${table}: ${count}`).join(', ')}): af store migrate-to copies into an empty database only, so that nothing is merged or overwritten; create an empty database (\`createdb NAME\`) and migrate into it, or drop and recreate this one if its data is not needed`,
    { details: { held: Object.fromEntries(held) } },
  );
}

/** Copies one table in batches, in SQLite's rowid (or key) order; remembers an evenly spread sample of ids. @returns rows copied */
async function copyTable(source: SqliteStore, target: PostgresStore, spec: TableSpec, sample: number, sampled: string[] | undefined): Promise<number> {
  const db = source.db;
  const total = (db.prepare(`SELECT count(*) AS n FROM ${spec.table}`).get() as { n: number }).n;
  if (total === 0) return 0;
  const every = Math.max(1, Math.ceil(total / Math.max(1, sample)));
  const select = [...(spec.rowidInto ? ['rowid AS __rowid'] : []), ...spec.columns.map((column) => (column.from ? `${column.from} AS ${column.name}` : column.name))].join(', ');
  const order = spec.rowidInto ? 'rowid' : spec.key.join(', ');
  const statement = db.prepare(`SELECT ${select} FROM ${spec.table} ORDER BY ${order}`);
  const columns = [...(spec.rowidInto ? [{ name: spec.rowidInto, type: 'bigint' as const }] : []), ...spec.columns];
  const insert = insertStatement(spec, columns);
  let batch: unknown[][] = columns.map(() => []);
  let rows = 0;
  let bytes = 0;
  let copied = 0;
  const flush = async () => {
    if (rows === 0) return;
    await target.db.query(insert, batch);
    copied += rows;
    batch = columns.map(() => []);
    rows = 0;
    bytes = 0;
  };
  // The iterator stays open across the awaits: nothing else uses this connection meanwhile (the writer was flushed).
  for (const raw of statement.iterate() as Iterable<Row>) {
    const row = toPostgresRow(spec, raw);
    columns.forEach((column, i) => {
      const value = column.name === spec.rowidInto ? raw.__rowid : row[column.name];
      (batch[i] as unknown[]).push(value);
      if (typeof value === 'string') bytes += value.length;
    });
    if (sampled && (copied + rows) % every === 0) sampled.push(String(row[spec.key[0] as string]));
    rows++;
    if (rows >= BATCH_ROWS || bytes >= BATCH_BYTES) await flush();
  }
  await flush();
  return copied;
}

/** One array parameter per column (`unnest`), so a batch is one statement whatever its size. */
function insertStatement(spec: TableSpec, columns: Column[]): string {
  const names = columns.map((column) => column.name);
  const arrays = columns.map((column, i) => `$${i + 1}::${column.type}[]`).join(', ');
  const identity = spec.rowidInto !== undefined || spec.table === 'audit' ? ' OVERRIDING SYSTEM VALUE' : '';
  // A kv entry gets its compare-and-set version as any write does: from the sequence, never reused.
  if (spec.table === 'kv') return `INSERT INTO kv (${names.join(', ')}, version) SELECT u.*, nextval('kv_versions') FROM unnest(${arrays}) AS u(${names.join(', ')})`;
  return `INSERT INTO ${spec.table} (${names.join(', ')})${identity} SELECT * FROM unnest(${arrays})`;
}

/** A SQLite row as PostgreSQL holds it: 0/1 as booleans, the audit entry's chain named. */
function toPostgresRow(spec: TableSpec, raw: Row): Row {
  const row: Row = {};
  for (const column of spec.columns) {
    const value = raw[column.name];
    if (spec.table === 'audit' && column.name === 'chain') row.chain = SYSTEM_CHAIN;
    else if (column.type === 'boolean') row[column.name] = value === null || value === undefined ? null : value !== 0;
    else if (typeof value === 'bigint') row[column.name] = Number(value);
    else row[column.name] = value ?? null;
  }
  return row;
}

/** Identity columns were given SQLite's numbers: their sequences continue after the largest, so new rows follow. */
async function continueSequences(target: PostgresStore): Promise<void> {
  for (const [table, column] of [['runs', 'seq'], ['api_keys', 'seq'], ['audit', 'seq']] as const) {
    await target.db.query(
      `SELECT setval(pg_get_serial_sequence('${table}', '${column}'), coalesce((SELECT max(${column}) FROM ${table}), 1), (SELECT max(${column}) FROM ${table}) IS NOT NULL)`,
    );
  }
}

/**
 * Checks the copy inside its transaction, so a mismatch rolls everything back: counts per table, the audit chains
 * (walked and rehashed, without the anchor, which moves only after the commit), the small tables row by row, and a
 * sample of runs and captures compared as the contract reads them.
 */
async function verifyCopy(
  source: SqliteStore,
  target: PostgresStore,
  copied: Record<string, number>,
  sampled: { runs: string[]; captures: string[] },
  clock: Clock,
): Promise<Pick<Snapshot, 'counts' | 'comparedTables' | 'runsCompared' | 'capturesCompared'>> {
  const mismatches: string[] = [];
  const counts: Record<string, { sqlite: number; postgres: number }> = {};
  for (const spec of TABLES) {
    const sqlite = (source.db.prepare(`SELECT count(*) AS n FROM ${spec.table}`).get() as { n: number }).n;
    const inTarget = (await target.db.row<{ n: number }>(`SELECT count(*)::bigint AS n FROM ${spec.table}`))?.n ?? 0;
    // The audit log has one entry more: the migration's own.
    const postgres = spec.table === 'audit' ? inTarget - 1 : inTarget;
    counts[spec.table] = { sqlite, postgres };
    if (sqlite !== postgres || copied[spec.table] !== sqlite) mismatches.push(`${spec.table}: ${sqlite} rows in SQLite, ${postgres} copied`);
  }
  const chains = await new PgAuditLog(target.db, clock).verify();
  if (!chains.ok) mismatches.push(`the audit log does not verify in PostgreSQL: ${chains.firstBad.message}`);
  const comparedTables: string[] = [];
  for (const spec of TABLES.filter((table) => table.compareAll)) {
    const differing = await compareTable(source, target, spec);
    if (differing) mismatches.push(differing);
    comparedTables.push(spec.table);
  }
  for (const id of sampled.runs) {
    const [before, after] = [source.queries.get(id), await target.queries.get(id)];
    if (!isDeepStrictEqual(before, after)) mismatches.push(`run ${id} differs after the copy`);
  }
  for (const id of sampled.captures) {
    const [before, after] = [source.queries.capture(id), await target.queries.capture(id)];
    if (!isDeepStrictEqual(before, after)) mismatches.push(`the captured data of run ${id} differs after the copy`);
  }
  if (mismatches.length > 0) {
    throw new FactoryError('E_STORE', `the copy into ${target.location} does not match ${source.location} (${mismatches.slice(0, 5).join('; ')}${mismatches.length > 5 ? `; and ${mismatches.length - 5} more` : ''}): nothing was committed`, {
      details: { mismatches },
    });
  }
  return { counts, comparedTables, runsCompared: sampled.runs.length, capturesCompared: sampled.captures.length };
}

/** Every row of a table on both sides, as PostgreSQL holds it. @returns what differs, or undefined */
async function compareTable(source: SqliteStore, target: PostgresStore, spec: TableSpec): Promise<string | undefined> {
  const names = spec.columns.map((column) => column.name);
  const keyOf = (row: Row) => JSON.stringify(spec.key.map((name) => row[name]));
  const before = new Map((source.db.prepare(`SELECT ${names.join(', ')} FROM ${spec.table}`).all() as Row[]).map((raw) => toPostgresRow(spec, raw)).map((row) => [keyOf(row), row]));
  const after = await target.db.rows<Row>(`SELECT ${names.join(', ')} FROM ${spec.table}`);
  let differing = 0;
  for (const row of after) {
    const match = before.get(keyOf(row));
    if (!match || !isDeepStrictEqual({ ...match }, { ...row })) differing++;
  }
  return differing > 0 ? `${plural(differing, 'row')} of ${spec.table} differ` : undefined;
}

/**
 * Moves the PostgreSQL anchor (keys folder) to the chains as committed. When it vouched for another database's chains
 * (an earlier migration into another one), it is re-anchored on the record: the `audit.reanchored` entry says what it
 * said before, so nothing is accepted silently.
 */
async function anchorAfterCommit(target: PostgresStore, from: string): Promise<MigrationResult['audit']['anchor']> {
  // The data is committed whatever happens here: a keys folder this process cannot write is reported (the verify
  // after it names the anchor's state), never thrown as if the migration had failed.
  try {
    if (await target.audit.anchorHeads()) return 'moved';
  } catch {
    return 'unwritten';
  }
  try {
    await target.audit.reanchor({ actor: 'cli', reason: `af store migrate-to: the keys folder's PostgreSQL anchor vouched for another database's audit chains; this one was just migrated from ${from}` });
    return 'reanchored';
  } catch (error) {
    return error instanceof FactoryError && error.code === 'E_USAGE' ? 'none' : 'unwritten';
  }
}
