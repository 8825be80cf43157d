/** @module cli/commands/store-migrate-to — `af store migrate-to URL`: copies the project's SQLite store into an empty PostgreSQL database, verified, in one transaction. */
import { FactoryError } from '../../core/errors.js';
import { plural } from '../../core/plural.js';
import type { MigrationResult } from '../../store/migrate-to-postgres.js';
import { redactUrl } from '../../store/postgres/connection-url.js';
import { SqliteStore } from '../../store/index.js';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-status.js';
import { printJson } from '../io.js';
import { withStore } from '../store-access.js';

/**
 * The source is the project's store (`--store sqlite:PATH` names another file); the target is opened with the
 * project's keys folder, which seals and anchors both: a PostgreSQL store migrated from this project is used with the
 * same keys folder. Exit 0 when the copy committed and verifies; 3 when the committed copy's audit log or trust data
 * does not verify (as `af audit-log verify` and `af keys verify` would say); 2 for a URL of another kind, a source that
 * is not SQLite or a target that holds data; 6 when PostgreSQL cannot be reached or fails (nothing is committed).
 */
export async function storeMigrateToCommand(context: CommandContext, url: string, options: { json?: boolean }): Promise<number> {
  if (!/^postgres(ql)?:\/\//i.test(url)) {
    // Never echoed whole: a mistyped scheme can still carry a password.
    const shown = /^[a-z][a-z0-9+.-]*:/i.test(url) ? `a ${url.slice(0, url.indexOf(':'))}: location` : JSON.stringify(url);
    throw new FactoryError('E_USAGE', `af store migrate-to copies the store into PostgreSQL and takes its URL, postgres://USER:PASSWORD@HOST:PORT/DATABASE (or postgresql://…), not ${shown}`);
  }
  const config = context.config();
  return withStore(context, async (store) => {
    if (!(store instanceof SqliteStore)) {
      throw new FactoryError('E_USAGE', `af store migrate-to copies a SQLite store, and this store is ${store.kind} at ${store.location}: name the SQLite file to copy with --store sqlite:PATH`, { details: { kind: store.kind } });
    }
    // Loaded only here: PostgreSQL's driver is not part of a SQLite user's start-up.
    const [{ PostgresStore }, { migrateToPostgres }] = await Promise.all([import('../../store/postgres/postgres-store.js'), import('../../store/migrate-to-postgres.js')]);
    if (!options.json) context.streams.stderr.write(`af store migrate-to: copying ${store.location} into ${redactUrl(url)} (one transaction; nothing is committed unless the copy verifies)…\n`);
    const target = await PostgresStore.open({ url, auditAnchorDir: config.keysDir, maxConnections: 2 });
    let result: MigrationResult;
    try {
      result = await migrateToPostgres(store, target);
    } finally {
      await target.close();
    }
    // The source was checked before the copy; a copy whose trust data the seal does not vouch for is a failure.
    const isSound = result.verification.audit.ok && result.verification.trust.postgres === null;
    if (options.json) printJson(context.streams, result);
    else context.streams.stdout.write(formatMigration(context, result));
    return isSound ? EXIT.ok : EXIT.trust;
  });
}

function formatMigration(context: CommandContext, result: MigrationResult): string {
  const { paint } = context;
  const { copied, verification, audit } = result;
  const n = (table: string) => copied[table] ?? 0;
  const tables = Object.keys(verification.counts).length;
  const lines = [
    `migrated ${result.source} into ${result.target} in ${(result.ms / 1000).toFixed(1)} s:`,
    `  ${plural(n('runs'), 'run')} (${n('run_captures')} with captured failure data), ${plural(n('kv'), 'kv entry', 'kv entries')} in ${plural(n('kv_usage'), 'namespace')}, ${plural(n('template_versions'), 'template version')}`,
    `  ${plural(n('keys'), 'key')}, ${plural(n('revocations'), 'revocation')}, ${plural(n('retired_versions'), 'retired version')}, ${plural(n('tenants'), 'tenant')}, ${plural(n('api_keys'), 'API key')}`,
    `  ${plural(n('suggestions'), 'suggestion')}, ${plural(n('rollouts'), 'rollout')}, ${plural(n('learner_models'), 'learner model')}, ${plural(n('audit'), 'audit entry', 'audit entries')}`,
    `verified before the commit: the same row count in all ${tables} tables; ${verification.comparedTables.length} tables compared row by row; ${plural(verification.runsCompared, 'run')} and ${plural(verification.capturesCompared, 'capture')} compared field by field`,
  ];
  const head = audit.sourceHead ? `its head #${audit.sourceHead.seq} ${audit.sourceHead.hash.slice(0, 16)}` : 'an empty log';
  if (verification.audit.ok) {
    lines.push(`${paint.green('✓')} audit log intact in PostgreSQL: ${plural(verification.audit.entries, 'entry', 'entries')}; the SQLite chain is the system chain with its hashes unchanged, then store.migrated (#${audit.migratedEntry}) naming ${head}`);
  } else {
    lines.push(`${paint.red('✗')} the audit log in PostgreSQL does not verify: ${verification.audit.firstBad.message} (run \`af audit-log verify --store URL\`)`);
  }
  if (audit.anchor === 'unwritten') lines.push(paint.yellow(`  the audit anchor in the keys folder could not be written by this process: run \`af audit-log verify --store URL\` as the user who owns the keys folder`));
  if (audit.anchor === 'reanchored') lines.push(paint.yellow("  the keys folder's PostgreSQL anchor vouched for another database: re-anchored, and the audit.reanchored entry records what it said"));
  const { trust } = verification;
  if (trust.postgres === null) lines.push(`${paint.green('✓')} trust data: the keys folder's seal vouches for the copied keys, revocations and retirements`);
  else lines.push(`${paint.red('✗')} trust data in PostgreSQL: ${trust.postgres}${trust.sqlite === null ? ' (the SQLite file was sound: run `af keys verify --store URL`)' : ' (copied as it was in the SQLite file, which has the same problem)'}`);
  lines.push(`next: stop what still writes ${result.source}, point every node at the database (AF_STORE_URL or --store) and give each the same keys folder`);
  return `${lines.join('\n')}\n`;
}
