/** @module cli/commands/store — `af store backup|restore|prune|export` and `af audit-log verify|list`. */
import { restoreDatabase } from '../../store/index.js';
import { escapeLine } from '../../core/terminal-text.js';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-status.js';
import { formatTable, printJson } from '../io.js';
import { withStore } from '../store-access.js';
import { parseDuration } from '../time-arguments.js';

export function storeBackupCommand(context: CommandContext, file: string, options: { json?: boolean }): Promise<number> {
  return withStore(context, async (store) => {
    store.runs.flushNow();
    const { pages } = await store.backup(file);
    if (options.json) printJson(context.streams, { file, pages });
    else context.streams.stdout.write(`backed up ${context.config().dbPath} to ${file} (${pages} pages)\n`);
    return EXIT.ok;
  });
}

export function storeRestoreCommand(context: CommandContext, file: string, options: { json?: boolean }): number {
  const { previous } = restoreDatabase(file, context.config().dbPath);
  if (options.json) printJson(context.streams, { restored: file, previous: previous ?? null });
  else context.streams.stdout.write(`restored ${file} into ${context.config().dbPath}${previous ? `; the previous database is kept as ${previous}` : ''}\n`);
  return EXIT.ok;
}

export function storePruneCommand(context: CommandContext, options: { olderThan: string; json?: boolean }): Promise<number> {
  const olderThanMs = parseDuration(options.olderThan, '--older-than');
  return withStore(context, (store) => {
    const deleted = store.prune(olderThanMs);
    if (options.json) printJson(context.streams, { deleted });
    else context.streams.stdout.write(`deleted ${deleted} runs older than ${options.olderThan}; the audit log is kept\n`);
    return EXIT.ok;
  });
}

export function storeExportCommand(context: CommandContext, file: string, options: { json?: boolean }): Promise<number> {
  return withStore(context, async (store) => {
    const counts = await store.export(file);
    if (options.json) printJson(context.streams, { file, ...counts });
    else context.streams.stdout.write(`exported ${counts.runs} runs and ${counts.audit} audit entries to ${file} (${counts.bytes} bytes, zstd JSON lines)\n`);
    return EXIT.ok;
  });
}

export function auditVerifyCommand(context: CommandContext, options: { json?: boolean }): Promise<number> {
  return withStore(context, (store) => {
    const result = store.audit.verify();
    if (options.json) printJson(context.streams, result);
    else if (result.ok) context.streams.stdout.write(`${context.paint.green('✓')} audit log intact: ${result.entries} entries, head ${result.head.slice(0, 16)}\n`);
    else context.streams.stdout.write(`${context.paint.red('✗')} audit log broken at entry ${result.firstBad.seq}: ${result.firstBad.reason} (${result.entries} entries before it are intact)\n`);
    // A broken chain is a trust failure.
    return result.ok ? EXIT.ok : EXIT.trust;
  });
}

export function auditListCommand(context: CommandContext, options: { type?: string; limit?: string; json?: boolean }): Promise<number> {
  return withStore(context, (store) => {
    const entries = store.audit.list({ ...(options.type ? { type: options.type } : {}), limit: options.limit ? Number.parseInt(options.limit, 10) || 50 : 50 });
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
