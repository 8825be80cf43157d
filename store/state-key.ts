/** @module store/state-key — the one secret in the keys folder that vouches for project state kept outside it (audit anchor, trust seal). */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hkdfSync, randomBytes } from 'node:crypto';
import path from 'node:path';

/**
 * The secret's file: 32 random bytes, hex, mode 0600. Created once, never rewritten. Its name is that of the first
 * thing it keyed (the audit anchor); checkpoints written before the trust seal existed stay valid.
 */
export const STATE_KEY_FILE = 'audit-anchor.key';

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Reads (and creates, once) the state secret in the keys folder, which those who may write the project's state but
 * not its keys can neither read nor replace. Each use gets its own key, derived with HKDF-SHA256 under a purpose label,
 * so that a MAC made for one record can never be passed off as another's.
 */
export class StateKey {
  readonly dir: string;
  readonly file: string;
  #secret: Buffer | undefined;
  readonly #derived = new Map<string, Buffer>();

  constructor(dir: string) {
    if (typeof dir !== 'string' || dir === '') throw new TypeError('StateKey: "dir" must be a folder path');
    this.dir = dir;
    this.file = path.join(dir, STATE_KEY_FILE);
  }

  /** The raw secret: `null` when there is none yet, an Error when it exists but cannot be read or is malformed. */
  read(): Buffer | null | Error {
    if (this.#secret) return this.#secret;
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8').trim();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      return error as Error;
    }
    if (!HEX64.test(text)) return new Error(`${this.file} does not hold a 32-byte hex key`);
    this.#secret = Buffer.from(text, 'hex');
    return this.#secret;
  }

  /** The raw secret, created when there is none. @throws the file system's error when it cannot be created or read. */
  ensure(): Buffer {
    const existing = this.read();
    if (existing instanceof Error) throw existing;
    if (existing) return existing;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    try {
      // Exclusive: two processes creating it at once must end with one key.
      writeFileSync(this.file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
      chmodSync(this.file, 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const created = this.read();
    if (!(created instanceof Buffer)) throw created ?? new Error(`${this.file} could not be created`);
    return created;
  }

  /** A key for one purpose (`'trust-seal/1'`), derived from the secret; `null`/Error as {@link read}. */
  derive(purpose: string, create = false): Buffer | null | Error {
    const known = this.#derived.get(purpose);
    if (known) return known;
    let secret: Buffer | null | Error;
    try {
      secret = create ? this.ensure() : this.read();
    } catch (error) {
      return error as Error;
    }
    if (!(secret instanceof Buffer)) return secret;
    const key = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), `agent-factory ${purpose}`, 32));
    this.#derived.set(purpose, key);
    return key;
  }
}

