/**
 * @module store/version-seal — a MAC on every template version row, under a secret in the keys folder, so a row forged or
 * edited in the database by someone without that folder is never restored, routed to or run.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { StateKey } from './state-key.js';

/** Its secret (store/state-key), its own: never the trust seal's or the audit anchor's. */
export const VERSION_SEAL_KEY_FILE = 'version-seal.key';

/** Bumped when the encoding changes: a seal of another format never matches. */
const DOMAIN = 'af-template-version-seal/1';

/** A version row as stored: every column but the seal, exactly as its text is kept (what is restored or run). */
export interface VersionRowFields {
  name: string;
  version: string;
  digest: string;
  manifest: string;
  sources: string;
  bundle: string;
  signature: string | null;
  recorded_at: number;
  manifest_file: string | null;
  source_files: string | null;
}

/** Why a row is not vouched for, or `undefined` when it is. */
export type VersionSealVerdict = undefined | { reason: string };

/**
 * One HMAC-SHA256 per row over every column (name, version, digest, manifest, source hashes, bundle, agent.sig,
 * recorded time, agent.json text, source files), length-prefixed in a fixed order, so no field can be moved into
 * another, no row replayed under another name, version or digest, and no two rows' files swapped. Per row, not one
 * seal over the table (as the trust seal is): versions are only added, a deleted row only refuses more, and a row is
 * checked when it is loaded (rollback, a stored-version resolve, a canary), never per run.
 */
export class VersionSeal {
  readonly #key: StateKey;

  constructor(dir: string) {
    this.#key = new StateKey(dir, VERSION_SEAL_KEY_FILE);
  }

  get keyFile(): string {
    return this.#key.file;
  }

  /**
   * The seal of a row (hex), creating the key on first use.
   * @throws the file system's error when the key cannot be read or created (this process cannot write the keys folder).
   */
  seal(row: VersionRowFields): string {
    return macOf(this.#key.ensure(), row).toString('hex');
  }

  /** Whether `seal` vouches for `row`; never throws. */
  check(row: VersionRowFields, seal: string | null): VersionSealVerdict {
    if (seal === null) return { reason: 'it has no seal' };
    const key = this.#key.read();
    if (key === null) return { reason: `the seal key ${this.#key.file} is missing` };
    if (key instanceof Error) return { reason: `the seal key cannot be read (${key.message}); run this as the user who owns ${this.#key.dir}` };
    const given = Buffer.from(seal, 'hex');
    const expected = macOf(key, row);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { reason: 'its seal does not match its content (it was edited, copied or written without the keys folder)' };
    return undefined;
  }
}

function macOf(key: Buffer, row: VersionRowFields): Buffer {
  const mac = createHmac('sha256', key).update(DOMAIN);
  const fields = [row.name, row.version, row.digest, row.manifest, row.sources, row.bundle, row.signature, String(row.recorded_at), row.manifest_file, row.source_files];
  for (const field of fields) {
    if (field === null) {
      mac.update(Buffer.from([0]));
      continue;
    }
    // The string goes to the MAC as UTF-8 without a copy (a bundle can be hundreds of kB); its byte length first.
    const length = Buffer.alloc(9);
    length[0] = 1;
    length.writeBigUInt64BE(BigInt(Buffer.byteLength(field, 'utf8')), 1);
    mac.update(length).update(field, 'utf8');
  }
  return mac.digest();
}
