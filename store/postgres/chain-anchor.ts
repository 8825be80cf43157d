/** @module store/postgres/chain-anchor — a keyed checkpoint of every audit chain's head (PostgreSQL keeps one chain per tenant), kept in the keys folder, outside the database it vouches for. */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { canonicalJson } from '../../core/canonical-json.js';
import { StateKey } from '../state-key.js';

/**
 * Its own secret and file, apart from SQLite's `audit-anchor.*`: a project may have both stores (before and after
 * `af store migrate-to`), and each anchor reads "key here, checkpoint gone" as a deleted checkpoint.
 */
export const CHAIN_ANCHOR_KEY_FILE = 'audit-anchor.postgres.key';
export const CHAIN_ANCHOR_FILE = 'audit-anchor.postgres.json';

/** One chain's head as the anchor vouches for it: the chain held entry `chainSeq` (log `seq`) with hash `hash`. */
export interface AnchoredHead {
  chain: string;
  chainSeq: number;
  /** The entry's number in the whole log (what `list` shows). */
  seq: number;
  hash: string;
}

export interface ChainCheckpoint {
  /** Every chain's head, in byte order of the chain's name. */
  heads: AnchoredHead[];
  /** When the checkpoint was written (epoch ms). */
  at: number;
  /** Entries numbered up to this one were taken as found when the anchor was created or re-anchored (0: from the start). */
  since: number;
}

/** What the anchor folder holds, as store/audit-anchor's `AnchorState`. */
export type ChainAnchorState =
  | { kind: 'none' }
  | { kind: 'missing'; file: string }
  | { kind: 'invalid'; file: string; reason: string }
  | { kind: 'ok'; checkpoint: ChainCheckpoint };

const VERSION = 1;
const HEX64 = /^[0-9a-f]{64}$/;

/**
 * The HMAC is the keyed digest over all chain heads; the heads themselves are in the file beside it, so verify can say
 * which chain was cut. Written after the entries it names have committed (never before), so a process killed while
 * appending cannot leave a checkpoint ahead of the log. The file is replaced by a rename: its length varies with the
 * number of chains.
 */
export class ChainAnchor {
  readonly dir: string;
  readonly file: string;
  readonly #key: StateKey;

  constructor(dir: string) {
    if (typeof dir !== 'string' || dir === '') throw new TypeError('ChainAnchor: "dir" must be a folder path');
    this.dir = dir;
    this.#key = new StateKey(dir, CHAIN_ANCHOR_KEY_FILE);
    this.file = path.join(dir, CHAIN_ANCHOR_FILE);
  }

  /** The checkpoint as it is now on disk; never throws. */
  read(): ChainAnchorState {
    let raw: string | null;
    try {
      raw = readFileSync(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return { kind: 'invalid', file: this.file, reason: `it cannot be read: ${(error as Error).message}` };
      raw = null;
    }
    const secret = this.#key.read();
    if (secret === null) return raw !== null ? { kind: 'invalid', file: this.file, reason: `its key ${this.#key.file} is missing` } : { kind: 'none' };
    if (secret instanceof Error) return { kind: 'invalid', file: this.#key.file, reason: `the anchor's key cannot be read: ${secret.message}` };
    if (raw === null) return { kind: 'missing', file: this.file };
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return { kind: 'invalid', file: this.file, reason: 'it is not valid JSON' };
    }
    const checkpoint = parseCheckpoint(record);
    if (!checkpoint || typeof record.mac !== 'string') return { kind: 'invalid', file: this.file, reason: 'it does not have the shape of an audit checkpoint' };
    const expected = mac(secret, checkpoint);
    const given = Buffer.from(record.mac, 'hex');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { kind: 'invalid', file: this.file, reason: 'its MAC does not match: it was edited or written without the key' };
    }
    return { kind: 'ok', checkpoint };
  }

  /** Creates the secret if there is none (what `reanchor` checks before it appends). @throws the file system's error */
  ensureKey(): void {
    this.#key.ensure();
  }

  /** Writes the checkpoint (creating the secret the first time). @throws the file system's error */
  write(checkpoint: ChainCheckpoint): void {
    const secret = this.#key.ensure();
    const heads = [...checkpoint.heads].sort((a, b) => compareBytes(a.chain, b.chain));
    const body = { version: VERSION, at: checkpoint.at, since: checkpoint.since, heads: heads.map((h) => [h.chain, h.chainSeq, h.seq, h.hash]), mac: mac(secret, { ...checkpoint, heads }).toString('hex') };
    const temp = `${this.file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    try {
      writeFileSync(temp, `${JSON.stringify(body)}\n`, { mode: 0o600 });
      renameSync(temp, this.file);
    } catch (error) {
      rmSync(temp, { force: true });
      throw error;
    }
  }
}

/** Byte order of the UTF-8 of two names, as PostgreSQL's `COLLATE "C"` orders the chains. */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function mac(secret: Buffer, checkpoint: ChainCheckpoint): Buffer {
  const heads = checkpoint.heads.map((h) => [h.chain, h.chainSeq, h.seq, h.hash]);
  return createHmac('sha256', secret).update(canonicalJson({ version: VERSION, at: checkpoint.at, since: checkpoint.since, heads })).digest();
}

function parseCheckpoint(record: Record<string, unknown>): ChainCheckpoint | undefined {
  if (typeof record !== 'object' || record === null || record.version !== VERSION) return undefined;
  if (typeof record.at !== 'number' || !Number.isFinite(record.at) || !isCount(record.since) || !Array.isArray(record.heads)) return undefined;
  const heads: AnchoredHead[] = [];
  for (const item of record.heads as unknown[]) {
    if (!Array.isArray(item) || item.length !== 4) return undefined;
    const [chain, chainSeq, seq, hash] = item as unknown[];
    if (typeof chain !== 'string' || !isCount(chainSeq) || !isCount(seq) || typeof hash !== 'string' || !HEX64.test(hash)) return undefined;
    heads.push({ chain, chainSeq, seq, hash });
  }
  return { heads, at: record.at, since: record.since };
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
