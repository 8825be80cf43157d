/** @module store/postgres/audit-log — the audit log in PostgreSQL: one hash chain per tenant plus a system chain, each appended under its own advisory lock. */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../core/canonical-json.js';
import type { Clock } from '../../core/clock.js';
import { FactoryError } from '../../core/errors.js';
import {
  type AuditAnchorReport,
  type AuditEntry,
  type AuditRow,
  type AuditInput,
  type AuditProblem,
  type AuditVerification,
  describe,
  entryHash,
  GENESIS_HASH,
  listedEntry,
  malformedField,
  readData,
} from '../audit-log.js';
import type { AuditStore } from '../contract.js';
import { INSTALLATION_TENANT } from '../tenants.js';
import { type AnchoredHead, ChainAnchor, type ChainCheckpoint, compareBytes } from './chain-anchor.js';
import { type PgDatabase, sqlStateOf } from './connection.js';

/** The chain of entries that concern no one tenant (keys, trust, prunes, the installation's own actions). */
export const SYSTEM_CHAIN = INSTALLATION_TENANT;

/** Advisory-lock class of the audit chains ('afau'); the chain's name, hashed, is the lock's second key. */
const LOCK_CLASS = 0x61666175;

/** Rows read per round trip when walking the log. */
const PAGE = 1000;

/** The chain an entry goes to: its tenant's, or the system chain. */
export function chainOf(tenant: string | undefined): string {
  return tenant ? tenant : SYSTEM_CHAIN;
}

/**
 * The hash before a chain's first entry. The system chain starts from {@link GENESIS_HASH} as SQLite's single chain
 * does, so a SQLite log copied into it keeps its hashes; a tenant chain starts from a hash of its name, so the first
 * entries of one tenant's chain cannot be moved into another's unseen.
 */
export function chainGenesis(chain: string): string {
  if (chain === SYSTEM_CHAIN) return GENESIS_HASH;
  return createHash('sha256').update(canonicalJson({ auditChain: chain })).digest('hex');
}

const LIST_FILTERS = [
  ['type', 'type = $?'],
  ['subject', 'subject = $?'],
] as const;
const LIST_STATEMENTS = Array.from({ length: 1 << LIST_FILTERS.length }, (_, mask) => {
  const conditions = ['seq > $1'];
  LIST_FILTERS.forEach(([, condition], bit) => {
    if (mask & (1 << bit)) conditions.push(condition.replace('$?', `$${conditions.length + 1}`));
  });
  return { name: `af_audit_list_${mask}`, text: `SELECT * FROM audit WHERE ${conditions.join(' AND ')} ORDER BY seq DESC LIMIT $${conditions.length + 1}` };
});

/**
 * The audit log of a PostgreSQL store. What differs from SQLite's (store/audit-log), and why:
 * - one chain per tenant (`AuditInput.tenant`) and a system chain: an append locks only its chain
 *   (`pg_advisory_xact_lock`, released at commit), so nodes serving different tenants never wait on one another;
 * - `seq` is the entry's number in the whole log (an identity, what `list` shows and `afterSeq` takes) and the hash
 *   covers it, as SQLite's does; the chain's own numbering is `chain_seq`, 1, 2, 3… without gaps, which is what
 *   `verify` checks and what its `firstBad.seq` names (its message names the chain and the log's number);
 * - the anchor (store/postgres/chain-anchor) vouches for every chain's head and is written after the append commits,
 *   by this node, when it appended outside a caller's transaction (see {@link PgAuditLog.append}).
 */
export class PgAuditLog implements AuditStore {
  readonly #db: PgDatabase;
  readonly #clock: Clock;
  readonly #anchor: ChainAnchor | undefined;
  /** Anchor updates of this process, one at a time. */
  #anchoring: Promise<unknown> = Promise.resolve();

  constructor(db: PgDatabase, clock: Clock, options: { anchorDir?: string } = {}) {
    this.#db = db;
    this.#clock = clock;
    this.#anchor = options.anchorDir !== undefined ? new ChainAnchor(options.anchorDir) : undefined;
  }

  /**
   * Appends one entry to its tenant's chain (or the system chain), then, with an anchor folder and outside a caller's
   * transaction, moves the anchor to every chain's head as committed now, when it still vouches for the heads it
   * named (cut or rewritten chains keep it where it is, so `verify` keeps naming the damage). Inside a caller's
   * transaction the anchor is left for the next append: the entry may still roll back.
   * @throws FactoryError `E_STORE` when the audit table cannot be written.
   */
  async append(input: AuditInput): Promise<AuditEntry> {
    const ownsTransaction = !this.#db.inTransaction;
    const entry = await this.#insert(input);
    if (this.#anchor && ownsTransaction) await this.#moveAnchor(this.#anchor, undefined).catch(() => {
      // A node that may not write the keys folder still records what happened; verify counts the entry as unanchored.
    });
    return entry;
  }

  /**
   * Moves the anchor to every chain's head as committed now, as an append does: what a node whose appends all happen
   * inside larger transactions (a runner completing runs) calls now and then, so its anchor keeps up.
   * @returns false when there is no anchor folder, or the anchor stays where it is (missing, forged, or a chain it
   * vouched for was cut or rewritten: `verify` says which). @throws FactoryError `E_USAGE` inside a transaction
   */
  async anchorHeads(): Promise<boolean> {
    if (this.#db.inTransaction) throw new FactoryError('E_USAGE', 'anchor the audit log outside any open transaction: its entries may still roll back');
    return this.#anchor ? this.#moveAnchor(this.#anchor, undefined) : false;
  }

  /**
   * Accepts the log as it is now: appends an `audit.reanchored` entry (system chain) saying why and what the anchor
   * said before, and anchors every chain's head as it is. Damage inside a chain stays visible: only the anchor moves.
   * @throws FactoryError `E_USAGE` without an anchor folder or inside a transaction; `E_STORE` when the anchor cannot be written.
   */
  async reanchor(options: { reason: string; actor?: string }): Promise<AuditEntry> {
    const anchor = this.#anchor;
    if (!anchor) throw new FactoryError('E_USAGE', 'this store has no anchor folder: open it with the project configuration (`af` does)');
    if (this.#db.inTransaction) throw new FactoryError('E_USAGE', 'reanchor the audit log outside any open transaction');
    const cannotWrite = (error: unknown) => new FactoryError('E_STORE', `could not write the audit anchor in ${anchor.dir}: ${(error as Error).message}`, { cause: error });
    // Checked first, so a folder that cannot be written fails before the entry is recorded.
    try {
      anchor.ensureKey();
    } catch (error) {
      throw cannotWrite(error);
    }
    const state = anchor.read();
    const previous = state.kind === 'ok' ? { seq: maxSeq(state.checkpoint.heads), at: state.checkpoint.at, chains: state.checkpoint.heads.length } : state.kind;
    // The head rows are rebuilt from the log in the same transaction: they too are taken as found.
    const entry = await this.#insert({ type: 'audit.reanchored', actor: options.actor ?? 'system', subject: 'audit-log', data: { reason: options.reason, previous } }, async () => {
      await this.#db.query('DELETE FROM audit_heads');
      await this.#db.query('INSERT INTO audit_heads (chain, chain_seq, hash) SELECT DISTINCT ON (chain) chain, chain_seq, hash FROM audit ORDER BY chain, chain_seq DESC');
    });
    try {
      await this.#moveAnchor(anchor, entry.seq);
    } catch (error) {
      throw cannotWrite(error);
    }
    return entry;
  }

  /** Newest first (by the log's number), as SQLite's. An entry whose data is no longer JSON is listed with that data as text under `unreadable`. */
  async list(filter: { type?: string; subject?: string; afterSeq?: number; limit?: number } = {}): Promise<AuditEntry[]> {
    let mask = 0;
    const values: unknown[] = [filter.afterSeq ?? 0];
    LIST_FILTERS.forEach(([key], bit) => {
      const value = filter[key];
      if (!value) return;
      mask |= 1 << bit;
      values.push(value);
    });
    values.push(filter.limit ?? 100);
    const rows = await this.#db.rows<AuditRow>(LIST_STATEMENTS[mask] as { name: string; text: string }, values);
    return rows.map(listedEntry);
  }

  /**
   * Walks every chain in order (chains in byte order of their names), then compares each chain's end with its head
   * row and with the anchor. Names the first entry that is malformed, missing, duplicated, edited or out of place, then
   * a chain that ends before its head row or the anchor says (truncated) or holds another entry where the anchor
   * vouches for one (rewritten), or an anchor that is missing or forged. Never throws on damaged data; throws `E_STORE`
   * when the database cannot be reached. A log with no anchor yet whose chains are intact is anchored here.
   *
   * One REPEATABLE READ snapshot, so appends going on meanwhile neither wait nor show half-done; the anchor is read
   * before the snapshot is taken, so every head it names (written after its commit) is in the snapshot.
   */
  async verify(): Promise<AuditVerification> {
    const anchorState = this.#anchor?.read();
    let outcome: { walk: LogWalk; problem?: AuditProblem };
    try {
      const anchored = anchorState?.kind === 'ok' ? anchorState.checkpoint.heads : [];
      outcome = await this.#db.transaction(() => this.#walkLog(anchored), { isolation: 'repeatable read' });
    } catch (error) {
      const state = sqlStateOf(error);
      // An audit table dropped or altered is a broken log; a database that cannot be reached is not.
      if (state === '42P01' || state === '42703') return { ok: false, entries: 0, firstBad: { seq: 1, kind: 'unreadable', message: `the audit log cannot be read: ${(error as Error).message}` } };
      throw error;
    }
    const { walk } = outcome;
    if (outcome.problem) return { ok: false, entries: walk.count, firstBad: outcome.problem };
    const headProblem = walk.compareWithHeads();
    if (headProblem) return { ok: false, entries: walk.count, firstBad: headProblem };
    if (!this.#anchor || !anchorState) return { ok: true, entries: walk.count, head: walk.head(), anchor: null };
    const result = this.#compareWithAnchor(this.#anchor, anchorState, walk);
    if ('kind' in result) return { ok: false, entries: walk.count, firstBad: result };
    return { ok: true, entries: walk.count, head: walk.head(), anchor: result };
  }

  /** Inserts one entry at the end of its chain, in a transaction of its own or the caller's, and runs `then` in it. */
  async #insert(input: AuditInput, then?: () => Promise<void>): Promise<AuditEntry> {
    const db = this.#db;
    const chain = chainOf(input.tenant);
    return db.transaction(async () => {
      // Held until the transaction ends: the next append to this chain reads this entry as its predecessor.
      await db.query({ name: 'af_audit_lock', text: 'SELECT pg_advisory_xact_lock($1, hashtext($2))' }, [LOCK_CLASS, chain]);
      // The chain continues from its last entry, not from the head row: a deleted head row must not restart it at 1.
      // Read after the lock, so under READ COMMITTED it sees the entry the previous holder committed.
      const last = await db.row<{ seq: number; chain_seq: number | null; hash: string | null }>(
        {
          name: 'af_audit_last',
          text: `SELECT nextval(pg_get_serial_sequence('audit', 'seq')) AS seq, last.chain_seq, last.hash
                 FROM (SELECT 1) AS one LEFT JOIN (SELECT chain_seq, hash FROM audit WHERE chain = $1 ORDER BY chain_seq DESC LIMIT 1) AS last ON TRUE`,
        },
        [chain],
      );
      const chainSeq = (last?.chain_seq ?? 0) + 1;
      const entry = {
        seq: last?.seq as number,
        at: this.#clock.now(),
        type: input.type,
        actor: input.actor ?? 'system',
        subject: input.subject,
        data: input.data ?? {},
        prevHash: last?.hash ?? chainGenesis(chain),
      };
      const hash = entryHash(entry);
      await db.query(
        {
          name: 'af_audit_insert',
          text: `WITH entry AS (
                   INSERT INTO audit (seq, chain, chain_seq, at, type, actor, subject, data, prev_hash, hash) OVERRIDING SYSTEM VALUE
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING chain, chain_seq, hash)
                 INSERT INTO audit_heads (chain, chain_seq, hash) SELECT chain, chain_seq, hash FROM entry
                 ON CONFLICT (chain) DO UPDATE SET chain_seq = excluded.chain_seq, hash = excluded.hash`,
        },
        [entry.seq, chain, chainSeq, entry.at, entry.type, entry.actor, entry.subject, canonicalJson(entry.data), entry.prevHash, hash],
      );
      await then?.();
      return { ...entry, hash };
    });
  }

  /**
   * Moves the anchor to every chain's head as committed now. `since` set: a re-anchor, taking the log as found.
   * Otherwise only when the anchor still vouches for what it named (each head it names is still there, same hash):
   * a missing, forged or contradicted anchor stays as it is. A chain whose head row does not name one of its entries
   * keeps the head the anchor had for it. One update at a time per process; across nodes, each writes what it read
   * after its own commit, so a checkpoint never names an entry that did not commit.
   */
  #moveAnchor(anchor: ChainAnchor, since: number | undefined): Promise<boolean> {
    const run = this.#anchoring.then(async (): Promise<boolean> => {
      const state = anchor.read();
      let previous: AnchoredHead[] = [];
      let keepSince: number | undefined = since;
      if (since === undefined) {
        if (state.kind === 'ok') {
          if (!(await this.#stillHolds(state.checkpoint.heads))) return false;
          previous = state.checkpoint.heads;
          keepSince = state.checkpoint.since;
        } else if (state.kind !== 'none') return false;
      }
      const current = await this.#db.rows<{ chain: string; chain_seq: number; seq: number; hash: string }>(
        `SELECT h.chain, h.chain_seq, a.seq, a.hash FROM audit_heads h JOIN audit a ON a.chain = h.chain AND a.chain_seq = h.chain_seq AND a.hash = h.hash`,
      );
      const heads = new Map(previous.map((head) => [head.chain, head]));
      for (const row of current) {
        const before = heads.get(row.chain);
        if (!before || row.chain_seq >= before.chainSeq) heads.set(row.chain, { chain: row.chain, chainSeq: row.chain_seq, seq: row.seq, hash: row.hash });
      }
      const all = [...heads.values()];
      anchor.write({ heads: all, at: this.#clock.now(), since: keepSince ?? maxSeq(all) });
      return true;
    });
    this.#anchoring = run.catch(() => {});
    return run;
  }

  /** True when every head the anchor names is still in the log with the same hash. */
  async #stillHolds(heads: AnchoredHead[]): Promise<boolean> {
    if (heads.length === 0) return true;
    const found = await this.#db.row<{ n: number }>(
      `SELECT count(*)::bigint AS n FROM unnest($1::text[], $2::bigint[], $3::text[]) AS x(chain, chain_seq, hash)
       JOIN audit a ON a.chain = x.chain AND a.chain_seq = x.chain_seq AND a.hash = x.hash`,
      [heads.map((h) => h.chain), heads.map((h) => h.chainSeq), heads.map((h) => h.hash)],
    );
    return found?.n === heads.length;
  }

  /** Walks every chain in (chain, chain_seq) order, a page at a time, inside the caller's snapshot. */
  async #walkLog(anchored: AnchoredHead[]): Promise<{ walk: LogWalk; problem?: AuditProblem }> {
    const heads = await this.#db.rows<{ chain: string; chain_seq: unknown }>('SELECT chain, chain_seq FROM audit_heads');
    const walk = new LogWalk(heads, anchored);
    // Keyset paging on the unique (chain, chain_seq) index; `seq` breaks ties should that constraint ever be dropped.
    let after: [string, number, number] = ['', -1, -1];
    for (;;) {
      const page = await this.#db.rows<Record<string, unknown>>(
        {
          name: 'af_audit_walk',
          text: `SELECT seq, chain, chain_seq, at, type, actor, subject, data, prev_hash, hash FROM audit
                 WHERE (chain, chain_seq, seq) > ($1, $2, $3) ORDER BY chain, chain_seq, seq LIMIT ${PAGE}`,
        },
        after,
      );
      for (const row of page) {
        const problem = walk.step(row);
        if (problem) return { walk, problem };
      }
      if (page.length < PAGE) break;
      const lastRow = page[page.length - 1] as { chain: string; chain_seq: number; seq: number };
      after = [lastRow.chain, lastRow.chain_seq, lastRow.seq];
    }
    walk.finish();
    return { walk };
  }

  #compareWithAnchor(anchor: ChainAnchor, state: NonNullable<ReturnType<ChainAnchor['read']>>, walk: LogWalk): AuditProblem | AuditAnchorReport {
    const reanchorHint = 'if you know why, `af audit-log reanchor --reason "…"` accepts the log as it is now';
    switch (state.kind) {
      case 'none': {
        const heads = walk.heads();
        const checkpoint: ChainCheckpoint = { heads, at: this.#clock.now(), since: maxSeq(heads) };
        try {
          anchor.write(checkpoint);
        } catch (error) {
          return { seq: 1, kind: 'anchor-missing', message: `the log has no anchor and one could not be created in ${anchor.dir}: ${(error as Error).message}` };
        }
        return { seq: checkpoint.since, at: checkpoint.at, since: checkpoint.since, unanchored: 0, created: true };
      }
      case 'missing':
        return { seq: 1, kind: 'anchor-missing', message: `the anchor ${state.file} is missing while its key is there: entries cut from the end or a rewritten chain would not show; ${reanchorHint}` };
      case 'invalid':
        return { seq: 1, kind: 'anchor-invalid', message: `the anchor ${state.file} cannot be trusted: ${state.reason}; ${reanchorHint}` };
      case 'ok': {
        const { checkpoint } = state;
        const written = new Date(checkpoint.at).toISOString();
        let anchored = 0;
        for (const head of [...checkpoint.heads].sort((a, b) => compareBytes(a.chain, b.chain))) {
          const chain = walk.chain(head.chain);
          const name = chainDescription(head.chain);
          const end = chain?.end ?? 0;
          if (head.chainSeq > end) {
            return { seq: end + 1, kind: 'truncated', message: `entries after #${end} of ${name} are missing: the anchor (written ${written}) says it reached entry #${head.chainSeq}` };
          }
          if (chain?.hashAt(head.chainSeq) !== head.hash) {
            return { seq: head.chainSeq, kind: 'rewritten', message: `entry #${head.chainSeq} of ${name} is not the entry the anchor vouches for: the chain was rewritten at or before it` };
          }
          anchored += head.chainSeq;
        }
        return { seq: maxSeq(checkpoint.heads), at: checkpoint.at, since: checkpoint.since, unanchored: walk.count - anchored, created: false };
      }
    }
  }
}

/** A chain as walked: its last good entry, and the hashes at the places the anchor names. */
class ChainState {
  end = 0;
  endSeq = 0;
  hash: string;
  readonly #hashes = new Map<number, string>();

  constructor(readonly chain: string, readonly wanted: ReadonlySet<number>) {
    this.hash = chainGenesis(chain);
  }

  advance(chainSeq: number, seq: number, hash: string): void {
    this.end = chainSeq;
    this.endSeq = seq;
    this.hash = hash;
    if (this.wanted.has(chainSeq)) this.#hashes.set(chainSeq, hash);
  }

  hashAt(chainSeq: number): string | undefined {
    return chainSeq === 0 ? chainGenesis(this.chain) : this.#hashes.get(chainSeq);
  }
}

/** The whole log as walked so far, chain after chain. */
class LogWalk {
  count = 0;
  readonly #chains = new Map<string, ChainState>();
  readonly #headRows: Array<{ chain: string; chain_seq: unknown }>;
  #current: ChainState | undefined;
  /** Per chain, the places whose hash the anchor comparison will ask for. */
  readonly #wanted = new Map<string, Set<number>>();

  constructor(headRows: Array<{ chain: string; chain_seq: unknown }>, anchored: AnchoredHead[] = []) {
    this.#headRows = headRows;
    for (const head of anchored) this.#wanted.set(head.chain, new Set([...(this.#wanted.get(head.chain) ?? []), head.chainSeq]));
  }

  chain(name: string): ChainState | undefined {
    return this.#chains.get(name);
  }

  /** Checks the next row (in chain, chain_seq order) against its chain so far; moves on when it is good. */
  step(row: Record<string, unknown>): AuditProblem | undefined {
    const rowChain = row.chain as string;
    if (this.#current?.chain !== rowChain) {
      this.#current = new ChainState(rowChain, this.#wanted.get(rowChain) ?? new Set());
      this.#chains.set(rowChain, this.#current);
    }
    const chain = this.#current;
    const name = chainDescription(chain.chain);
    const expected = chain.end + 1;
    const chainSeq = row.chain_seq;
    if (typeof chainSeq !== 'number' || !Number.isSafeInteger(chainSeq) || chainSeq < 1) {
      return { seq: expected, kind: 'malformed', message: `the entry where #${expected} of ${name} should be is numbered with ${describe(chainSeq)}, not a whole number from 1` };
    }
    if (chainSeq < expected) return { seq: chainSeq, kind: 'duplicate', message: `entry #${chainSeq} of ${name} appears more than once` };
    const at = typeof row.seq === 'number' ? ` (log entry ${row.seq})` : '';
    if (chainSeq > expected) {
      const what = chainSeq - expected > 1 ? `entries #${expected}–#${chainSeq - 1} of ${name} are` : `entry #${expected} of ${name} is`;
      return { seq: expected, kind: 'missing', message: `${what} missing (deleted): the chain resumes at #${chainSeq}${at}` };
    }
    const seq = row.seq;
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) return { seq: chainSeq, kind: 'malformed', message: `entry #${chainSeq} of ${name} was edited: its number in the log is ${describe(seq)}` };
    const fieldProblem = malformedField(row);
    if (fieldProblem) return { seq: chainSeq, kind: 'malformed', message: `entry #${chainSeq} of ${name}${at} was edited: ${fieldProblem}` };
    const data = readData(row.data);
    if (typeof data === 'string') return { seq: chainSeq, kind: 'malformed', message: `entry #${chainSeq} of ${name}${at} was edited: its data ${data}` };
    const entry = { seq, at: row.at as number, type: row.type as string, actor: row.actor as string, subject: row.subject as string, data, prevHash: row.prev_hash as string };
    let hash: string;
    try {
      hash = entryHash(entry);
    } catch (error) {
      return { seq: chainSeq, kind: 'malformed', message: `entry #${chainSeq} of ${name}${at} was edited: its data cannot be hashed (${(error as Error).message})` };
    }
    if (hash !== row.hash) return { seq: chainSeq, kind: 'edited', message: `entry #${chainSeq} of ${name}${at} was edited: its content does not match its hash` };
    if (entry.prevHash !== chain.hash) return { seq: chainSeq, kind: 'unlinked', message: `entry #${chainSeq} of ${name}${at} does not follow entry #${chainSeq - 1}: the chain was reordered or rewritten` };
    chain.advance(chainSeq, seq, hash);
    this.count++;
    return undefined;
  }

  /** Ends the walk: chains that have a head row but no entry at all are chains too (cut whole). */
  finish(): void {
    for (const row of this.#headRows) {
      if (!this.#chains.has(row.chain)) this.#chains.set(row.chain, new ChainState(row.chain, this.#wanted.get(row.chain) ?? new Set()));
    }
  }

  /** A chain that ends before its head row says it reached: entries cut from its end. */
  compareWithHeads(): AuditProblem | undefined {
    for (const row of [...this.#headRows].sort((a, b) => compareBytes(a.chain, b.chain))) {
      const end = this.#chains.get(row.chain)?.end ?? 0;
      if (typeof row.chain_seq === 'number' && row.chain_seq > end) {
        return { seq: end + 1, kind: 'truncated', message: `entries after #${end} of ${chainDescription(row.chain)} are missing: the head row says entry #${row.chain_seq} was written` };
      }
    }
    return undefined;
  }

  /** Every chain's last entry, as the anchor records them. */
  heads(): AnchoredHead[] {
    return [...this.#chains.values()].filter((chain) => chain.end > 0).map((chain) => ({ chain: chain.chain, chainSeq: chain.end, seq: chain.endSeq, hash: chain.hash }));
  }

  /**
   * What `verify` reports as the head: the system chain's head hash while it is the only chain (as SQLite's single
   * chain), otherwise the SHA-256 over every chain's head, which is what the anchor covers.
   */
  head(): string {
    const heads = this.heads().sort((a, b) => compareBytes(a.chain, b.chain));
    if (heads.length === 0) return GENESIS_HASH;
    if (heads.length === 1 && heads[0]?.chain === SYSTEM_CHAIN) return heads[0].hash;
    return createHash('sha256').update(canonicalJson(heads.map((h) => [h.chain, h.chainSeq, h.hash]))).digest('hex');
  }
}

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A chain as messages name it; a name that is not a tenant id (edited into the table) is described, never shown. */
export function chainDescription(chain: string): string {
  if (chain === SYSTEM_CHAIN) return 'the system chain';
  return SAFE_NAME.test(chain) ? `tenant ${chain}'s chain` : `a chain named with ${describe(chain)}`;
}

function maxSeq(heads: AnchoredHead[]): number {
  return heads.reduce((max, head) => Math.max(max, head.seq), 0);
}
