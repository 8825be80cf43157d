/** @module store/audit-log — the append-only audit log: each entry carries the hash of the one before, so any edit, deletion or reordering shows. */
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import { canonicalJson } from '../core/canonical-json.js';
import type { Clock } from '../core/clock.js';

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

export type AuditVerification =
  | { ok: true; entries: number; head: string }
  | { ok: false; entries: number; firstBad: { seq: number; reason: string } };

interface AuditRow {
  seq: number;
  at: number;
  type: string;
  actor: string;
  subject: string;
  data: string;
  prev_hash: string;
  hash: string;
}

/** The hash of one entry: SHA-256 over the canonical JSON of everything in it and the previous hash. */
export function entryHash(entry: Omit<AuditEntry, 'hash'>): string {
  return createHash('sha256')
    .update(canonicalJson({ seq: entry.seq, at: entry.at, type: entry.type, actor: entry.actor, subject: entry.subject, data: entry.data, prevHash: entry.prevHash }))
    .digest('hex');
}

export class AuditLog {
  readonly #db: Database.Database;
  readonly #append: (input: AuditInput) => AuditEntry;
  readonly #list: Database.Statement<[{ type: string; subject: string; afterSeq: number; limit: number }], AuditRow>;

  constructor(db: Database.Database, clock: Clock) {
    this.#db = db;
    const head = db.prepare<[], { seq: number; hash: string }>('SELECT seq, hash FROM audit_head WHERE id = 1');
    const insert = db.prepare('INSERT INTO audit (seq, at, type, actor, subject, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    const setHead = db.prepare('INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash');
    const append = db.transaction((input: AuditInput): AuditEntry => {
      const last = head.get();
      const entry = {
        seq: (last?.seq ?? 0) + 1,
        at: clock.now(),
        type: input.type,
        actor: input.actor ?? 'system',
        subject: input.subject,
        data: input.data ?? {},
        prevHash: last?.hash ?? GENESIS_HASH,
      };
      const hash = entryHash(entry);
      insert.run(entry.seq, entry.at, entry.type, entry.actor, entry.subject, canonicalJson(entry.data), entry.prevHash, hash);
      setHead.run(entry.seq, hash);
      return { ...entry, hash };
    });
    // Immediate: the read of the head and the insert must not interleave with another process's append.
    this.#append = (input) => append.immediate(input);
    this.#list = db.prepare(
      "SELECT * FROM audit WHERE (@type = '' OR type = @type) AND (@subject = '' OR subject = @subject) AND seq > @afterSeq ORDER BY seq DESC LIMIT @limit",
    );
  }

  append(input: AuditInput): AuditEntry {
    return this.#append(input);
  }

  /** Newest first. */
  list(filter: { type?: string; subject?: string; afterSeq?: number; limit?: number } = {}): AuditEntry[] {
    return this.#list.all({ type: filter.type ?? '', subject: filter.subject ?? '', afterSeq: filter.afterSeq ?? 0, limit: filter.limit ?? 100 }).map(toEntry);
  }

  /**
   * Walks the whole chain in order. Names the first entry whose content no longer matches its hash
   * (edited), whose `prevHash` is not its predecessor's hash (reordered or a predecessor deleted),
   * whose number skips (deleted), or a chain shorter than its recorded head (tail deleted).
   */
  verify(): AuditVerification {
    let expectedPrev = GENESIS_HASH;
    let expectedSeq = 1;
    let count = 0;
    for (const row of this.#db.prepare<[], AuditRow>('SELECT * FROM audit ORDER BY seq').iterate()) {
      const entry = toEntry(row);
      const bad = (reason: string): AuditVerification => ({ ok: false, entries: count, firstBad: { seq: entry.seq, reason } });
      if (entry.seq !== expectedSeq) return bad(`entry ${expectedSeq}${entry.seq - expectedSeq > 1 ? `–${entry.seq - 1}` : ''} is missing (deleted)`);
      if (entryHash(entry) !== entry.hash) return bad(`entry ${entry.seq} was edited: its content does not match its hash`);
      if (entry.prevHash !== expectedPrev) return bad(`entry ${entry.seq} does not follow entry ${entry.seq - 1}: the chain was reordered or rewritten`);
      expectedPrev = entry.hash;
      expectedSeq++;
      count++;
    }
    const head = this.#db.prepare<[], { seq: number; hash: string }>('SELECT seq, hash FROM audit_head WHERE id = 1').get();
    if (head && (head.seq !== count || head.hash !== expectedPrev)) {
      return { ok: false, entries: count, firstBad: { seq: count + 1, reason: `the log ends at entry ${count}, but entry ${head.seq} was written: entries at the end were deleted` } };
    }
    return { ok: true, entries: count, head: expectedPrev };
  }
}

function toEntry(row: AuditRow): AuditEntry {
  return { seq: row.seq, at: row.at, type: row.type, actor: row.actor, subject: row.subject, data: JSON.parse(row.data) as Record<string, unknown>, prevHash: row.prev_hash, hash: row.hash };
}
