/** @module templates/signature — `agent.sig`: signing a template digest, and verifying it against trusted roots with a cache. */
import { type KeyObject, sign as cryptoSign, verify as cryptoVerify, X509Certificate } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { canonicalJson } from '../core/canonical-json.js';
import { type Clock, systemClock } from '../core/clock.js';
import { FactoryError } from '../core/errors.js';
import { BUNDLE_FORMAT } from './bundle.js';
import { keyIdOf } from './keys.js';
import type { KeyRecord, TrustStore } from './trust-store.js';

export const SIGNATURE_FILE = 'agent.sig';
export const SIGNATURE_ALGORITHM = 'RSA-PKCS1-v1_5-SHA256';

/** The bundle a signature pins: the bytes that run outside dev, and the bundler that made them. */
export interface SignedBundle {
  /** SHA-256 (hex) of the bundle script. */
  sha256: string;
  /** `BUNDLE_FORMAT` of the bundler that built it (shape, options and esbuild version). */
  bundler: string;
}

/** The content of `agent.sig`. */
export interface SignatureFile {
  keyId: string;
  algorithm: typeof SIGNATURE_ALGORITHM;
  /** The template digest that was signed (hex). */
  digest: string;
  /**
   * The bundle signed with the digest. Absent in agent.sig files written before signatures covered the bundle
   * (format 1: the signature is over the digest alone).
   */
  bundle?: SignedBundle;
  /** Base64 RSA PKCS#1 v1.5 signature over SHA-256 of {@link signedMessage}. */
  signature: string;
  signedAt: string;
  /** The signer's certificate (PEM), so a verifier needs only the trusted roots. */
  certificate: string;
}

/** Who signed a template, once verified. */
export interface Verification {
  keyId: string;
  signer: string;
  rootId: string;
  signedAt: number;
  notAfter: number;
  /** The bundle the signature pins, as signed (never taken from an unverified file). Absent for format 1. */
  bundle?: SignedBundle;
}

/** What a template must offer to be signed: its digest and a bundle this process built from its sources. */
export interface SignableTemplate {
  name: string;
  digest: string;
  bundleSha256: string;
  bundleOrigin: 'built' | 'cache' | 'store';
}

/**
 * The bytes an RSA signature covers. Format 2 covers the digest and the bundle in one canonical JSON text;
 * format 1 covered the digest's hex alone. A JSON text never equals a hex digest, so neither format's
 * signature can be passed off as the other's.
 */
export function signedMessage(digest: string, bundle: SignedBundle | undefined): Buffer {
  if (bundle === undefined) return Buffer.from(digest, 'utf8');
  return Buffer.from(canonicalJson({ format: 'af-signature-2', digest, bundle: { sha256: bundle.sha256, bundler: bundle.bundler } }), 'utf8');
}

/**
 * Signs a template: its digest (manifest and sources) and the SHA-256 of its bundle, so that outside dev only
 * these bytes run. The bundle must have been built in this process (`bundleFrom: 'build'`): a bundle read from
 * the cache or the store could be anyone's.
 * @throws TypeError when the bundle was not built here (a programming mistake).
 */
export function signTemplate(template: SignableTemplate, signer: { record: KeyRecord; privateKey: KeyObject }, now: number): SignatureFile {
  if (template.bundleOrigin !== 'built') {
    throw new TypeError(`signTemplate: the bundle of "${template.name}" came from the ${template.bundleOrigin}; resolve it with bundleFrom: 'build' before signing`);
  }
  const bundle: SignedBundle = { sha256: template.bundleSha256, bundler: BUNDLE_FORMAT };
  return {
    keyId: signer.record.id,
    algorithm: SIGNATURE_ALGORITHM,
    digest: template.digest,
    bundle,
    signature: cryptoSign('sha256', signedMessage(template.digest, bundle), signer.privateKey).toString('base64'),
    signedAt: new Date(now).toISOString(),
    certificate: signer.record.certificatePem,
  };
}

/**
 * Signs `digest` alone: the format-1 `agent.sig`, which covers the sources but not the bundle.
 * @deprecated Use {@link signTemplate}. Outside dev such a signature runs only a bundle built in-process from
 * the verified sources (never a cached or stored one), with a warning to sign again.
 */
export function signDigest(digest: string, signer: { record: KeyRecord; privateKey: KeyObject }, now: number): SignatureFile {
  const signature = cryptoSign('sha256', Buffer.from(digest, 'utf8'), signer.privateKey).toString('base64');
  return {
    keyId: signer.record.id,
    algorithm: SIGNATURE_ALGORITHM,
    digest,
    signature,
    signedAt: new Date(now).toISOString(),
    certificate: signer.record.certificatePem,
  };
}

/** Writes `agent.sig` beside `agent.json` (atomically). */
export function writeSignatureFile(dir: string, signature: SignatureFile): string {
  const file = path.join(dir, SIGNATURE_FILE);
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(signature, null, 2)}\n`);
  renameSync(temporary, file);
  return file;
}

/**
 * Reads `agent.sig` of a template folder.
 * @returns undefined when there is none.
 * @throws FactoryError `E_SIGNATURE_INVALID` when it exists but is malformed.
 */
export function readSignatureFile(dir: string, displayFile: string): SignatureFile | undefined {
  let text: string;
  try {
    text = readFileSync(path.join(dir, SIGNATURE_FILE), 'utf8');
  } catch {
    return undefined;
  }
  let parsed: Partial<SignatureFile>;
  try {
    parsed = JSON.parse(text) as Partial<SignatureFile>;
  } catch {
    throw new FactoryError('E_SIGNATURE_INVALID', `${displayFile} is not valid JSON; sign the template again with \`af sign\``);
  }
  for (const key of ['keyId', 'digest', 'signature', 'signedAt', 'certificate'] as const) {
    if (typeof parsed[key] !== 'string') throw new FactoryError('E_SIGNATURE_INVALID', `${displayFile} has no "${key}"; sign the template again with \`af sign\``);
  }
  if (parsed.algorithm !== SIGNATURE_ALGORITHM) {
    throw new FactoryError('E_SIGNATURE_INVALID', `${displayFile} uses algorithm ${String(parsed.algorithm)}; only ${SIGNATURE_ALGORITHM} is accepted`);
  }
  if (parsed.bundle !== undefined && !isSignedBundle(parsed.bundle)) {
    throw new FactoryError('E_SIGNATURE_INVALID', `${displayFile} has a malformed "bundle" (it needs "sha256" and "bundler"); sign the template again with \`af sign\``);
  }
  return parsed as SignatureFile;
}

/**
 * Verifies signatures with node:crypto and caches the result by digest and signature. A cached
 * verification is re-checked against revocation and expiry on every use, so revoking a key takes
 * effect at once.
 */
export class SignatureVerifier {
  readonly #trust: TrustStore;
  readonly #clock: Clock;
  readonly #cache = new Map<string, Verification>();
  readonly #roots = new Map<string, X509Certificate>();
  readonly #signers = new Map<string, SignerCertificate>();
  #rootsGeneration = -1;

  constructor(trust: TrustStore, clock: Clock = systemClock) {
    this.#trust = trust;
    this.#clock = clock;
  }

  /**
   * @throws FactoryError `E_SIGNATURE_INVALID` (content changed, bad signature, unknown chain),
   *   `E_KEY_REVOKED` or `E_KEY_EXPIRED`.
   */
  verify(digest: string, signature: SignatureFile): Verification {
    // The signed bundle is part of the key: the same signature bytes beside another "bundle" must verify afresh.
    const cacheKey = `${digest}\u0000${signature.signature}\u0000${signature.bundle?.sha256 ?? ''}\u0000${signature.bundle?.bundler ?? ''}`;
    const cached = this.#cache.get(cacheKey);
    if (cached) {
      this.recheck(cached);
      return cached;
    }
    if (signature.digest !== digest) {
      throw new FactoryError('E_SIGNATURE_INVALID', 'the template changed since it was signed (its digest differs from the one in agent.sig); review the change and sign it again with `af sign`', {
        details: { expected: signature.digest, actual: digest },
      });
    }
    // A stored signature never went through readSignatureFile: check its shape here too.
    const bundle = signature.bundle === undefined ? undefined : isSignedBundle(signature.bundle) ? { sha256: signature.bundle.sha256, bundler: signature.bundle.bundler } : null;
    if (bundle === null) throw new FactoryError('E_SIGNATURE_INVALID', 'agent.sig has a malformed "bundle" (it needs "sha256" and "bundler"); sign the template again with `af sign`');
    const signer = this.#signerOf(signature.certificate);
    if (signer.keyId !== signature.keyId) throw new FactoryError('E_SIGNATURE_INVALID', `agent.sig names key ${signature.keyId}, but its certificate is for key ${signer.keyId}`);
    const valid = cryptoVerify('sha256', signedMessage(digest, bundle), signer.publicKey, Buffer.from(signature.signature, 'base64'));
    if (!valid) throw new FactoryError('E_SIGNATURE_INVALID', `the signature in agent.sig does not verify with key ${signer.keyId}; sign the template again`);
    if (signer.isCa) throw new FactoryError('E_SIGNATURE_INVALID', `key ${signer.keyId} is a certificate authority, not a signer`);
    if (signer.rootId === undefined) {
      throw new FactoryError('E_SIGNATURE_INVALID', `key ${signer.keyId} (${signer.name}) does not chain to a trusted root; sign with a key of this project (\`af keys list\`)`, {
        details: { untrustedRoot: true, keyId: signer.keyId, signer: signer.name },
      });
    }
    const signedAt = Date.parse(signature.signedAt);
    if (!(signedAt >= signer.notBefore && signedAt <= signer.notAfter)) {
      throw new FactoryError('E_KEY_EXPIRED', `agent.sig was made at ${signature.signedAt}, outside the validity of key ${signer.keyId} (${new Date(signer.notBefore).toISOString()} to ${new Date(signer.notAfter).toISOString()}); sign again with a current key`);
    }
    const verification: Verification = {
      keyId: signer.keyId, signer: signer.name, rootId: signer.rootId, signedAt, notAfter: signer.notAfter, ...(bundle ? { bundle: Object.freeze(bundle) } : {}),
    };
    this.recheck(verification);
    if (this.#cache.size >= 10_000) this.#cache.clear();
    this.#cache.set(cacheKey, verification);
    return verification;
  }

  /** The checks a cached verification must pass again on every use: revocation and expiry, of signer and root. */
  recheck(verification: Verification): void {
    if (this.#trust.isRevoked(verification.keyId)) {
      throw new FactoryError('E_KEY_REVOKED', `key ${verification.keyId} (${verification.signer}) that signed this template is revoked; sign it again with a current key`);
    }
    if (this.#trust.isRevoked(verification.rootId)) {
      throw new FactoryError('E_KEY_REVOKED', `the root ${verification.rootId} behind key ${verification.keyId} is revoked; nothing it issued is trusted`);
    }
    if (this.#clock.now() > verification.notAfter) {
      throw new FactoryError('E_KEY_EXPIRED', `key ${verification.keyId} (${verification.signer}) expired on ${new Date(verification.notAfter).toISOString()}; sign the template again with a current key (\`af keys rotate\`)`);
    }
  }

  /**
   * What a signer certificate says, parsed and chain-checked once per certificate: a project has a
   * handful of signers, so a new signature costs one RSA verification, not a certificate parse and a
   * second RSA verification of the chain. Forgotten when the trusted roots change.
   */
  #signerOf(certificatePem: string): SignerCertificate {
    if (this.#rootsGeneration !== this.#trust.generation) {
      this.#roots.clear();
      this.#signers.clear();
      for (const root of this.#trust.roots()) this.#roots.set(root.id, new X509Certificate(root.certificatePem));
      this.#rootsGeneration = this.#trust.generation;
    }
    const known = this.#signers.get(certificatePem);
    if (known) return known;
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(certificatePem);
    } catch {
      throw new FactoryError('E_SIGNATURE_INVALID', 'agent.sig holds a certificate that cannot be parsed; sign the template again');
    }
    let rootId: string | undefined;
    for (const [id, root] of this.#roots) {
      if (certificate.checkIssued(root) && certificate.verify(root.publicKey)) {
        rootId = id;
        break;
      }
    }
    const signer: SignerCertificate = {
      keyId: keyIdOf(certificate.publicKey),
      name: commonName(certificate),
      publicKey: certificate.publicKey,
      isCa: certificate.ca,
      rootId,
      notBefore: Date.parse(certificate.validFrom),
      notAfter: Date.parse(certificate.validTo),
    };
    // Bounded: certificates come from agent.sig files, which anyone can write.
    if (this.#signers.size >= 1024) this.#signers.clear();
    this.#signers.set(certificatePem, signer);
    return signer;
  }
}

interface SignerCertificate {
  keyId: string;
  name: string;
  publicKey: KeyObject;
  isCa: boolean;
  rootId: string | undefined;
  notBefore: number;
  notAfter: number;
}

function isSignedBundle(value: unknown): value is SignedBundle {
  const bundle = value as Partial<SignedBundle> | null;
  return typeof bundle === 'object' && bundle !== null && typeof bundle.sha256 === 'string' && /^[0-9a-f]{64}$/.test(bundle.sha256) && typeof bundle.bundler === 'string';
}

function commonName(certificate: X509Certificate): string {
  return /CN=([^\n,]+)/.exec(certificate.subject)?.[1] ?? 'unknown';
}
