/** @module templates/keys — the local certificate authority: a root, signer certificates issued by it, rotation and revocation. */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, randomBytes, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { type Clock, systemClock } from '../core/clock.js';
import { FactoryError } from '../core/errors.js';
import type { KeyRecord, TrustStore } from './trust-store.js';

const DAY_MS = 86_400_000;

const require = createRequire(import.meta.url);
let forgeModule: typeof import('node-forge') | undefined;

/** node-forge, loaded when a certificate is first issued: verifying (every run) never needs it, and it takes ~100 ms to load. */
function forge(): typeof import('node-forge') {
  forgeModule ??= require('node-forge') as typeof import('node-forge');
  return forgeModule;
}

/** Root certificates last ten years; signers one, and rotate within that. */
export const ROOT_VALID_DAYS = 3650;
export const SIGNER_VALID_DAYS = 365;

/** A key id: the first 16 hex digits of SHA-256 over the public key's SubjectPublicKeyInfo (DER). */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

/** The id of the key a PEM certificate certifies. */
export function keyIdOfCertificate(certificatePem: string): string {
  return keyIdOf(new X509Certificate(certificatePem).publicKey);
}

interface IssueOptions {
  name: string;
  notBefore: number;
  validDays: number;
  isCa: boolean;
  /** Issuer certificate and key; omitted for a self-signed root. */
  issuer?: { certificatePem: string; privateKeyPem: string };
}

/**
 * Issues an X.509 certificate for a fresh RSA-2048 key. Keys come from node:crypto (native, fast);
 * node-forge builds and signs the certificate, which node:crypto cannot do.
 */
function issue(options: IssueOptions): { certificatePem: string; privateKeyPem: string; notBefore: number; notAfter: number } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const { pki, md } = forge();
  const certificate = pki.createCertificate();
  certificate.publicKey = pki.publicKeyFromPem(publicKeyPem);
  // A positive, minimally encoded serial: the first byte in 0x40–0x7f (high bit clear, never zero), or
  // DER would need a leading zero byte that OpenSSL refuses when it is not minimal.
  const serial = randomBytes(16);
  serial[0] = ((serial[0] as number) & 0x3f) | 0x40;
  certificate.serialNumber = serial.toString('hex');
  // X.509 times have second precision; keep the window on whole seconds so what is stored matches the certificate.
  const notBefore = Math.floor(options.notBefore / 1000) * 1000;
  const notAfter = notBefore + options.validDays * DAY_MS;
  certificate.validity.notBefore = new Date(notBefore);
  certificate.validity.notAfter = new Date(notAfter);
  const subject = [{ name: 'commonName', value: options.name }, { name: 'organizationName', value: 'Agent Factory' }];
  certificate.setSubject(subject);
  const issuerCertificate = options.issuer ? pki.certificateFromPem(options.issuer.certificatePem) : undefined;
  certificate.setIssuer(issuerCertificate ? issuerCertificate.subject.attributes : subject);
  certificate.setExtensions(
    options.isCa
      ? [
          { name: 'basicConstraints', cA: true, critical: true },
          { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
          { name: 'subjectKeyIdentifier' },
        ]
      : [
          { name: 'basicConstraints', cA: false, critical: true },
          { name: 'keyUsage', digitalSignature: true, critical: true },
          { name: 'extKeyUsage', codeSigning: true },
          { name: 'subjectKeyIdentifier' },
        ],
  );
  const signingKey = pki.privateKeyFromPem(options.issuer?.privateKeyPem ?? privateKeyPem);
  certificate.sign(signingKey, md.sha256.create());
  return { certificatePem: pki.certificateToPem(certificate), privateKeyPem, notBefore, notAfter };
}

export interface KeyRingOptions {
  /** Folder for private keys (`.af/keys`); files are written with mode 0600. */
  keysDir: string;
  trust: TrustStore;
  clock?: Clock;
}

/**
 * The project's keys: creates the root and signers, rotates and revokes them, and finds the signer
 * to sign with. Private keys stay in files under `keysDir`; only certificates go to the trust store.
 */
export class KeyRing {
  readonly #keysDir: string;
  readonly #trust: TrustStore;
  readonly #clock: Clock;

  constructor(options: KeyRingOptions) {
    this.#keysDir = options.keysDir;
    this.#trust = options.trust;
    this.#clock = options.clock ?? systemClock;
  }

  get trust(): TrustStore {
    return this.#trust;
  }

  /**
   * Creates a root certificate authority and a first signer. Refuses when a root already exists.
   * @returns the root and the signer records.
   */
  async init(options: { rootName?: string; signerName?: string } = {}): Promise<{ root: KeyRecord; signer: KeyRecord }> {
    if (this.#trust.roots().length > 0) {
      throw new FactoryError('E_USAGE', `keys already exist (root ${this.#trust.roots()[0]?.id}); use \`af keys create\` or \`af keys rotate\` for a new signer`);
    }
    const now = this.#clock.now();
    const rootIssued = issue({ name: options.rootName ?? 'Agent Factory local root', notBefore: now, validDays: ROOT_VALID_DAYS, isCa: true });
    const root = await this.#remember('root', options.rootName ?? 'Agent Factory local root', rootIssued, now);
    const signer = await this.create(options.signerName ?? 'signer-1');
    return { root, signer };
  }

  /**
   * Issues a new signer certificate from the root.
   * @param options.notBefore start of validity (for tests of expiry) @default now
   */
  async create(name: string, options: { notBefore?: number; validDays?: number } = {}): Promise<KeyRecord> {
    const root = this.#currentRoot();
    const rootKeyPem = this.#readPrivateKey(root.id);
    const now = this.#clock.now();
    const issued = issue({
      name,
      notBefore: options.notBefore ?? now,
      validDays: options.validDays ?? SIGNER_VALID_DAYS,
      isCa: false,
      issuer: { certificatePem: root.certificatePem, privateKeyPem: rootKeyPem },
    });
    return this.#remember('signer', name, issued, now);
  }

  /** A new signer that becomes the current one; older signers stay valid until they expire or are revoked. */
  rotate(): Promise<KeyRecord> {
    const signers = this.#trust.keys().filter((key) => key.role === 'signer');
    return this.create(`signer-${signers.length + 1}`);
  }

  async revoke(id: string, reason = 'revoked by a maintainer'): Promise<void> {
    await this.#trust.revoke(id, reason, this.#clock.now());
  }

  /**
   * The signer to sign with: `id` if given, else the newest signer that is neither revoked nor expired and
   * whose private key is here.
   * @throws FactoryError `E_KEY_REVOKED`, `E_KEY_EXPIRED`, or `E_SIGNER_KEY_MISSING` when there is none.
   */
  signer(id?: string): { record: KeyRecord; privateKey: KeyObject } {
    const now = this.#clock.now();
    if (id !== undefined) {
      const record = this.#trust.key(id);
      if (!record || record.role !== 'signer') throw new FactoryError('E_KEY_NOT_FOUND', `no signer key with id ${id}; run \`af keys list\``);
      if (this.#trust.isRevoked(id)) throw new FactoryError('E_KEY_REVOKED', `key ${id} (${record.name}) is revoked; sign with another key`);
      if (now > record.notAfter || now < record.notBefore) throw new FactoryError('E_KEY_EXPIRED', `key ${id} (${record.name}) is not valid now; run \`af keys rotate\``);
      return { record, privateKey: createPrivateKey(this.#readPrivateKey(id)) };
    }
    const usable = this.#trust
      .keys()
      .filter((key) => key.role === 'signer' && !this.#trust.isRevoked(key.id) && now >= key.notBefore && now <= key.notAfter && existsSync(this.#keyPath(key.id)));
    const newest = usable.at(-1);
    if (!newest) {
      throw new FactoryError('E_SIGNER_KEY_MISSING', `no usable signer key in ${this.#keysDir}: run \`af keys init\` (first time, or \`af init --keys\`) or \`af keys rotate\``);
    }
    return { record: newest, privateKey: createPrivateKey(this.#readPrivateKey(newest.id)) };
  }

  #currentRoot(): KeyRecord {
    const roots = this.#trust.roots().filter((root) => !this.#trust.isRevoked(root.id) && existsSync(this.#keyPath(root.id)));
    const root = roots.at(-1);
    if (!root) throw new FactoryError('E_SIGNER_KEY_MISSING', `no root key in ${this.#keysDir}: run \`af keys init\` first`);
    return root;
  }

  async #remember(role: 'root' | 'signer', name: string, issued: ReturnType<typeof issue>, now: number): Promise<KeyRecord> {
    const id = keyIdOf(createPublicKey(issued.privateKeyPem));
    mkdirSync(this.#keysDir, { recursive: true, mode: 0o700 });
    const file = this.#keyPath(id);
    writeFileSync(file, issued.privateKeyPem, { mode: 0o600 });
    // The mode option is ignored when the file already exists; make sure.
    chmodSync(file, 0o600);
    const record: KeyRecord = { id, role, name, certificatePem: issued.certificatePem, notBefore: issued.notBefore, notAfter: issued.notAfter, createdAt: now };
    await this.#trust.addKey(record);
    return record;
  }

  #keyPath(id: string): string {
    return path.join(this.#keysDir, `${id}.key.pem`);
  }

  #readPrivateKey(id: string): string {
    try {
      return readFileSync(this.#keyPath(id), 'utf8');
    } catch {
      throw new FactoryError('E_SIGNER_KEY_MISSING', `the private key of ${id} is not in ${this.#keysDir}; sign on the machine that holds it, or \`af keys create\` a signer here`);
    }
  }
}
