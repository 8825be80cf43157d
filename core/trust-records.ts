/** @module core/trust-records — the records of trust data (keys and revocations) that both the templates and the store handle. */

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
