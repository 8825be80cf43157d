/** @module core/trust-records — records that both the templates and the store handle: keys, revocations and stored template versions. */

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
}

/**
 * Trust data held in memory, with the read side every trust store shares. A store subclasses it,
 * says how to notice changes (`refresh`, called before every read, so it must be cheap) and hands
 * what it loaded to `replaceRecords`; `generation` moves only when the keys or revocations change.
 */
export abstract class CachedTrustRecords {
  #keys = new Map<string, KeyRecord>();
  #revocations = new Map<string, Revocation>();
  #fingerprint = '';
  #generation = 0;

  /** Reloads when the backing data changed; called before every read. */
  protected abstract refresh(): void;

  protected replaceRecords(keys: readonly KeyRecord[], revocations: readonly Revocation[]): void {
    this.#keys = new Map(keys.map((key) => [key.id, key]));
    this.#revocations = new Map(revocations.map((revocation) => [revocation.id, revocation]));
    const fingerprint = `${keys.map((key) => `${key.id}:${key.certificatePem.length}`).join(',')}|${revocations.map((revocation) => revocation.id).join(',')}`;
    if (fingerprint !== this.#fingerprint) {
      this.#fingerprint = fingerprint;
      this.#generation++;
    }
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

  /** Revocations as loaded (for writing the whole set back). */
  protected revocations(): Revocation[] {
    return [...this.#revocations.values()];
  }
}
