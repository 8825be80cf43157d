/** @module cli/commands/keys — `af keys init|list|create|rotate|revoke`: the project's signing keys. */
import type { Store } from '../../store/index.js';
import type { KeyRecord, TrustStore } from '../../templates/index.js';
import type { CommandContext } from '../context.js';
import { trustOf, withStore } from '../store-access.js';
import { EXIT } from '../exit-status.js';
import { formatTable, printJson } from '../io.js';

function keyView(store: TrustStore, record: KeyRecord, now: number) {
  const revoked = store.revocation(record.id);
  const status = revoked ? 'revoked' : now > record.notAfter ? 'expired' : now < record.notBefore ? 'not-yet-valid' : 'active';
  return {
    id: record.id,
    subject: record.name,
    role: record.role,
    notBefore: new Date(record.notBefore).toISOString(),
    notAfter: new Date(record.notAfter).toISOString(),
    status,
    ...(revoked ? { revokedAt: new Date(revoked.revokedAt).toISOString(), reason: revoked.reason } : {}),
  };
}

function auditKey(store: Store, type: string, record: KeyRecord, data: Record<string, unknown> = {}): void {
  store.audit.append({ type, actor: 'cli', subject: record.id, data: { name: record.name, role: record.role, ...data } });
}

export function keysInitCommand(context: CommandContext, options: { json?: boolean }): Promise<number> {
  return withStore(context, (db) => {
    const { keyRing, store } = trustOf(context, db);
    const { root, signer } = keyRing.init();
    auditKey(db, 'key.created', root);
    auditKey(db, 'key.created', signer);
    const now = Date.now();
    if (options.json) {
      printJson(context.streams, { root: keyView(store, root, now), signer: keyView(store, signer, now) });
      return EXIT.ok;
    }
    context.streams.stdout.write(
      `created root ${root.id} (${root.name}) and signer ${signer.id} (${signer.name})\nprivate keys: ${context.config().keysDir} (mode 0600; never commit them)\n`,
    );
    return EXIT.ok;
  });
}

export function keysListCommand(context: CommandContext, options: { json?: boolean }): Promise<number> {
  return withStore(context, (db) => {
    const store = db.trust;
    const now = Date.now();
    const views = store.keys().map((record) => keyView(store, record, now));
    if (options.json) {
      printJson(context.streams, views);
      return EXIT.ok;
    }
    if (views.length === 0) {
      context.streams.stderr.write('no keys yet; run `af keys init`\n');
      return EXIT.ok;
    }
    const { paint } = context;
    const rows = views.map((view) => [
      view.id,
      view.subject,
      view.role,
      view.notBefore.slice(0, 10),
      view.notAfter.slice(0, 10),
      view.status === 'active' ? paint.green(view.status) : paint.red(view.status),
    ]);
    context.streams.stdout.write(`${formatTable(['ID', 'SUBJECT', 'ROLE', 'NOT BEFORE', 'NOT AFTER', 'STATUS'], rows)}\n`);
    return EXIT.ok;
  });
}

export function keysCreateCommand(context: CommandContext, options: { name: string; json?: boolean }): Promise<number> {
  return withStore(context, (db) => {
    const { keyRing, store } = trustOf(context, db);
    const record = keyRing.create(options.name);
    auditKey(db, 'key.created', record);
    return printKey(context, store, record, 'created signer', options.json);
  });
}

export function keysRotateCommand(context: CommandContext, options: { json?: boolean }): Promise<number> {
  return withStore(context, (db) => {
    const { keyRing, store } = trustOf(context, db);
    const record = keyRing.rotate();
    auditKey(db, 'key.rotated', record);
    return printKey(context, store, record, 'new current signer', options.json, 'older signers stay valid until they expire or are revoked');
  });
}

export function keysRevokeCommand(context: CommandContext, id: string, options: { reason?: string; json?: boolean }): Promise<number> {
  return withStore(context, (db) => {
    const { keyRing, store } = trustOf(context, db);
    keyRing.revoke(id, options.reason);
    const record = store.key(id) as KeyRecord;
    auditKey(db, 'key.revoked', record, { reason: options.reason ?? 'revoked by a maintainer' });
    return printKey(context, store, record, 'revoked', options.json, 'templates it signed are refused from now on, also where already cached');
  });
}

function printKey(context: CommandContext, store: TrustStore, record: KeyRecord, verb: string, isJson = false, note?: string): number {
  if (isJson) printJson(context.streams, keyView(store, record, Date.now()));
  else context.streams.stdout.write(`${verb} ${record.id} (${record.name})${note ? `; ${note}` : ''}\n`);
  return EXIT.ok;
}
