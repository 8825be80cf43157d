/** @module cli/commands/keys — `af keys init|list|create|rotate|revoke`: the project's signing keys. */
import { openProjectTrust, type KeyRecord, type TrustStore } from '../../templates/index.js';
import type { CommandContext } from '../context.js';
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

export function keysInitCommand(context: CommandContext, options: { json?: boolean }): number {
  const { keyRing, store } = openProjectTrust(context.config(), { pollMs: 0 });
  const { root, signer } = keyRing.init();
  const now = Date.now();
  if (options.json) {
    printJson(context.streams, { root: keyView(store, root, now), signer: keyView(store, signer, now) });
    return EXIT.ok;
  }
  context.streams.stdout.write(
    `created root ${root.id} (${root.name}) and signer ${signer.id} (${signer.name})\nprivate keys: ${context.config().keysDir} (mode 0600; never commit them)\n`,
  );
  return EXIT.ok;
}

export function keysListCommand(context: CommandContext, options: { json?: boolean }): number {
  const { store } = openProjectTrust(context.config(), { pollMs: 0 });
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
}

export function keysCreateCommand(context: CommandContext, options: { name: string; json?: boolean }): number {
  const { keyRing, store } = openProjectTrust(context.config(), { pollMs: 0 });
  const record = keyRing.create(options.name);
  return printKey(context, store, record, 'created signer', options.json);
}

export function keysRotateCommand(context: CommandContext, options: { json?: boolean }): number {
  const { keyRing, store } = openProjectTrust(context.config(), { pollMs: 0 });
  const record = keyRing.rotate();
  return printKey(context, store, record, 'new current signer', options.json, 'older signers stay valid until they expire or are revoked');
}

export function keysRevokeCommand(context: CommandContext, id: string, options: { reason?: string; json?: boolean }): number {
  const { keyRing, store } = openProjectTrust(context.config(), { pollMs: 0 });
  keyRing.revoke(id, options.reason);
  const record = store.key(id) as KeyRecord;
  return printKey(context, store, record, 'revoked', options.json, 'templates it signed are refused from now on, also where already cached');
}

function printKey(context: CommandContext, store: TrustStore, record: KeyRecord, verb: string, isJson = false, note?: string): number {
  if (isJson) printJson(context.streams, keyView(store, record, Date.now()));
  else context.streams.stdout.write(`${verb} ${record.id} (${record.name})${note ? `; ${note}` : ''}\n`);
  return EXIT.ok;
}
