/** @module cli/commands/store — `af store backup|restore|prune|export` and `af audit-log verify|reanchor|list`. */
import path from 'node:path';
import { FactoryError } from '../../core/errors.js';
import { plural } from '../../core/plural.js';
import { escapeLine } from '../../core/terminal-text.js';
import { type AuditVerification, restoreDatabase, SqliteStore, type Store } from '../../store/index.js';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-status.js';
import { formatTable, printJson } from '../io.js';
import { parseIntegerFlag } from '../process-lifetime.js';
import { withStore } from '../store-access.js';
import { parseDuration } from '../time-arguments.js';

export function storeBackupCommand(context: CommandContext, file: string, options: { json?: boolean }): Promise<number> {
  return withStore(context, async (store) => {
    const { pages } = await backupStore(store, file);
    if (options.json) printJson(context.streams, { file, pages });
    else context.streams.stdout.write(`backed up ${context.config().dbPath} to ${file} (${pages} pages)\n`);
    return EXIT.ok;
  });
}

/**
 * A consistent copy of a SQLite store, queued run records included (SQLite's online backup).
 * @throws FactoryError `E_USAGE` for any other backend: a PostgreSQL database is backed up with its own tools.
 */
export async function backupStore(store: Store, file: string): Promise<{ pages: number }> {
  const sqlite = requireSqlite(store, 'af store backup', 'back it up with `pg_dump` (see docs/runbook.md)');
  await sqlite.runs.flush();
  return sqlite.backup(file);
}

/** The store as SQLite, for the commands that copy its file. @throws FactoryError `E_USAGE` on another backend. */
function requireSqlite(store: Store, command: string, instead: string): SqliteStore {
  if (store.kind === 'sqlite' && store instanceof SqliteStore) return store;
  throw new FactoryError('E_USAGE', `${command} works on a SQLite store (it copies the database file), and this store is ${store.kind} at ${store.location}: ${instead}`, {
    details: { kind: store.kind },
  });
}

export async function storeRestoreCommand(context: CommandContext, file: string, options: { json?: boolean }): Promise<number> {
  const { previous } = restoreDatabase(file, context.config().dbPath);
  // A backup holds an older log than the anchor vouches for: restoring it on purpose is recorded in the log and
  // re-anchored, or every later verify would call it cut short.
  const reanchored = await withStore(context, (store) => store.audit.reanchor({ actor: 'cli', reason: `store restored from ${file}` }));
  if (options.json) printJson(context.streams, { restored: file, previous: previous ?? null, reanchoredAt: reanchored.seq });
  else context.streams.stdout.write(`restored ${file} into ${context.config().dbPath}${previous ? `; the previous database is kept as ${previous}` : ''}; the audit log is re-anchored at entry #${reanchored.seq}\n`);
  return EXIT.ok;
}

export function storePruneCommand(context: CommandContext, options: { olderThan?: string; capturesOlderThan?: string; json?: boolean }): Promise<number> {
  if (options.olderThan === undefined && options.capturesOlderThan === undefined) {
    throw new FactoryError('E_USAGE', 'say what to prune: --older-than 30d (runs and their captures), --captures-older-than 3d (captured failed-run data only), or both');
  }
  const runsOlderThanMs = options.olderThan !== undefined ? parseDuration(options.olderThan, '--older-than') : undefined;
  const capturesOlderThanMs = options.capturesOlderThan !== undefined ? parseDuration(options.capturesOlderThan, '--captures-older-than') : undefined;
  return withStore(context, async (store) => {
    const { runs, captures } = await store.pruneData({
      ...(runsOlderThanMs !== undefined ? { runsOlderThanMs } : {}),
      ...(capturesOlderThanMs !== undefined ? { capturesOlderThanMs } : {}),
    });
    if (options.json) printJson(context.streams, { deleted: runs, captures });
    else {
      const parts = [
        ...(options.olderThan !== undefined ? [`${plural(runs, 'run')} older than ${options.olderThan}`] : []),
        plural(captures, 'captured failed run'),
      ];
      context.streams.stdout.write(`deleted ${parts.join(' and ')}; the audit log is kept\n`);
    }
    return EXIT.ok;
  });
}

/** `af store export FILE`: the format follows the name, so a file is what its extension says (`.jsonl` plain, `.jsonl.zst` compressed). */
export function storeExportCommand(context: CommandContext, file: string, options: { json?: boolean }): Promise<number> {
  const compress = exportCompression(file);
  return withStore(context, async (store) => {
    const counts = await store.export(path.resolve(context.streams.cwd, file), { compress });
    if (options.json) printJson(context.streams, { file, compressed: compress, ...counts });
    else context.streams.stdout.write(`exported ${plural(counts.runs, 'run')} and ${plural(counts.audit, 'audit entry', 'audit entries')} to ${file} (${plural(counts.bytes, 'byte')}, ${compress ? 'zstd-compressed ' : ''}JSON lines)\n`);
    return EXIT.ok;
  });
}

function exportCompression(file: string): boolean {
  const name = file.toLowerCase();
  if (name.endsWith('.zst')) return true;
  if (name.endsWith('.jsonl') || name.endsWith('.ndjson')) return false;
  const stem = path.basename(file).replace(/\.[^.]*$/, '');
  throw new FactoryError(
    'E_USAGE',
    `af store export writes JSON lines (one run or audit entry per line), which ${JSON.stringify(path.basename(file))} would not say: name it ${stem}.jsonl (plain) or ${stem}.jsonl.zst (zstd-compressed)`,
  );
}

/**
 * `af audit-log verify`: the verdict is data (`{ ok, entries, head, anchor }` or `{ ok: false, entries, firstBad: { seq,
 * kind, message } }`), printed as is with `--json`. Exit 3 (trust) for a damaged log: the log worked as designed and
 * found that history cannot be trusted, as a bad signature does; 5 stays for failures of af itself.
 */
export function auditVerifyCommand(context: CommandContext, options: { json?: boolean }): Promise<number> {
  return withStore(context, async (store) => {
    const result = await store.audit.verify();
    if (options.json) printJson(context.streams, result);
    else context.streams.stdout.write(formatVerification(context, result));
    return result.ok ? EXIT.ok : EXIT.trust;
  });
}

function formatVerification(context: CommandContext, result: AuditVerification): string {
  const { paint } = context;
  if (!result.ok) {
    return `${paint.red('✗')} audit log broken at entry #${result.firstBad.seq} (${result.firstBad.kind}): ${result.firstBad.message} (${plural(result.entries, 'entry', 'entries')} before it ${result.entries === 1 ? 'is' : 'are'} intact)\n`;
  }
  const lines = [`${paint.green('✓')} audit log intact: ${plural(result.entries, 'entry', 'entries')}, head ${result.head.slice(0, 16)}`];
  const { anchor } = result;
  if (!anchor) lines.push(paint.yellow('  not anchored: entries cut from the end would not show'));
  else {
    lines.push(`  anchored at entry #${anchor.seq} (${new Date(anchor.at).toISOString()})${anchor.since > 0 ? `; entries up to #${anchor.since} were taken as found when the anchor was created` : ''}`);
    if (anchor.created) lines.push(paint.yellow(`  the log had no anchor: one was created now, vouching for the log as it is (entries up to #${anchor.seq})`));
    if (anchor.unanchored > 0) {
      lines.push(paint.yellow(`  ${anchor.unanchored} newer entries are not anchored yet (written by a process that could not update the anchor); the next append takes them in`));
    }
  }
  return `${lines.join('\n')}\n`;
}

/** `af audit-log reanchor --reason TEXT`: accepts the log as it is now, recording why in the log itself. */
export function auditReanchorCommand(context: CommandContext, options: { reason?: string; json?: boolean }): Promise<number> {
  const reason = options.reason?.trim();
  if (!reason) throw new FactoryError('E_USAGE', 'give a reason (--reason): it is kept in the log with what the anchor said before');
  return withStore(context, async (store) => {
    const entry = await store.audit.reanchor({ actor: 'cli', reason });
    if (options.json) printJson(context.streams, entry);
    else context.streams.stdout.write(`the audit log is re-anchored at entry #${entry.seq}; previously: ${JSON.stringify(entry.data.previous)}\n`);
    return EXIT.ok;
  });
}

export function auditListCommand(context: CommandContext, options: { type?: string; limit?: string; json?: boolean }): Promise<number> {
  return withStore(context, async (store) => {
    const entries = await store.audit.list({ ...(options.type ? { type: options.type } : {}), limit: options.limit === undefined ? 50 : parseIntegerFlag(options.limit, '--limit', 1, 1_000_000) });
    if (options.json) {
      printJson(context.streams, entries);
      return EXIT.ok;
    }
    // Subjects and data quote what agents and clients did (a denied path, a tenant): text, never terminal controls.
    const rows = entries.map((entry) => [String(entry.seq), new Date(entry.at).toISOString().replace('T', ' ').slice(0, 19), ...[entry.type, entry.actor, entry.subject, JSON.stringify(entry.data).slice(0, 80)].map(escapeLine)]);
    context.streams.stdout.write(`${formatTable(['SEQ', 'AT (UTC)', 'TYPE', 'ACTOR', 'SUBJECT', 'DATA'], rows)}\n`);
    return EXIT.ok;
  });
}
