/** @module store/postgres/data-ops — prune, export and integrity checks of a PostgreSQL store, each safe while other nodes keep writing. */
import { JsonlExportWriter, type ExportCounts } from '../data-ops.js';
import { rowToRecord } from '../run-queries.js';
import { chainDescription } from './audit-log.js';
import type { PgDatabase } from './connection.js';
import { POSTGRES_SCHEMA_VERSION, schemaVersionOf } from './migrations.js';

/** Rows deleted per statement, and per round trip when exporting. */
const BATCH = 5000;
const PAGE = 2000;

/**
 * Deletes rows of `table` older than `before` (epoch ms) in batches, each its own statement (and transaction, unless
 * the caller has one open), so writers never wait long. `SKIP LOCKED`: two nodes pruning at once delete different rows
 * instead of waiting on each other's, and the counts they return add up to what was deleted.
 */
async function pruneTable(db: PgDatabase, statement: { name: string; text: string }, before: number): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = (await db.query(statement, [before, BATCH])).rowCount ?? 0;
    total += deleted;
    if (deleted === 0) return total;
  }
}

/** Deletes runs that started before `before` (epoch ms). The audit log is kept; captures are pruned on their own, as on SQLite. */
export function prunePostgresRuns(db: PgDatabase, before: number): Promise<number> {
  return pruneTable(db, { name: 'af_prune_runs', text: 'DELETE FROM runs WHERE seq IN (SELECT seq FROM runs WHERE started_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)' }, before);
}

/** Deletes the captured data of failed runs that started before `before` (epoch ms): inputs may hold secrets. */
export function prunePostgresCaptures(db: PgDatabase, before: number): Promise<number> {
  return pruneTable(db, { name: 'af_prune_captures', text: 'DELETE FROM run_captures WHERE run_id IN (SELECT run_id FROM run_captures WHERE started_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)' }, before);
}

/**
 * Writes runs and the audit log as JSON lines, in the format of SQLite's export (store/data-ops `exportJsonl`, the
 * same writer): runs oldest first, then audit entries by their number in the log. An audit line carries the same
 * fields in the same order, then `chain` and `chain_seq` (PostgreSQL keeps one chain per tenant: without them the
 * export could not be verified). One REPEATABLE READ snapshot, as SQLite's one read transaction: a consistent export
 * while other nodes write. Rows come a page at a time (keyset paging on an index), so memory stays bounded.
 */
export async function exportPostgresJsonl(db: PgDatabase, file: string, compress = true): Promise<ExportCounts> {
  const writer = await JsonlExportWriter.open(file, compress);
  try {
    await db.transaction(
      async () => {
        // Ties in start time go in the order the runs were written (SQLite's rowid order).
        let after: [number, number] = [Number.MIN_SAFE_INTEGER, 0];
        for (;;) {
          const page = await db.rows<Parameters<typeof rowToRecord>[0] & { seq: number }>(
            { name: 'af_export_runs', text: 'SELECT * FROM runs WHERE (started_at, seq) > ($1, $2) ORDER BY started_at, seq LIMIT $3' },
            [...after, PAGE],
          );
          for (const row of page) writer.run(rowToRecord(row));
          const last = page[page.length - 1];
          if (!last || page.length < PAGE) break;
          after = [last.started_at, last.seq];
        }
        let afterSeq = 0;
        for (;;) {
          const page = await db.rows<Record<string, unknown> & { seq: number }>(
            {
              name: 'af_export_audit',
              text: 'SELECT seq, at, type, actor, subject, data, prev_hash, hash, chain, chain_seq FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2',
            },
            [afterSeq, PAGE],
          );
          for (const row of page) writer.audit(row);
          const last = page[page.length - 1];
          if (!last || page.length < PAGE) break;
          afterSeq = last.seq;
        }
      },
      { isolation: 'repeatable read' },
    );
  } catch (error) {
    writer.abandon();
    throw error;
  }
  return writer.finish();
}

/** The tables of the schema this code knows: each must be there. */
const TABLES = [
  'runs', 'run_captures', 'kv', 'kv_usage', 'template_versions', 'keys', 'revocations', 'retired_versions', 'trust_generation',
  'audit', 'audit_heads', 'tenants', 'api_keys', 'suggestions', 'learner_models', 'rollouts',
];

/**
 * What is wrong with the database, in words; empty when it is sound. SQLite's `integrity_check` reads every page;
 * PostgreSQL guards its pages itself (WAL, and data checksums when the cluster has them; `pg_amcheck` checks indexes),
 * so this checks what is ours and cheap, by index lookups only: the schema version, every table there, the trust
 * generation row, and the audit chains' head rows (each names its chain's last entry, and every chain has one). A full
 * walk of the chains is `af audit-log verify`.
 */
export async function postgresIntegrityProblems(db: PgDatabase): Promise<string[]> {
  const problems: string[] = [];
  const check = async (what: string, work: () => Promise<void>) => {
    try {
      await work();
    } catch (error) {
      problems.push(`${what} could not be checked: ${(error as Error).message}`);
    }
  };
  await check('the schema version', async () => {
    const version = await schemaVersionOf(db);
    if (version !== POSTGRES_SCHEMA_VERSION) problems.push(`the schema version is ${version}, and this version of Agent Factory needs ${POSTGRES_SCHEMA_VERSION}`);
  });
  const missing = new Set<string>();
  await check('the tables', async () => {
    const rows = await db.rows<{ name: string; found: string | null }>('SELECT name, to_regclass(name) AS found FROM unnest($1::text[]) AS name', [TABLES]);
    for (const row of rows) {
      if (row.found === null) {
        missing.add(row.name);
        problems.push(`table ${row.name} is missing`);
      }
    }
  });
  if (!missing.has('trust_generation')) {
    await check('the trust generation', async () => {
      const row = await db.row<{ n: number }>('SELECT count(*)::bigint AS n FROM trust_generation WHERE id = 1');
      if (row?.n !== 1) problems.push('the trust generation row is missing: other nodes cannot tell when trust data changes');
    });
  }
  if (!missing.has('audit') && !missing.has('audit_heads')) {
    await check('the audit chains', async () => {
      const heads = await db.rows<{ chain: string; chain_seq: number; found: boolean | null; beyond: boolean }>(
        `SELECT h.chain, h.chain_seq, a.hash = h.hash AS found,
                EXISTS (SELECT 1 FROM audit b WHERE b.chain = h.chain AND b.chain_seq > h.chain_seq) AS beyond
         FROM audit_heads h LEFT JOIN audit a ON a.chain = h.chain AND a.chain_seq = h.chain_seq ORDER BY h.chain`,
      );
      for (const head of heads) {
        const name = chainDescription(head.chain);
        if (head.found === null) problems.push(`the head row of ${name} names entry #${head.chain_seq}, which is not in the log (entries cut from its end?)`);
        else if (!head.found) problems.push(`the head row of ${name} names entry #${head.chain_seq} with another hash than the log holds`);
        else if (head.beyond) problems.push(`the head row of ${name} names entry #${head.chain_seq}, but the chain goes on after it`);
      }
      // Every chain in the log, one index probe each (a loose scan of the (chain, chain_seq) index), without a head row.
      const headless = await db.rows<{ chain: string }>(
        `WITH RECURSIVE chains(chain) AS (
           (SELECT chain FROM audit ORDER BY chain LIMIT 1)
           UNION ALL
           SELECT (SELECT a.chain FROM audit a WHERE a.chain > c.chain ORDER BY a.chain LIMIT 1) FROM chains c WHERE c.chain IS NOT NULL)
         SELECT chain FROM chains WHERE chain IS NOT NULL AND NOT EXISTS (SELECT 1 FROM audit_heads h WHERE h.chain = chains.chain)`,
      );
      for (const { chain } of headless) problems.push(`${chainDescription(chain)} has entries but no head row: entries cut from its end would not show`);
    });
  }
  return problems;
}
