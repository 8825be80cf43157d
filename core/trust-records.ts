/** @module core/trust-records — records that both the templates and the store handle (keys, revocations, stored template versions) and the `TrustStore` contract they share. */
import type { Awaitable } from './awaitable.js';
import { FactoryError } from './errors.js';
import { type TrustRowIds, type TrustState, type TrustStateSeal, trustStateText } from './trust-state.js';

export type KeyRole = 'root' | 'signer';

/** A certificate the project knows: a trusted root or a signer it issued. */
export interface KeyRecord {
  /** First 16 hex digits of the SHA-256 of the public key (SubjectPublicKeyInfo, DER). */
  id: string;
  role: KeyRole;
  /** Human name: the certificate's common name. */
  name: string;
  certificatePem: string;
  /** Validity window, epoch milliseconds. */
  notBefore: number;
  notAfter: number;
  createdAt: number;
}

export interface Revocation {
  id: string;
  revokedAt: number;
  reason: string;
}

/**
 * A template version withdrawn from service (`af versions retire`): refused outside development
 * environments from then on. Keyed by name and version, not digest: the version is inside the signed
 * manifest, so every content ever signed under it is covered, also copies this store never recorded.
 */
export interface VersionRetirement {
  name: string;
  version: string;
  retiredAt: number;
  reason: string;
  /** Who retired it, for the record. */
  by: string;
}

/** One version of a template as the store keeps it: enough to run it again and to put it back on disk. */
export interface StoredTemplateVersion {
  name: string;
  version: string;
  digest: string;
  /** The inherited manifest (what the digest covers). */
  manifest: unknown;
  /** Source path → SHA-256. */
  sources: Record<string, string>;
  bundle: string;
  /** The `agent.sig` content, when signed. */
  signature?: unknown;
  /** The template's own `agent.json` text, so a rollback can put it back exactly. */
  manifestFile?: string;
  /** Every source file the digest covers: relative path → base64 of its bytes, so a rollback restores them too. */
  sourceFiles?: Record<string, string>;
}

/**
 * What verification needs from wherever trust data is kept: `store/` implements it over SQLite, `templates/` over
 * `.af/trust.json` (`JsonTrustStore`); both run the contract suite in `test/contracts/trust-store.contract.test.ts`.
 * Reads must be cheap: `isRevoked` runs on every cache hit of a signed template.
 */
export interface TrustStore {
  roots(): KeyRecord[];
  /** Every key, oldest first. */
  keys(): KeyRecord[];
  key(id: string): KeyRecord | undefined;
  isRevoked(id: string): boolean;
  revocation(id: string): Revocation | undefined;
  /** Adds a key, or replaces the key with its id. */
  addKey(record: KeyRecord): Awaitable<void>;
  /**
   * Revokes a key; revoking it again keeps the first record.
   * @throws FactoryError `E_KEY_NOT_FOUND` for an id it does not know.
   */
  revoke(id: string, reason: string, at: number): Awaitable<void>;
  /** The retirement of a template version, if any; like `isRevoked`, it runs on every cache hit and must be cheap. */
  retirement(name: string, version: string): VersionRetirement | undefined;
  /** Retired versions of `name` (or of every template), oldest first. */
  retirements(name?: string): VersionRetirement[];
  /** Retires a version; retiring it again keeps the first record. */
  retire(retirement: VersionRetirement): Awaitable<void>;
  /** Changes whenever trust data changes, so caches can tell. */
  readonly generation: number;
  /**
   * Why this trust data cannot be relied on: it is not what the keys folder vouches for (store/trust-seal). Outside
   * dev the trust gate runs nothing while there is one. Like `isRevoked`, it runs on every cache hit: a field read.
   * Stores without a seal leave it out.
   */
  trustProblem?(): FactoryError | undefined;
}

/**
 * Trust data held in memory, with the read side every trust store shares. A store subclasses it,
 * says how to notice changes (`refresh`, called before every read, so it must be cheap) and hands
 * what it loaded to `replaceRecords`; `generation` moves only when the trust data changes.
 *
 * With a seal (store/trust-seal), every load is compared with what the keys folder vouches for, and the verdict is
 * kept with the records: {@link trustProblem} is a field read, and the trust gate fails closed on it outside dev.
 */
export abstract class CachedTrustRecords {
  #keys = new Map<string, KeyRecord>();
  #revocations = new Map<string, Revocation>();
  /** name → version → retirement: a hit looks up two maps and builds no key string. */
  #retirements = new Map<string, Map<string, VersionRetirement>>();
  #state: TrustState = { keys: [], revocations: [], retirements: [] };
  #fingerprint = '';
  #generation = 0;
  readonly #seal: TrustStateSeal | undefined;
  #problem: FactoryError | undefined;

  constructor(seal?: TrustStateSeal) {
    this.#seal = seal;
  }

  /** Reloads when the backing data changed; called before every read. */
  protected abstract refresh(): void;

  /** The seal this store is checked against, if any. */
  get seal(): TrustStateSeal | undefined {
    return this.#seal;
  }

  /**
   * Why the trust data cannot be relied on (rows changed by someone without the keys folder, a seal that cannot be
   * read), or undefined. Decided when the data was loaded: reading it costs what `isRevoked` costs.
   */
  trustProblem(): FactoryError | undefined {
    this.refresh();
    return this.#problem;
  }

  /** Seals the rows a change of this store just wrote, with the data as now loaded. */
  protected sealChange(touched: TrustRowIds): void {
    if (!this.#seal) return;
    this.#seal.update(this.#state, touched);
    this.#problem = this.#seal.check(this.#state, this.#fingerprint);
  }

  protected replaceRecords(keys: readonly KeyRecord[], revocations: readonly Revocation[], retirements: readonly VersionRetirement[] = []): void {
    this.#keys = new Map(keys.map((key) => [key.id, key]));
    this.#revocations = new Map(revocations.map((revocation) => [revocation.id, revocation]));
    const byName = new Map<string, Map<string, VersionRetirement>>();
    for (const retirement of retirements) {
      let versions = byName.get(retirement.name);
      if (!versions) byName.set(retirement.name, (versions = new Map()));
      versions.set(retirement.version, retirement);
    }
    this.#retirements = byName;
    this.#state = { keys, revocations, retirements };
    // The whole content, so that a certificate edited in place (same id, same length) also moves the generation.
    let fingerprint: string;
    let malformed: Error | undefined;
    try {
      fingerprint = trustStateText(this.#state);
    } catch (error) {
      malformed = error as Error;
      fingerprint = JSON.stringify(this.#state);
    }
    if (fingerprint !== this.#fingerprint) {
      this.#fingerprint = fingerprint;
      this.#generation++;
    }
    if (!this.#seal) return;
    try {
      this.#problem = malformed
        ? new FactoryError('E_TRUST_STATE', `the trust data holds a value no legitimate change writes (${malformed.message}): it was edited outside Agent Factory; run \`af keys verify\``)
        : this.#seal.check(this.#state, fingerprint);
    } catch (error) {
      // Never open: a seal that cannot be checked vouches for nothing.
      this.#problem = error instanceof FactoryError ? error : new FactoryError('E_TRUST_STATE', `the trust seal ${this.#seal.location} could not be checked: ${(error as Error).message}`, { cause: error });
    }
  }

  /** True when the data as last loaded is not vouched for (without reloading). */
  protected get hasTrustProblem(): boolean {
    return this.#problem !== undefined;
  }

  /** The data as loaded, for a seal. */
  protected get state(): TrustState {
    return this.#state;
  }

  /** Changes whenever trust data changes, so caches (parsed roots and signers) can tell. */
  get generation(): number {
    this.refresh();
    return this.#generation;
  }

  roots(): KeyRecord[] {
    this.refresh();
    return [...this.#keys.values()].filter((key) => key.role === 'root');
  }

  /** Every key, oldest first. */
  keys(): KeyRecord[] {
    this.refresh();
    return [...this.#keys.values()].sort((a, b) => a.createdAt - b.createdAt);
  }

  key(id: string): KeyRecord | undefined {
    this.refresh();
    return this.#keys.get(id);
  }

  isRevoked(id: string): boolean {
    this.refresh();
    return this.#revocations.has(id);
  }

  revocation(id: string): Revocation | undefined {
    this.refresh();
    return this.#revocations.get(id);
  }

  /** The retirement of `name` at `version`, if it was retired. Runs on every cache hit outside dev: two map lookups. */
  retirement(name: string, version: string): VersionRetirement | undefined {
    this.refresh();
    return this.#retirements.get(name)?.get(version);
  }

  /** Retired versions of `name`, or of every template, oldest first. */
  retirements(name?: string): VersionRetirement[] {
    this.refresh();
    const groups = name === undefined ? [...this.#retirements.values()] : [this.#retirements.get(name) ?? new Map<string, VersionRetirement>()];
    return groups.flatMap((versions) => [...versions.values()]).sort((a, b) => a.retiredAt - b.retiredAt);
  }

  /** Revocations as loaded (for writing the whole set back). */
  protected revocations(): Revocation[] {
    return [...this.#revocations.values()];
  }
}
