/**
 * @module store/trust-seal — a keyed checkpoint of the trust data (roots, signers, revocations, retirements), kept in the
 * keys folder, so rows added, edited or deleted in the database by someone without that folder show.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { canonicalJson } from '../core/canonical-json.js';
import { FactoryError } from '../core/errors.js';
import type { KeyRecord, Revocation, VersionRetirement } from '../core/trust-records.js';
import {
  describeTrustChange, diffTrustState, isRestriction, rowsById, type TrustChange, type TrustRowIds, type TrustState, type TrustStateSeal, trustStateText,
} from '../core/trust-state.js';
import { StateKey } from './state-key.js';

/** The seal of the database's trust tables. */
export const TRUST_SEAL_FILE = 'trust-seal.json';
/** Its secret (store/state-key), its own: never the audit anchor's. */
export const TRUST_SEAL_KEY_FILE = 'trust-seal.key';
const VERSION = 1;

/**
 * What the seal file holds:
 * - `none`: never sealed (a fresh project, or one from before seals): the file does not exist;
 * - `unreadable`: the file or the state key cannot be read by this process;
 * - `invalid`: malformed, or its MAC does not match (written without the key);
 * - `ok`: the state it vouches for.
 */
export type TrustSealState =
  | { kind: 'none' }
  | { kind: 'unreadable'; reason: string }
  | { kind: 'invalid'; reason: string }
  | { kind: 'ok'; state: TrustState; at: number };

export interface TrustSealOptions {
  /** The seal's file name in the keys folder. @default {@link TRUST_SEAL_FILE} */
  file?: string;
  /** What the sealed data is, for messages. @default 'the database' */
  subject?: string;
  /** Called when a never-sealed state is adopted (trust on first use), to record it. */
  onAdopt?(state: TrustState): void;
  now?(): number;
}

/**
 * The seal: the whole trust state (not a MAC per row, which cannot show a deleted row) as canonical JSON with an
 * HMAC-SHA256 under a secret of its own in the keys folder. Rewritten (atomically) by every legitimate change,
 * which all need the keys folder anyway (new keys, `af keys revoke`, `af versions retire`), and checked on every
 * (re)load of the data, which is off the hot path.
 */
export class TrustSeal implements TrustStateSeal {
  readonly #key: StateKey;
  readonly #file: string;
  readonly #subject: string;
  readonly #onAdopt: ((state: TrustState) => void) | undefined;
  readonly #now: () => number;
  /** The last check: the same file and the same data give the same verdict without parsing or a MAC. */
  #last: { raw: Buffer; text: string; verdict: FactoryError | undefined } | undefined;

  constructor(dir: string, options: TrustSealOptions = {}) {
    this.#key = new StateKey(dir, TRUST_SEAL_KEY_FILE);
    this.#file = path.join(dir, options.file ?? TRUST_SEAL_FILE);
    this.#subject = options.subject ?? 'the database';
    this.#onAdopt = options.onAdopt;
    this.#now = options.now ?? Date.now;
  }

  get location(): string {
    return this.#file;
  }

  /** True when a seal file exists (whatever its state): the trust data was sealed once. */
  exists(): boolean {
    return this.#readRaw() !== null;
  }

  /** The seal as it is on disk; never throws. */
  read(): TrustSealState {
    const raw = this.#readRaw();
    if (raw === null) return { kind: 'none' };
    if (raw instanceof Error) return { kind: 'unreadable', reason: `${this.#file} cannot be read: ${raw.message}` };
    return this.#parse(raw);
  }

  check(state: TrustState, text: string): FactoryError | undefined {
    const raw = this.#readRaw();
    if (raw instanceof Buffer && this.#last && this.#last.text === text && this.#last.raw.equals(raw)) return this.#last.verdict;
    const verdict = this.#verdict(raw, state);
    if (raw instanceof Buffer) this.#last = { raw, text, verdict };
    return verdict;
  }

  /** Every row that differs from the seal (restrictions added by processes without the keys folder included). */
  changes(state: TrustState): TrustChange[] | FactoryError {
    const sealed = this.read();
    if (sealed.kind !== 'ok') return this.#sealError(sealed);
    return diffTrustState(sealed.state, state);
  }

  update(state: TrustState, touched: TrustRowIds): void {
    const sealed = this.read();
    if (sealed.kind === 'unreadable' || sealed.kind === 'invalid') throw this.#sealError(sealed);
    // Never sealed: the first legitimate change adopts what is there (trust on first use), as a first load would.
    const next = sealed.kind === 'none' ? state : merge(sealed.state, state, touched);
    this.#write(next, false);
  }

  /** The seal file's bytes now (`null`: none), for {@link restore} when the change that rewrites it rolls back. */
  snapshot(): Buffer | null {
    const raw = this.#readRaw();
    return raw instanceof Error ? null : raw;
  }

  /**
   * Puts back a {@link snapshot}: a seal naming rows that were never committed would read as rows deleted. Best effort:
   * the caller is already handling a failure, and a seal left ahead fails closed, never open.
   */
  restore(previous: Buffer | null): void {
    try {
      if (previous === null) rmSync(this.#file, { force: true });
      else {
        const temp = `${this.#file}.${process.pid}.tmp`;
        writeFileSync(temp, previous, { mode: 0o600 });
        renameSync(temp, this.#file);
      }
    } catch {
      // `af keys verify --repair` puts the rows the seal names back.
    }
  }

  /** Seals `state` as it is, replacing the seal: `af keys verify --adopt`, after a person looked at the changes. */
  adopt(state: TrustState): void {
    this.#write(state, false);
  }

  #verdict(raw: Buffer | Error | null, state: TrustState): FactoryError | undefined {
    if (raw === null) {
      try {
        // Exclusive: a legitimate change sealing at the same time wins, and this is checked against it.
        if (this.#write(state, true)) {
          this.#onAdopt?.(state);
          return undefined;
        }
      } catch (error) {
        return new FactoryError(
          'E_TRUST_STATE',
          `the trust data in ${this.#subject} was never sealed, and this process cannot write the keys folder to seal it (${(error as Error).message}); run \`af keys verify\` once as the user who owns ${path.dirname(this.#file)}`,
          { cause: error },
        );
      }
      return this.check(state, trustStateText(state));
    }
    const sealed = raw instanceof Error ? ({ kind: 'unreadable', reason: `${this.#file} cannot be read: ${raw.message}` } as const) : this.#parse(raw);
    if (sealed.kind !== 'ok') return this.#sealError(sealed);
    const changes = diffTrustState(sealed.state, state).filter((change) => !isRestriction(change));
    if (changes.length === 0) return undefined;
    const shown = changes.slice(0, 4).map(describeTrustChange).join(', ');
    return new FactoryError(
      'E_TRUST_STATE',
      `the trust data in ${this.#subject} was changed without the keys folder (${shown}${changes.length > 4 ? `, and ${changes.length - 4} more` : ''}): it is not what ${this.#file} vouches for, so nothing runs outside dev; \`af keys verify\` lists every change and \`af keys verify --repair\` puts back the sealed rows`,
      { details: { changes, seal: this.#file } },
    );
  }

  #sealError(sealed: Exclude<TrustSealState, { kind: 'ok' }>): FactoryError {
    if (sealed.kind === 'none') return new FactoryError('E_TRUST_STATE', `the trust data in ${this.#subject} was never sealed; run \`af keys verify\` as the user who owns ${path.dirname(this.#file)}`);
    if (sealed.kind === 'unreadable') {
      return new FactoryError(
        'E_TRUST_STATE',
        `the trust seal cannot be checked: ${sealed.reason}; outside dev this process runs nothing until it can read the keys folder's state key and seal (run it as the user who owns them, or give it read access to those two files)`,
      );
    }
    return new FactoryError('E_TRUST_STATE', `the trust seal ${this.#file} is not valid: ${sealed.reason}; restore the keys folder from a backup`);
  }

  #readRaw(): Buffer | Error | null {
    try {
      return readFileSync(this.#file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      return error as Error;
    }
  }

  #parse(raw: Buffer): TrustSealState {
    const key = this.#key.read();
    if (key === null) return { kind: 'invalid', reason: `its key ${this.#key.file} is missing` };
    if (key instanceof Error) return { kind: 'unreadable', reason: `the state key cannot be read: ${key.message}` };
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    } catch {
      return { kind: 'invalid', reason: 'it is not valid JSON' };
    }
    const state = record?.state as Record<string, unknown> | undefined;
    if (
      typeof record !== 'object' || record === null || record.version !== VERSION || typeof record.at !== 'number' || typeof record.mac !== 'string' ||
      typeof state !== 'object' || state === null || !Array.isArray(state.keys) || !Array.isArray(state.revocations) || !Array.isArray(state.retirements)
    ) {
      return { kind: 'invalid', reason: 'it does not have the shape of a trust seal' };
    }
    const expected = mac(key, record.at, state);
    const given = Buffer.from(record.mac, 'hex');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { kind: 'invalid', reason: 'its MAC does not match: it was edited or written without the key' };
    return {
      kind: 'ok',
      at: record.at,
      state: { keys: state.keys as KeyRecord[], revocations: state.revocations as Revocation[], retirements: state.retirements as VersionRetirement[] },
    };
  }

  /** @returns false when `exclusive` and a seal already exists. */
  #write(state: TrustState, exclusive: boolean): boolean {
    const key = this.#key.ensure();
    const at = this.#now();
    const body = JSON.parse(trustStateText(state)) as Record<string, unknown>;
    const text = `${JSON.stringify({ version: VERSION, at, state: body, mac: mac(key, at, body).toString('hex') })}\n`;
    mkdirSync(path.dirname(this.#file), { recursive: true, mode: 0o700 });
    const temp = `${this.#file}.${process.pid}.tmp`;
    writeFileSync(temp, text, { mode: 0o600 });
    try {
      if (!exclusive) {
        renameSync(temp, this.#file);
        return true;
      }
      try {
        linkSync(temp, this.#file);
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw error;
      }
    } finally {
      rmSync(temp, { force: true });
    }
  }
}

/**
 * What a legitimate change seals: the sealed rows, with the rows it wrote as they are now (added, replaced or gone), and
 * the restrictions others added meanwhile (a revocation or retirement written by a process that could not write the
 * keys folder). Every other difference stays as sealed, so it keeps showing.
 */
function merge(sealed: TrustState, found: TrustState, touched: TrustRowIds): TrustState {
  const before = rowsById(sealed);
  const after = rowsById(found);
  const next = { keys: new Map(before.keys), revocations: new Map(before.revocations), retirements: new Map(before.retirements) };
  for (const table of ['keys', 'revocations', 'retirements'] as const) {
    for (const id of touched[table] ?? []) {
      const row = after[table].get(id);
      if (row) next[table].set(id, row);
      else next[table].delete(id);
    }
    if (table === 'keys') continue;
    for (const [id, row] of after[table]) if (!next[table].has(id)) next[table].set(id, row);
  }
  return {
    keys: [...next.keys.values()] as KeyRecord[],
    revocations: [...next.revocations.values()] as Revocation[],
    retirements: [...next.retirements.values()] as VersionRetirement[],
  };
}

function mac(key: Buffer, at: number, state: unknown): Buffer {
  return createHmac('sha256', key).update(canonicalJson({ version: VERSION, at, state })).digest();
}
