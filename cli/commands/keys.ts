/** @module cli/commands/keys — `af keys init|list|create|rotate|revoke`: the project's signing keys. */
import { plural } from '../../core/plural.js';
import type { Store } from '../../store/index.js';
import { describeTrustChange, isRestriction } from '../../core/trust-state.js';
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

async function auditKey(store: Store, type: string, record: KeyRecord, data: Record<string, unknown> = {}): Promise<void> {
  await store.audit.append({ type, actor: 'cli', subject: record.id, data: { name: record.name, role: record.role, ...data } });
}

export function keysInitCommand(context: CommandContext, options: { json?: boolean }): Promise<number> {
  return withStore(context, async (db) => {
    const { keyRing, store } = trustOf(context, db);
    const { root, signer } = await keyRing.init();
    await auditKey(db, 'key.created', root);
    await auditKey(db, 'key.created', signer);
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
  return withStore(context, async (db) => {
    const { keyRing, store } = trustOf(context, db);
    const record = await keyRing.create(options.name);
    await auditKey(db, 'key.created', record);
    return printKey(context, store, record, 'created signer', options.json);
  });
}

export function keysRotateCommand(context: CommandContext, options: { json?: boolean }): Promise<number> {
  return withStore(context, async (db) => {
    const { keyRing, store } = trustOf(context, db);
    const record = await keyRing.rotate();
    await auditKey(db, 'key.rotated', record);
    return printKey(context, store, record, 'new current signer', options.json, 'older signers stay valid until they expire or are revoked');
  });
}

export function keysRevokeCommand(context: CommandContext, id: string, options: { reason?: string; json?: boolean }): Promise<number> {
  return withStore(context, async (db) => {
    const { keyRing, store } = trustOf(context, db);
    await keyRing.revoke(id, options.reason);
    const record = store.key(id) as KeyRecord;
    await auditKey(db, 'key.revoked', record, { reason: options.reason ?? 'revoked by a maintainer' });
    return printKey(context, store, record, 'revoked', options.json, 'templates it signed are refused from now on, also where already cached');
  });
}

function printKey(context: CommandContext, store: TrustStore, record: KeyRecord, verb: string, isJson = false, note?: string): number {
  if (isJson) printJson(context.streams, keyView(store, record, Date.now()));
  else context.streams.stdout.write(`${verb} ${record.id} (${record.name})${note ? `; ${note}` : ''}\n`);
  return EXIT.ok;
}

/**
 * `af keys verify [--repair | --adopt]`: compares the trust tables (keys, revocations, retirements) with the seal in
 * the keys folder. Opening the store seals trust data that was never sealed (trust on first use), so this is also how
 * an installation from before seals is sealed by the user who owns the keys folder.
 * @returns 0 when the data is what the seal vouches for (after a repair or adoption too), 3 when it is not.
 */
export function keysVerifyCommand(context: CommandContext, options: { repair?: boolean; adopt?: boolean; json?: boolean }): Promise<number> {
  return withStore(context, async (db) => {
    const trust = db.trust;
    const { stdout, stderr } = context.streams;
    if (options.repair && options.adopt) {
      stderr.write('choose one: --repair puts back the sealed rows, --adopt seals the rows as they are\n');
      return EXIT.usage;
    }
    if (options.adopt) {
      const before = await trust.sealChanges();
      const state = await trust.adoptAsIs();
      await db.audit.append({ type: 'trust.sealed', actor: 'cli', subject: 'trust', data: { adopted: true, changes: before.map(describeTrustChange), keys: state.keys.map((key) => `${key.id} ${key.role}`) } });
      if (options.json) printJson(context.streams, { ok: true, adopted: before });
      else stdout.write(`sealed the trust data as it is${before.length ? `, taking in: ${before.map(describeTrustChange).join(', ')}` : ''}\n`);
      return EXIT.ok;
    }
    if (options.repair) {
      const undone = await trust.repair();
      await db.audit.append({ type: 'trust.repaired', actor: 'cli', subject: 'trust', data: { undone: undone.map(describeTrustChange) } });
      if (options.json) printJson(context.streams, { ok: trust.trustProblem() === undefined, undone });
      else stdout.write(undone.length ? `put back the sealed trust data, undoing: ${undone.map(describeTrustChange).join(', ')}\n` : 'nothing to repair: the trust data is what the seal vouches for\n');
      return trust.trustProblem() ? EXIT.trust : EXIT.ok;
    }
    const changes = await trust.sealChanges();
    const tampered = changes.filter((change) => !isRestriction(change));
    // Restrictions added by a process that could not write the keys folder: sealed now, by one that can.
    if (tampered.length === 0 && changes.length > 0) await trust.takeIn();
    if (options.json) {
      printJson(context.streams, { ok: tampered.length === 0, changes: tampered, takenIn: tampered.length === 0 ? changes : [] });
      return tampered.length === 0 ? EXIT.ok : EXIT.trust;
    }
    if (tampered.length === 0) {
      const { keys, revocations, retirements } = { keys: trust.keys().length, revocations: trust.keys().filter((key) => trust.isRevoked(key.id)).length, retirements: trust.retirements().length };
      stdout.write(`ok: ${plural(keys, 'key')}, ${plural(revocations, 'revocation')} and ${plural(retirements, 'retirement')} are what the keys folder vouches for\n`);
      if (changes.length > 0) stdout.write(`sealed ${changes.length} made without the keys folder: ${changes.map(describeTrustChange).join(', ')}\n`);
      return EXIT.ok;
    }
    stderr.write(`the trust data was changed without the keys folder; outside dev nothing runs until it is put back:\n${tampered.map((change) => `  ${describeTrustChange(change)}\n`).join('')}`);
    stderr.write('run `af keys verify --repair` to put back the sealed rows (or re-run the command that made a change you meant: `af keys revoke`, `af versions retire`); `af keys verify --adopt` seals the data as it is, after you have reviewed it (a restored backup)\n');
    return EXIT.trust;
  });
}
