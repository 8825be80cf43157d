/** @module templates/bundle-cache — keeps bundles on disk, checked by the content hash of every source file (and, outside dev, by the signed bundle hash), so a second process does not bundle again. */
import { closeSync, constants, fstatSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type Bundle, BUNDLE_FORMAT, sha256 } from './bundle.js';

interface CacheEntry {
  format: string;
  sources: Record<string, string>;
  code: string;
}

/** What a lookup found: a bundle, or none, saying when an entry was there but its code was not the signed bundle. */
export interface CacheLookup {
  bundle?: Bundle;
  /** An entry for these sources exists, but its code does not hash to the bundle hash that was asked for. */
  isNotSigned?: boolean;
}

/**
 * A bundle cache in one folder (`.af/cache/bundles`). An entry is reused only when every source file
 * it was built from still has the same SHA-256, so an edit anywhere in the bundle is never served stale.
 * The folder is writable by people who cannot sign, so outside dev an entry is reused only when its code
 * hashes to the bundle hash in `agent.sig` (see {@link BundleCache.lookup}).
 * Failures to read or write the cache are never errors: the template is bundled again.
 */
export class BundleCache {
  readonly #dir: string;
  #isWritable = true;

  constructor(dir: string) {
    this.#dir = dir;
  }

  /** The cached bundle of `entry` in `realDir`, if every source is unchanged. */
  get(realDir: string, entry: string): Bundle | undefined {
    return this.lookup(realDir, entry).bundle;
  }

  /**
   * The cached bundle of `entry` in `realDir`, if every source is unchanged and, when `signedSha256` is
   * given, its code hashes to it: then the bytes are the signed bundle, whoever wrote the entry.
   */
  lookup(realDir: string, entry: string, signedSha256?: string): CacheLookup {
    let cached: CacheEntry;
    try {
      cached = JSON.parse(readFileSync(this.#fileFor(realDir, entry), 'utf8')) as CacheEntry;
    } catch {
      return {};
    }
    if (cached === null || cached.format !== BUNDLE_FORMAT || typeof cached.code !== 'string' || typeof cached.sources !== 'object' || cached.sources === null) return {};
    for (const [relative, hash] of Object.entries(cached.sources)) {
      const bytes = readSource(realDir, relative);
      if (bytes === undefined || sha256(bytes) !== hash) return {};
    }
    const codeSha256 = sha256(cached.code);
    if (signedSha256 !== undefined && codeSha256 !== signedSha256) return { isNotSigned: true };
    return { bundle: { code: cached.code, sources: cached.sources, sha256: codeSha256 } };
  }

  set(realDir: string, entry: string, bundle: Bundle): void {
    if (!this.#isWritable) return;
    const file = this.#fileFor(realDir, entry);
    const entryData: CacheEntry = { format: BUNDLE_FORMAT, sources: bundle.sources, code: bundle.code };
    try {
      mkdirSync(this.#dir, { recursive: true });
      // Write then rename, so a concurrent reader never sees half a file.
      const temporary = `${file}.${process.pid}.${Date.now()}.tmp`;
      writeFileSync(temporary, JSON.stringify(entryData));
      renameSync(temporary, file);
    } catch {
      this.#isWritable = false;
    }
  }

  #fileFor(realDir: string, entry: string): string {
    return path.join(this.#dir, `${sha256(`${realDir}\u0000${entry}\u0000${BUNDLE_FORMAT}`)}.json`);
  }
}

/**
 * The bytes of one source a cache entry names, or undefined when it names no regular file inside the template folder.
 * The entry is written by whoever can write `.af/`: a name climbing out (`../../dev/zero`, a FIFO elsewhere) would
 * make every process that resolves the template read forever or block, so the name must be a plain relative path
 * (as bundleTemplate records them: real files, `/`-separated, inside the folder), opened without following a link or
 * waiting on a FIFO, and a regular file.
 */
function readSource(realDir: string, relative: string): Buffer | undefined {
  if (relative === '' || relative.includes('\0') || path.posix.isAbsolute(relative) || relative.split('/').some((part) => part === '' || part === '.' || part === '..')) return undefined;
  let fd: number;
  try {
    fd = openSync(path.join(realDir, ...relative.split('/')), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    return fstatSync(fd).isFile() ? readFileSync(fd) : undefined;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}
