/** @module store/tenants — tenants, API keys (stored as hashes, compared in constant time) and their roles. */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { Clock } from '../core/clock.js';
import { FactoryError } from '../core/errors.js';

/** Roles in increasing power: each can do what the ones before it can. */
export const ROLES = ['viewer', 'operator', 'maintainer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function roleAtLeast(role: Role, needed: Role): boolean {
  // A role this code does not know (a typo in a route's declaration, a row from elsewhere) grants and satisfies nothing.
  const neededRank = ROLES.indexOf(needed);
  const rank = ROLES.indexOf(role);
  return neededRank >= 0 && rank >= 0 && rank >= neededRank;
}

export interface ApiKeyRecord {
  id: string;
  tenant: string;
  role: Role;
  label: string;
  createdAt: number;
  revokedAt?: number;
}

/**
 * The installation itself, as a tenant: its keys act on what every tenant shares (templates on disk, versions,
 * the learner's cross-tenant suggestions, the audit log). A role of another tenant never reaches that far.
 */
export const INSTALLATION_TENANT = '*';

/** True for a key of the installation tenant: the only keys that may take installation-wide actions. */
export function isInstallationWide(principal: Pick<Principal, 'tenant'>): boolean {
  return principal.tenant === INSTALLATION_TENANT;
}

/** What the caller of an API request is, once its key checked out. */
export interface Principal {
  keyId: string;
  tenant: string;
  role: Role;
}

export interface ApiKeyRow {
  id: string;
  tenant_id: string;
  role: Role;
  hash: string;
  label: string;
  created_at: number;
  revoked_at: number | null;
}

export const KEY_PREFIX = 'afk';
const TENANT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** A presented key: its id (which finds the row) and its secret. */
export const API_KEY_FORMAT = /^afk_([0-9a-f]{12})_([A-Za-z0-9_-]{32})$/;

/** @throws FactoryError `E_USAGE` for a tenant id no tenant may have. */
export function checkTenantId(id: string): void {
  if (id !== INSTALLATION_TENANT && !TENANT_ID.test(id)) throw new FactoryError('E_USAGE', `tenant ${JSON.stringify(id)} is not valid: use letters, digits, ".", "_" and "-" (at most 64)`);
}

/** @throws FactoryError `E_USAGE` for a role that is not one of {@link ROLES}. */
export function checkRole(role: Role): void {
  if (!ROLES.includes(role)) throw new FactoryError('E_USAGE', `role ${JSON.stringify(role)} is not one of ${ROLES.join(', ')}`);
}

/**
 * An API key reads `afk_<id>_<secret>`: the id finds the row, the secret's SHA-256 is compared with
 * `timingSafeEqual`. Only the hash is stored; the key is shown once, at creation.
 */
export class Tenants {
  readonly #clock: Clock;
  readonly #ensureTenant: Database.Statement<[string, string, number]>;
  readonly #tenants: Database.Statement<[], { id: string; name: string; created_at: number }>;
  readonly #insertKey: Database.Statement<[string, string, string, string, string, number]>;
  readonly #listAll: Database.Statement<[], ApiKeyRow>;
  readonly #listOf: Database.Statement<[string], ApiKeyRow>;
  readonly #revoke: Database.Statement<[number, string]>;
  readonly #key: Database.Statement<[string], ApiKeyRow>;

  constructor(db: Database.Database, clock: Clock) {
    this.#clock = clock;
    this.#ensureTenant = db.prepare('INSERT OR IGNORE INTO tenants (id, name, created_at) VALUES (?, ?, ?)');
    this.#tenants = db.prepare('SELECT * FROM tenants ORDER BY id');
    this.#insertKey = db.prepare('INSERT INTO api_keys (id, tenant_id, role, hash, label, created_at) VALUES (?, ?, ?, ?, ?, ?)');
    this.#listAll = db.prepare('SELECT * FROM api_keys ORDER BY created_at');
    this.#listOf = db.prepare('SELECT * FROM api_keys WHERE tenant_id = ? ORDER BY created_at');
    this.#revoke = db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');
    // Every authenticated request reads it.
    this.#key = db.prepare('SELECT * FROM api_keys WHERE id = ?');
  }

  /** Creates the tenant if it does not exist. `*` is the installation (see {@link INSTALLATION_TENANT}). */
  ensureTenant(id: string, name = id === INSTALLATION_TENANT ? 'installation' : id): void {
    checkTenantId(id);
    this.#ensureTenant.run(id, name, this.#clock.now());
  }

  tenants(): Array<{ id: string; name: string; createdAt: number }> {
    return this.#tenants
      .all()
      .map((row) => ({ id: row.id, name: row.name, createdAt: row.created_at }));
  }

  /** @returns the new key's record and the key itself, which is not stored and cannot be shown again. */
  createApiKey(tenant: string, role: Role, label = ''): { record: ApiKeyRecord; key: string } {
    checkRole(role);
    this.ensureTenant(tenant);
    const id = randomBytes(6).toString('hex');
    const secret = randomBytes(24).toString('base64url');
    const createdAt = this.#clock.now();
    this.#insertKey.run(id, tenant, role, hashSecret(secret), label, createdAt);
    return { record: { id, tenant, role, label, createdAt }, key: `${KEY_PREFIX}_${id}_${secret}` };
  }

  listApiKeys(tenant?: string): ApiKeyRecord[] {
    // An empty tenant means every tenant, as it always did.
    return (tenant ? this.#listOf.all(tenant) : this.#listAll.all()).map(toRecord);
  }

  revokeApiKey(id: string): ApiKeyRecord {
    const result = this.#revoke.run(this.#clock.now(), id);
    const row = this.#key.get(id);
    if (!row) throw new FactoryError('E_KEY_NOT_FOUND', `no API key with id ${id}; run \`af keys api list\``);
    if (result.changes === 0 && row.revoked_at === null) throw new FactoryError('E_STORE', `API key ${id} could not be revoked`);
    return toRecord(row);
  }

  /**
   * Checks a presented key.
   * @returns the principal, or undefined for a malformed, unknown or revoked key (the caller answers 401 without saying which).
   */
  authenticate(presented: string): Principal | undefined {
    const match = API_KEY_FORMAT.exec(presented);
    if (!match) return undefined;
    return principalOf(this.#key.get(match[1] as string), match[2] as string);
  }
}

/** The principal of the row a presented key's id found, when the key's secret is that row's and it is not revoked. */
export function principalOf(row: ApiKeyRow | undefined, secret: string): Principal | undefined {
  // Hash even when the id is unknown, so the time taken does not reveal which ids exist.
  const presentedHash = Buffer.from(hashSecret(secret), 'hex');
  const storedHash = Buffer.from(row?.hash ?? '0'.repeat(64), 'hex');
  const isEqual = timingSafeEqual(presentedHash, storedHash);
  if (!row || !isEqual || row.revoked_at !== null) return undefined;
  return { keyId: row.id, tenant: row.tenant_id, role: row.role };
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function toRecord(row: ApiKeyRow): ApiKeyRecord {
  return { id: row.id, tenant: row.tenant_id, role: row.role, label: row.label, createdAt: row.created_at, ...(row.revoked_at !== null ? { revokedAt: row.revoked_at } : {}) };
}
