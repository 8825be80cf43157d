/**
 * @module store/audit-log — the append-only audit log: each entry carries the hash of the one before, so any edit,
 * deletion or reordering shows, and a keyed checkpoint outside the database (store/audit-anchor) catches the deletions
 * a chain alone cannot see: entries cut from the end, or the whole log rewritten.
 */
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import { canonicalJson } from '../core/canonical-json.js';
import type { Clock } from '../core/clock.js';
import { FactoryError } from '../core/errors.js';
import { AuditAnchor, type AuditCheckpoint } from './audit-anchor.js';

/** Hash before the first entry. */
export const GENESIS_HASH = '0'.repeat(64);

export interface AuditInput {
  /** What happened, dotted: `signature.rejected`, `policy.denied`, `permission.denied`, `key.revoked`, `suggestion.accepted`, … */
  type: string;
  /** Who did it: a user, an API key id, or `system`. @default 'system' */
  actor?: string;
  /** What it happened to: a template, key id, suggestion id. */
  subject: string;
  data?: Record<string, unknown>;
  /**
   * The tenant it concerns. PostgreSQL keeps one chain per tenant (and a system chain for entries without one, or for
   * `*`), so tenants do not wait on one another's appends; SQLite keeps one chain for everything and ignores it.
   */
  tenant?: string;
}

export interface AuditEntry {
  seq: number;
  at: number;
  type: string;
  actor: string;
  subject: string;
  data: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

/**
 * What is wrong at the first bad place:
 * - `unreadable`: the audit table cannot be read at all;
 * - `malformed`: a field of the entry is not what the log writes (data that is not a JSON object, NULL, wrong type);
 * - `missing`: a number in the sequence is absent (an entry deleted);
 * - `duplicate`: a number appears twice;
 * - `edited`: the entry's content no longer matches its hash;
 * - `unlinked`: the entry does not name its predecessor's hash (reordered, or a predecessor rewritten);
 * - `truncated`: the log ends before the entry the anchor (or the head row) says was written;
 * - `rewritten`: the entry the anchor vouches for has another hash: the log was rebuilt at or before it;
 * - `anchor-missing`: the anchor's key is there but the checkpoint is not (or it could not be created);
 * - `anchor-invalid`: the checkpoint cannot be read or its MAC does not match.
 */
export type AuditProblemKind = 'unreadable' | 'malformed' | 'missing' | 'duplicate' | 'edited' | 'unlinked' | 'truncated' | 'rewritten' | 'anchor-missing' | 'anchor-invalid';

export interface AuditProblem {
  /** The first entry that cannot be trusted (for problems of the anchor itself: 1, the whole log is unconfirmed). */
  seq: number;
  kind: AuditProblemKind;
  message: string;
}

/** The anchor as verify found it. */
export interface AuditAnchorReport {
  /** The last entry the anchor vouches for. */
  seq: number;
  /** When the checkpoint was written (epoch ms). */
  at: number;
  /** Entries up to this one were taken as found when the anchor was created (0: anchored from the first entry). */
  since: number;
  /**
   * Entries after `seq`, written by a process that could not update the anchor (a version from before anchors, or one
   * not allowed to write the keys folder). Their chain is intact, but deleting them from the end would not show until
   * an append from a process that can write the anchor takes them in.
   */
  unanchored: number;
  /** True when this verify created the anchor: the log had none (a fresh project or a database from before anchors). */
  created: boolean;
}

export type AuditVerification =
  | { ok: true; entries: number; head: string; anchor: AuditAnchorReport | null }
  | { ok: false; entries: number; firstBad: AuditProblem };

export interface AuditLogOptions {
  /**
   * Folder for the anchor (the project's keys folder, `.af/keys`): where those who can write the database cannot
   * write. Without it the log is only hash-chained: edits and gaps show, entries cut from the end do not.
   */
  anchorDir?: string;
}

export interface AuditRow {
  seq: number;
  at: number;
  type: string;
  actor: string;
  subject: string;
  data: string;
  prev_hash: string;
  hash: string;
}

interface Statements {
  last: Database.Statement<[], { seq: number; hash: string }>;
  insert: Database.Statement;
  setHead: Database.Statement;
  head: Database.Statement<[], { seq: unknown; hash: unknown }>;
  list: Database.Statement<[{ type: string; subject: string; afterSeq: number; limit: number }], AuditRow>;
  all: Database.Statement<[], Record<string, unknown>>;
  after: Database.Statement<[number], Record<string, unknown>>;
  hashAt: Database.Statement<[number], { hash: unknown }>;
}

/** A row as `list` shows it: an entry whose data is no longer JSON keeps that data as text under `unreadable`. */
export function listedEntry(row: AuditRow): AuditEntry {
  return {
    seq: row.seq,
    at: row.at,
    type: String(row.type),
    actor: String(row.actor),
    subject: String(row.subject),
    data: parseData(row.data) ?? { unreadable: String(row.data) },
    prevHash: String(row.prev_hash),
    hash: String(row.hash),
  };
}

/** The hash of one entry: SHA-256 over the canonical JSON of everything in it and the previous hash. */
export function entryHash(entry: Omit<AuditEntry, 'hash'>): string {
  return createHash('sha256')
    .update(canonicalJson({ seq: entry.seq, at: entry.at, type: entry.type, actor: entry.actor, subject: entry.subject, data: entry.data, prevHash: entry.prevHash }))
    .digest('hex');
}

export class AuditLog {
  readonly #db: Database.Database;
  readonly #clock: Clock;
  readonly #anchor: AuditAnchor | undefined;
  #prepared: Statements | undefined;
  /** What the anchor held before the append in flight rewrote it, put back if that append does not commit. */
  #anchorBefore: { bytes: Buffer | null } | undefined;
  readonly #appendTx: Database.Transaction<(input: AuditInput, isReanchor: boolean, ownsTransaction: boolean) => AuditEntry>;

  constructor(db: Database.Database, clock: Clock, options: AuditLogOptions = {}) {
    this.#db = db;
    this.#clock = clock;
    this.#anchor = options.anchorDir !== undefined ? new AuditAnchor(options.anchorDir) : undefined;
    this.#appendTx = db.transaction((input: AuditInput, isReanchor: boolean, ownsTransaction: boolean): AuditEntry => {
      const statements = this.#statements();
      // The chain continues from the last entry there is, not from the head row: a deleted head row must not restart it at 1.
      const last = statements.last.get();
      // Decided before the insert, on the log as it was: does the anchor still vouch for the entry this one follows?
      const move = this.#anchor && ownsTransaction ? this.#anchorMove(this.#anchor, last, isReanchor) : undefined;
      // Entries the anchor did not vouch for are taken in, never silently: an entry that says so goes first, and being
      // anchored itself, it stays in the record (they may be a keyless process's, or forged by whoever can write the database).
      const previous = move?.adopted ? this.#insertAdoption(statements, move.adopted, last as { seq: number; hash: string }) : last;
      const entry = {
        seq: (previous?.seq ?? 0) + 1,
        at: clock.now(),
        type: input.type,
        actor: input.actor ?? 'system',
        subject: input.subject,
        data: input.data ?? {},
        prevHash: previous?.hash ?? GENESIS_HASH,
      };
      const hash = entryHash(entry);
      statements.insert.run(entry.seq, entry.at, entry.type, entry.actor, entry.subject, canonicalJson(entry.data), entry.prevHash, hash);
      statements.setHead.run(entry.seq, hash);
      // Inside the transaction: appends of other processes wait on the write lock, so checkpoints are written in order.
      if (this.#anchor && move) this.#writeAnchor(this.#anchor, { seq: entry.seq, hash, at: entry.at, since: move.since }, move.raw, isReanchor);
      return { ...entry, hash };
    });
  }

  /**
   * Appends one entry and moves the anchor to it, when the anchor still vouches for the entry it follows. When it does
   * not (entries were cut or rewritten since), the anchor stays where it is, so `verify` keeps naming the damage.
   * @throws FactoryError `E_STORE` when the audit table cannot be written.
   */
  append(input: AuditInput): AuditEntry {
    return this.#appendWithAnchor(input, false);
  }

  /**
   * Accepts the log as it is now: appends an `audit.reanchored` entry saying why and what the anchor said before, and
   * moves the anchor to it. For a restored backup (an older log, on purpose) or after damage has been looked into.
   * Damage inside the chain (an edited entry, a gap) stays visible: only the anchor moves.
   * @throws FactoryError `E_USAGE` when this log has no anchor folder; `E_STORE` when the anchor cannot be written.
   */
  reanchor(options: { reason: string; actor?: string }): AuditEntry {
    const anchor = this.#anchor;
    if (!anchor) throw new FactoryError('E_USAGE', 'this store has no anchor folder: open it with the project configuration (`af` does)');
    const state = anchor.read();
    const previous = state.kind === 'ok' ? { seq: state.checkpoint.seq, hash: state.checkpoint.hash, at: state.checkpoint.at } : state.kind;
    return this.#appendWithAnchor({ type: 'audit.reanchored', actor: options.actor ?? 'system', subject: 'audit-log', data: { reason: options.reason, previous } }, true);
  }

  /** Newest first. An entry whose data is no longer JSON is listed with that data as text under `unreadable`. */
  list(filter: { type?: string; subject?: string; afterSeq?: number; limit?: number } = {}): AuditEntry[] {
    return this.#statements()
      .list.all({ type: filter.type ?? '', subject: filter.subject ?? '', afterSeq: filter.afterSeq ?? 0, limit: filter.limit ?? 100 })
      .map(listedEntry);
  }

  /**
   * Walks the whole chain in order, then compares its end with the anchor. Names the first entry that is malformed,
   * missing, duplicated, edited or out of place, then a log that ends before the anchored entry (truncated) or holds
   * another entry there (rewritten), or an anchor that is missing or forged. Never throws on damaged data.
   * A log with no anchor yet (a fresh project, a database from before anchors) whose chain is intact is anchored here.
   */
  verify(): AuditVerification {
    const walk = new ChainWalk();
    let statements: Statements;
    try {
      statements = this.#statements();
    } catch (error) {
      return { ok: false, entries: 0, firstBad: { seq: 1, kind: 'unreadable', message: (error as Error).message } };
    }
    // Without the write lock: the terminal UI verifies every few seconds and runs must not wait on it.
    const problem = walkRows(walk, () => statements.all.iterate());
    if (problem) return { ok: false, entries: walk.count, firstBad: problem };
    // Then, holding the write lock, the entries appended meanwhile and the anchor: an append in flight has written
    // its checkpoint before its commit, and must not be mistaken for a log cut short.
    const locked = this.#db.transaction(() => walkRows(walk, () => statements.after.iterate(walk.seq)) ?? this.#compareWithAnchor(walk, statements));
    let result: AuditProblem | AuditAnchorReport | null;
    try {
      result = locked.immediate();
    } catch (error) {
      throw new FactoryError('E_STORE', `could not lock the database to compare the audit log with its anchor: ${(error as Error).message}; try again`, { cause: error });
    }
    if (result !== null && 'kind' in result) return { ok: false, entries: walk.count, firstBad: result };
    return { ok: true, entries: walk.count, head: walk.hash, anchor: result };
  }

  #appendWithAnchor(input: AuditInput, isReanchor: boolean): AuditEntry {
    // Inside a caller's transaction the append is a savepoint that may still roll back after the checkpoint is written:
    // leave the anchor for the next append, which takes this entry in once it is committed.
    const ownsTransaction = !this.#db.inTransaction;
    if (isReanchor && !ownsTransaction) throw new FactoryError('E_USAGE', 'reanchor the audit log outside any open transaction');
    try {
      return this.#appendTx.immediate(input, isReanchor, ownsTransaction);
    } catch (error) {
      // The transaction rolled back: a checkpoint naming its entry would read as a log cut short.
      if (this.#anchorBefore && this.#anchor) this.#anchor.restore(this.#anchorBefore.bytes);
      throw error instanceof FactoryError ? error : new FactoryError('E_STORE', `could not append to the audit log: ${(error as Error).message}`, { cause: error });
    } finally {
      this.#anchorBefore = undefined;
    }
  }

  /** Records, as an entry of its own, that entries `from`–`to` were taken in without the anchor having vouched for them. */
  #insertAdoption(statements: Statements, adopted: { from: number; to: number }, last: { seq: number; hash: string }): { seq: number; hash: string } {
    const entry = {
      seq: last.seq + 1,
      at: this.#clock.now(),
      type: 'audit.unanchored',
      actor: 'system',
      subject: 'audit-log',
      data: {
        ...adopted,
        message: `entries #${adopted.from}–#${adopted.to} were written without the keys folder (by a process that cannot write it, or by someone editing the database); they chain correctly, but nothing vouches for them`,
      },
      prevHash: last.hash,
    };
    const hash = entryHash(entry);
    statements.insert.run(entry.seq, entry.at, entry.type, entry.actor, entry.subject, canonicalJson(entry.data), entry.prevHash, hash);
    return { seq: entry.seq, hash };
  }

  /**
   * The `since` the checkpoint of the next entry carries (and the file it replaces), the entries it takes in without
   * having vouched for them, or undefined when the anchor must stay where it is.
   */
  #anchorMove(
    anchor: AuditAnchor,
    last: { seq: number; hash: string } | undefined,
    isReanchor: boolean,
  ): { since: number; raw: Buffer | null; adopted?: { from: number; to: number } } | undefined {
    const state = anchor.read();
    // Never anchored (or accepted on purpose): what is there now is taken as found.
    if (isReanchor || state.kind === 'none') return { since: last?.seq ?? 0, raw: state.raw };
    if (state.kind === 'ok' && this.#vouchesFor(state.checkpoint, last)) {
      const lastSeq = last?.seq ?? 0;
      const adopted = lastSeq > state.checkpoint.seq ? { adopted: { from: state.checkpoint.seq + 1, to: lastSeq } } : {};
      return { since: state.checkpoint.since, raw: state.raw, ...adopted };
    }
    // Missing, forged, or the log was cut or rewritten since: moving the anchor would hide it.
    return undefined;
  }

  #writeAnchor(anchor: AuditAnchor, checkpoint: AuditCheckpoint, raw: Buffer | null, isReanchor: boolean): void {
    try {
      anchor.write(checkpoint);
      this.#anchorBefore = { bytes: raw };
    } catch (error) {
      // A process that may not write the keys folder still records what happened; verify counts the entry as unanchored.
      if (isReanchor) throw new FactoryError('E_STORE', `could not write the audit anchor in ${anchor.dir}: ${(error as Error).message}`, { cause: error });
    }
  }

  /** True when the log still holds the checkpoint's entry and the entries after it, up to `last`, chain from it. */
  #vouchesFor(checkpoint: AuditCheckpoint, last: { seq: number; hash: string } | undefined): boolean {
    const lastSeq = last?.seq ?? 0;
    if (checkpoint.seq > lastSeq) return false;
    if (checkpoint.seq === lastSeq) return checkpoint.hash === (last?.hash ?? GENESIS_HASH);
    // Behind (an older version or a process without the keys appended meanwhile): check only the entries since.
    const walk = new ChainWalk(checkpoint.seq, checkpoint.hash);
    const statements = this.#statements();
    if (checkpoint.seq > 0 && statements.hashAt.get(checkpoint.seq)?.hash !== checkpoint.hash) return false;
    return walkRows(walk, () => statements.after.iterate(checkpoint.seq)) === undefined && walk.seq === lastSeq;
  }

  #compareWithAnchor(walk: ChainWalk, statements: Statements): AuditProblem | AuditAnchorReport | null {
    const end = walk.seq;
    const afterEnd = { seq: end + 1, kind: 'truncated' as const };
    let head: { seq: unknown; hash: unknown } | undefined;
    try {
      head = statements.head.get();
    } catch {
      head = undefined;
    }
    // The head row is kept for versions from before anchors; it still tells of entries cut from the end when it is there.
    if (head && typeof head.seq === 'number' && head.seq > end) {
      return { ...afterEnd, message: `entries after #${end} are missing: the head row says entry #${head.seq} was written` };
    }
    const anchor = this.#anchor;
    if (!anchor) return null;
    const state = anchor.read();
    const reanchorHint = 'if you know why, `af audit-log reanchor --reason "…"` accepts the log as it is now';
    switch (state.kind) {
      case 'none': {
        const checkpoint = { seq: end, hash: walk.hash, at: this.#clock.now(), since: end };
        try {
          anchor.write(checkpoint);
        } catch (error) {
          return { seq: 1, kind: 'anchor-missing', message: `the log has no anchor and one could not be created in ${anchor.dir}: ${(error as Error).message}` };
        }
        return { seq: end, at: checkpoint.at, since: end, unanchored: 0, created: true };
      }
      case 'missing':
        return {
          seq: 1,
          kind: 'anchor-missing',
          message: `the anchor ${state.file} is missing while its key is there: entries cut from the end or a rewritten log would not show; ${reanchorHint}`,
        };
      case 'invalid':
        return { seq: 1, kind: 'anchor-invalid', message: `the anchor ${state.file} cannot be trusted: ${state.reason}; ${reanchorHint}` };
      case 'ok': {
        const { checkpoint } = state;
        const anchored = `the anchor (written ${new Date(checkpoint.at).toISOString()}) says the log reached entry #${checkpoint.seq}`;
        if (checkpoint.seq > end) {
          const crash = checkpoint.seq === end + 1 ? `; a process killed while appending it would leave the same trace (entry #${checkpoint.seq} never committed): ${reanchorHint}` : '';
          return { ...afterEnd, message: `entries after #${end} are missing: ${anchored}${crash}` };
        }
        const found = checkpoint.seq === 0 ? GENESIS_HASH : statements.hashAt.get(checkpoint.seq)?.hash;
        if (found !== checkpoint.hash) {
          return { seq: checkpoint.seq, kind: 'rewritten', message: `entry #${checkpoint.seq} is not the entry the anchor vouches for: the log was rewritten at or before it` };
        }
        return { seq: checkpoint.seq, at: checkpoint.at, since: checkpoint.since, unanchored: end - checkpoint.seq, created: false };
      }
    }
  }

  /** Prepared once, on first use: a store whose audit table was dropped still opens, and verify can say so. */
  #statements(): Statements {
    if (this.#prepared) return this.#prepared;
    const db = this.#db;
    try {
      this.#prepared = {
        last: db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1'),
        insert: db.prepare('INSERT INTO audit (seq, at, type, actor, subject, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
        setHead: db.prepare('INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash'),
        head: db.prepare('SELECT seq, hash FROM audit_head WHERE id = 1'),
        list: db.prepare("SELECT * FROM audit WHERE (@type = '' OR type = @type) AND (@subject = '' OR subject = @subject) AND seq > @afterSeq ORDER BY seq DESC LIMIT @limit"),
        all: db.prepare('SELECT seq, at, type, actor, subject, data, prev_hash, hash FROM audit ORDER BY seq'),
        after: db.prepare('SELECT seq, at, type, actor, subject, data, prev_hash, hash FROM audit WHERE seq > ? ORDER BY seq'),
        hashAt: db.prepare('SELECT hash FROM audit WHERE seq = ?'),
      };
    } catch (error) {
      throw new FactoryError('E_STORE', `the audit log cannot be read: ${(error as Error).message}`, { cause: error });
    }
    return this.#prepared;
  }
}

/** The chain as walked so far: the last good entry and how many there were. */
class ChainWalk {
  seq: number;
  hash: string;
  count = 0;

  constructor(seq = 0, hash = GENESIS_HASH) {
    this.seq = seq;
    this.hash = hash;
  }

  /** Checks the next row (in `seq` order) against the chain so far; moves on when it is good. */
  step(row: Record<string, unknown>): AuditProblem | undefined {
    const expected = this.seq + 1;
    const seq = row.seq;
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) {
      return { seq: expected, kind: 'malformed', message: `the entry where #${expected} should be is numbered with ${describe(seq)}, not a whole number from 1` };
    }
    if (seq < expected) return { seq, kind: 'duplicate', message: `entry #${seq} appears more than once` };
    if (seq > expected) return { seq: expected, kind: 'missing', message: `entr${seq - expected > 1 ? `ies #${expected}–#${seq - 1} are` : `y #${expected} is`} missing (deleted)` };
    const fieldProblem = malformedField(row);
    if (fieldProblem) return { seq, kind: 'malformed', message: `entry #${seq} was edited: ${fieldProblem}` };
    const data = readData(row.data);
    if (typeof data === 'string') return { seq, kind: 'malformed', message: `entry #${seq} was edited: its data ${data}` };
    const entry = { seq, at: row.at as number, type: row.type as string, actor: row.actor as string, subject: row.subject as string, data, prevHash: row.prev_hash as string };
    let hash: string;
    try {
      hash = entryHash(entry);
    } catch (error) {
      return { seq, kind: 'malformed', message: `entry #${seq} was edited: its data cannot be hashed (${(error as Error).message})` };
    }
    if (hash !== row.hash) return { seq, kind: 'edited', message: `entry #${seq} was edited: its content does not match its hash` };
    if (entry.prevHash !== this.hash) return { seq, kind: 'unlinked', message: `entry #${seq} does not follow entry #${seq - 1}: the chain was reordered or rewritten` };
    this.seq = seq;
    this.hash = hash;
    this.count++;
    return undefined;
  }
}

/** Steps through rows until the first problem; a table that cannot be read is a problem too, not an exception. */
function walkRows(walk: ChainWalk, rows: () => Iterable<Record<string, unknown>>): AuditProblem | undefined {
  try {
    for (const row of rows()) {
      const problem = walk.step(row);
      if (problem) return problem;
    }
  } catch (error) {
    return { seq: walk.seq + 1, kind: 'unreadable', message: `the audit table cannot be read after entry #${walk.seq}: ${(error as Error).message}` };
  }
  return undefined;
}

const HEX64 = /^[0-9a-f]{64}$/;

export function malformedField(row: Record<string, unknown>): string | undefined {
  if (typeof row.at !== 'number' || !Number.isFinite(row.at)) return `its time is ${describe(row.at)}, not a number`;
  for (const field of ['type', 'actor', 'subject'] as const) {
    if (typeof row[field] !== 'string') return `its ${field} is ${describe(row[field])}, not text`;
  }
  for (const field of ['prev_hash', 'hash'] as const) {
    if (typeof row[field] !== 'string' || !HEX64.test(row[field])) return `its ${field} is ${describe(row[field])}, not a SHA-256 hex digest`;
  }
  return undefined;
}

/** The entry's data as the log wrote it (a JSON object), or what is wrong with it. */
export function readData(text: unknown): Record<string, unknown> | string {
  if (typeof text !== 'string') return `is ${describe(text)}, not JSON text`;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // Not the parser's message: it quotes the text, which whoever edited the row chose.
    return 'is not valid JSON';
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : `is JSON but not an object (${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value})`;
}

export function parseData(text: unknown): Record<string, unknown> | undefined {
  const data = readData(text);
  return typeof data === 'string' ? undefined : data;
}

/**
 * A short account of a value found where something else belonged. Never the text itself: whoever edited the row chose
 * it, and it would reach a terminal.
 */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (Buffer.isBuffer(value)) return `a ${value.length}-byte blob`;
  if (typeof value === 'string') return `text of ${value.length} characters`;
  if (typeof value === 'number' || typeof value === 'bigint') return `the ${typeof value} ${String(value)}`;
  return `a ${typeof value}`;
}
