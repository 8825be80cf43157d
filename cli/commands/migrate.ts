/** @module cli/commands/migrate — `af migrate [--check]`: brings the store's schema up to date, or says whether it is. */
import { FactoryError } from '../../core/errors.js';
import { parseStoreLocation } from '../../store/index.js';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-status.js';

export interface MigrateCommandOptions {
  check?: boolean;
  json?: boolean;
}

/**
 * PostgreSQL: applies the missing steps under an advisory lock (nodes starting at the same time wait), or with
 * `--check` changes nothing and exits 1 when steps are missing. SQLite: the file is migrated whenever it is opened, so
 * this opens it (and `--check` reads its version without opening it for writing).
 * @throws FactoryError `E_STORE` for a newer schema than this version knows, or an unreachable store.
 */
export async function migrateCommand(context: CommandContext, options: MigrateCommandOptions = {}): Promise<number> {
  const config = context.config();
  const location = parseStoreLocation(config.store, config.root);
  let report: { store: string; from: number; to: number; latest: number; applied: number[] };
  if (location.kind === 'postgres') {
    const { PgDatabase } = await import('../../store/postgres/connection.js');
    const { migratePostgres, POSTGRES_SCHEMA_VERSION, schemaVersionOf } = await import('../../store/postgres/migrations.js');
    const db = new PgDatabase(location.url);
    try {
      const from = await schemaVersionOf(db);
      if (from > POSTGRES_SCHEMA_VERSION) {
        throw new FactoryError('E_STORE', `the PostgreSQL store at ${db.label} has schema version ${from}, newer than this version of Agent Factory knows (${POSTGRES_SCHEMA_VERSION}); upgrade Agent Factory here`);
      }
      const migrated = options.check ? undefined : await migratePostgres(db);
      report = { store: db.label, from, to: migrated?.to ?? from, latest: POSTGRES_SCHEMA_VERSION, applied: migrated?.applied.map((step) => step.version) ?? [] };
    } finally {
      await db.close();
    }
  } else {
    const { SCHEMA_VERSION, openDatabase } = await import('../../store/index.js');
    // Opening the file for writing migrates it; --check opens it read-only and only reads its version.
    const db = openDatabase(location.path, options.check ? { readonly: true } : {});
    try {
      const version = db.pragma('user_version', { simple: true }) as number;
      report = { store: location.path, from: version, to: version, latest: SCHEMA_VERSION, applied: [] };
    } finally {
      db.close();
    }
  }
  const isCurrent = report.to === report.latest;
  if (options.json) context.streams.stdout.write(`${JSON.stringify({ ...report, current: isCurrent })}\n`);
  else if (report.applied.length > 0) context.streams.stdout.write(`migrated ${report.store} from schema version ${report.from} to ${report.to} (steps ${report.applied.join(', ')})\n`);
  else context.streams.stdout.write(`${report.store} is at schema version ${report.to}${isCurrent ? ', the latest' : `; this version of Agent Factory needs ${report.latest}: run \`af migrate\``}\n`);
  return isCurrent ? EXIT.ok : EXIT.failed;
}
