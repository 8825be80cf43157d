/** @module templates/trust-store — trusted roots, signer certificates and revocations in `.af/trust.json`, behind core's `TrustStore` contract. */
import { mkdirSync, readFileSync, renameSync, statSync, unwatchFile, watchFile, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FactoryError } from '../core/errors.js';
import { CachedTrustRecords, type KeyRecord, type Revocation, type TrustStore, type VersionRetirement } from '../core/trust-records.js';
import { retirementId, type TrustRowIds, type TrustStateSeal } from '../core/trust-state.js';

// The contract lives in core: the store implements it over SQLite, and may not import templates.
export type { KeyRecord, KeyRole, Revocation, TrustStore, VersionRetirement } from '../core/trust-records.js';

interface TrustFile {
  version: 1;
  keys: KeyRecord[];
  revocations: Revocation[];
  retirements?: VersionRetirement[];
}

/**
 * Trust data in one JSON file (`.af/trust.json`). A background stat poll (`fs.watchFile`, off the hot
 * path) notices when another process changes it (`af keys revoke`), and the next read reloads it, so a
 * revocation takes effect without a restart.
 */
export class JsonTrustStore extends CachedTrustRecords implements TrustStore {
  readonly #file: string;
  readonly #onChange: () => void;
  #mtimeMs = -1;
  #isDirty = false;

  /**
   * @param options.pollMs how often the file is checked for changes by other processes; 0 disables it. @default 500
   * @param options.seal what vouches for the file's content (store/trust-seal in the keys folder): the file is as
   *   writable as the rest of `.af/`. @default none (scratch stores, tests)
   */
  constructor(file: string, options: { pollMs?: number; seal?: TrustStateSeal } = {}) {
    super(options.seal);
    this.#file = file;
    this.#load(true);
    this.#onChange = () => {
      this.#isDirty = true;
    };
    const pollMs = options.pollMs ?? 500;
    if (pollMs > 0) watchFile(file, { interval: pollMs, persistent: false }, this.#onChange);
  }

  /** Stops watching the file. */
  close(): void {
    unwatchFile(this.#file, this.#onChange);
  }

  get file(): string {
    return this.#file;
  }

  addKey(record: KeyRecord): void {
    this.#load(true);
    this.#save([...this.keys().filter((key) => key.id !== record.id), record], this.revocations(), this.retirements(), { keys: [record.id] });
  }

  revoke(id: string, reason: string, at: number): void {
    this.#load(true);
    if (!this.key(id)) throw new FactoryError('E_KEY_NOT_FOUND', `no key with id ${id}; run \`af keys list\``);
    const revocations = this.revocations();
    if (!revocations.some((revocation) => revocation.id === id)) revocations.push({ id, revokedAt: at, reason });
    this.#save(this.keys(), revocations, this.retirements(), { revocations: [id] });
  }

  retire(retirement: VersionRetirement): void {
    this.#load(true);
    if (this.retirement(retirement.name, retirement.version)) return;
    this.#save(this.keys(), this.revocations(), [...this.retirements(), { ...retirement }], { retirements: [retirementId(retirement)] });
  }

  protected refresh(): void {
    if (!this.#isDirty) return;
    this.#isDirty = false;
    this.#load(false);
  }

  #load(force: boolean): void {
    let mtimeMs: number;
    try {
      mtimeMs = statSync(this.#file).mtimeMs;
    } catch {
      if (this.#mtimeMs !== 0) {
        this.replaceRecords([], [], []);
        this.#mtimeMs = 0;
      }
      return;
    }
    if (!force && mtimeMs === this.#mtimeMs) return;
    let data: TrustFile;
    try {
      data = JSON.parse(readFileSync(this.#file, 'utf8')) as TrustFile;
    } catch (error) {
      throw new FactoryError('E_STORE', `${this.#file} is not valid trust data: ${(error as Error).message}; restore it from a backup or run \`af keys init\` in a fresh state folder`, { cause: error });
    }
    this.replaceRecords(data.keys ?? [], data.revocations ?? [], data.retirements ?? []);
    this.#mtimeMs = mtimeMs;
  }

  #save(keys: KeyRecord[], revocations: Revocation[], retirements: VersionRetirement[], touched: TrustRowIds): void {
    const data: TrustFile = { version: 1, keys, revocations, ...(retirements.length > 0 ? { retirements } : {}) };
    mkdirSync(path.dirname(this.#file), { recursive: true });
    const temporary = `${this.#file}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(data, null, 2)}\n`);
    renameSync(temporary, this.#file);
    this.#mtimeMs = statSync(this.#file).mtimeMs;
    this.replaceRecords(keys, revocations, retirements);
    try {
      this.sealChange(touched);
    } catch (error) {
      // As in the store: a revocation or retirement needs no voucher; a new key does.
      if (touched.keys !== undefined) throw error;
    }
  }
}
