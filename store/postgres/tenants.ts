/** @module store/postgres/tenants — tenants and API keys in PostgreSQL: the SQLite module's key format, hashing, constant-time check and messages. */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../core/clock.js';
import { FactoryError } from '../../core/errors.js';
import type { TenantStore } from '../contract.js';
import {
  API_KEY_FORMAT, type ApiKeyRecord, type ApiKeyRow, checkRole, checkTenantId, hashSecret, INSTALLATION_TENANT, KEY_PREFIX, type Principal, principalOf, type Role, toRecord,
} from '../tenants.js';
import type { PgDatabase, Statement } from './connection.js';

const ENSURE_TENANT: Statement = { name: 'af_tenants_ensure', text: 'INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING' };
// Byte order, as SQLite's BINARY collation sorts ids (the database's own collation may be a language's).
const TENANTS = 'SELECT * FROM tenants ORDER BY id COLLATE "C"';
const INSERT_KEY = 'INSERT INTO api_keys (id, tenant_id, role, hash, label, created_at) VALUES ($1, $2, $3, $4, $5, $6)';
// Keys created in one millisecond in the order they were created, as SQLite's scan in rowid order gives them.
const LIST_ALL = 'SELECT * FROM api_keys ORDER BY created_at, seq';
const LIST_OF = 'SELECT * FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, seq';
const REVOKE = 'UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL';
// Every authenticated request reads it.
const KEY: Statement = { name: 'af_tenants_key', text: 'SELECT * FROM api_keys WHERE id = $1' };

/**
 * The SQLite `Tenants` over PostgreSQL: an API key reads `afk_<id>_<secret>`, only the secret's SHA-256 is stored, and
 * a presented key is checked with `timingSafeEqual` (store/tenants' own helpers, so both backends check alike).
 * A key revoked on one node is refused by every node from its next request: nothing is cached.
 */
export class PgTenants implements TenantStore {
  readonly #db: PgDatabase;
  readonly #clock: Clock;

  constructor(db: PgDatabase, clock: Clock) {
    this.#db = db;
    this.#clock = clock;
  }

  /** Creates the tenant if it does not exist. `*` is the installation (see {@link INSTALLATION_TENANT}). */
  async ensureTenant(id: string, name = id === INSTALLATION_TENANT ? 'installation' : id): Promise<void> {
    checkTenantId(id);
    await this.#db.query(ENSURE_TENANT, [id, name, this.#clock.now()]);
  }

  async tenants(): Promise<Array<{ id: string; name: string; createdAt: number }>> {
    const rows = await this.#db.rows<{ id: string; name: string; created_at: number }>(TENANTS);
    return rows.map((row) => ({ id: row.id, name: row.name, createdAt: row.created_at }));
  }

  /** @returns the new key's record and the key itself, which is not stored and cannot be shown again. */
  async createApiKey(tenant: string, role: Role, label = ''): Promise<{ record: ApiKeyRecord; key: string }> {
    checkRole(role);
    await this.ensureTenant(tenant);
    const id = randomBytes(6).toString('hex');
    const secret = randomBytes(24).toString('base64url');
    const createdAt = this.#clock.now();
    await this.#db.query(INSERT_KEY, [id, tenant, role, hashSecret(secret), label, createdAt]);
    return { record: { id, tenant, role, label, createdAt }, key: `${KEY_PREFIX}_${id}_${secret}` };
  }

  async listApiKeys(tenant?: string): Promise<ApiKeyRecord[]> {
    // An empty tenant means every tenant, as it always did.
    const rows = tenant ? await this.#db.rows<ApiKeyRow>(LIST_OF, [tenant]) : await this.#db.rows<ApiKeyRow>(LIST_ALL);
    return rows.map(toRecord);
  }

  async revokeApiKey(id: string): Promise<ApiKeyRecord> {
    const result = await this.#db.query(REVOKE, [this.#clock.now(), id]);
    const row = await this.#db.row<ApiKeyRow>(KEY, [id]);
    if (!row) throw new FactoryError('E_KEY_NOT_FOUND', `no API key with id ${id}; run \`af keys api list\``);
    if (result.rowCount === 0 && row.revoked_at === null) throw new FactoryError('E_STORE', `API key ${id} could not be revoked`);
    return toRecord(row);
  }

  /**
   * Checks a presented key.
   * @returns the principal, or undefined for a malformed, unknown or revoked key (the caller answers 401 without saying which).
   */
  async authenticate(presented: string): Promise<Principal | undefined> {
    const match = API_KEY_FORMAT.exec(presented);
    if (!match) return undefined;
    return principalOf(await this.#db.row<ApiKeyRow>(KEY, [match[1] as string]), match[2] as string);
  }
}
