/** @module store/state-key — a secret in the keys folder that keys a checkpoint of project state kept outside it (audit anchor, trust seal). */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';


const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Reads (and creates, once) a secret in the keys folder: 32 random bytes, hex, mode 0600, never rewritten. Those who
 * may write the project's state but not its keys can neither read it (so they cannot forge a checkpoint) nor replace it.
 *
 * One secret per checkpoint, not one shared: the audit anchor reads "key here, checkpoint gone" as a deleted
 * checkpoint, which a key created by another checkpoint would turn into a false alarm on every fresh project.
 */
export class StateKey {
  readonly dir: string;
  readonly file: string;
  #secret: Buffer | undefined;

  /** @param file the secret's file name in `dir`. */
  constructor(dir: string, file: string) {
    if (typeof dir !== 'string' || dir === '') throw new TypeError('StateKey: "dir" must be a folder path');
    if (typeof file !== 'string' || file === '' || path.basename(file) !== file) throw new TypeError('StateKey: "file" must be a file name');
    this.dir = dir;
    this.file = path.join(dir, file);
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
}
