/** @module store/postgres/connection — a pool of PostgreSQL connections, with transactions that every store call inside them joins. */
import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import { FactoryError } from '../../core/errors.js';
import { redactUrl } from './connection-url.js';

export { redactUrl } from './connection-url.js';

/** A statement: its text, and a name when it runs often enough to be prepared once per connection. */
export interface Statement {
  /** Prepared under this name on each connection that runs it (PostgreSQL keeps it for the connection's life). */
  name?: string;
  text: string;
}

export interface PgDatabaseOptions {
  /** Connections in the pool. @default 10 */
  maxConnections?: number;
  /** Shown in errors and `af doctor` instead of the URL, which may hold a password. @default the URL without it */
  label?: string;
  /** How long to wait for a connection before failing. @default 10_000 */
  connectTimeoutMs?: number;
}

/** What runs statements: the pool, or the one connection of an open transaction. */
type Queryable = pg.Pool | pg.PoolClient;

/*
 * BIGINT (int8) comes back as a string by default, because it can exceed 2^53. Every BIGINT here is an epoch
 * millisecond, a byte count or a sequence number, all far below that, so they are read as numbers. The parsers are
 * this pool's own (`types` option): the `pg` module's global parsers, which a library user may rely on, are untouched.
 */
const INT8_OID = 20;
const NUMERIC_OID = 1700;
const typeParsers = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID || oid === NUMERIC_OID) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
};


/**
 * The pool and the transaction context. A store call made inside {@link transaction} runs on that transaction's
 * connection without being told: the connection travels in an AsyncLocalStorage, so components need no extra parameter
 * and a transaction spans several components (a run record, its kv writes and an audit entry commit together).
 */
export class PgDatabase {
  readonly label: string;
  readonly pool: pg.Pool;
  readonly #transaction = new AsyncLocalStorage<pg.PoolClient>();
  #isClosed = false;

  constructor(url: string, options: PgDatabaseOptions = {}) {
    this.label = options.label ?? redactUrl(url);
    this.pool = new pg.Pool({
      connectionString: url,
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      types: typeParsers,
    });
    // An idle connection that the server drops (a restart, a failover) emits 'error' on the pool; without a listener
    // Node would crash the process. The pool discards it and the next query opens a new one.
    this.pool.on('error', () => {});
    // The pool listens only to idle connections: one checked out (a transaction between two queries, a LISTEN
    // connection) that the server drops emits 'error' on its client, which would crash the process the same way. The
    // holder learns of it from its next query, which fails (and the transaction releases the connection as broken).
    this.pool.on('connect', (client) => client.on('error', () => {}));
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** True inside {@link transaction}. */
  get inTransaction(): boolean {
    return this.#transaction.getStore() !== undefined;
  }

  /** Runs one statement on the open transaction's connection, or on any pooled one. @throws FactoryError `E_STORE` */
  async query<Row extends pg.QueryResultRow = Record<string, unknown>>(statement: Statement | string, values: unknown[] = []): Promise<pg.QueryResult<Row>> {
    const on: Queryable = this.#transaction.getStore() ?? this.pool;
    const config = typeof statement === 'string' ? { text: statement, values } : { ...statement, values };
    try {
      return await on.query<Row>(config);
    } catch (error) {
      throw this.storeError(error);
    }
  }

  /** The rows of one statement. */
  async rows<Row extends pg.QueryResultRow = Record<string, unknown>>(statement: Statement | string, values: unknown[] = []): Promise<Row[]> {
    return (await this.query<Row>(statement, values)).rows;
  }

  /** The first row of one statement, if any. */
  async row<Row extends pg.QueryResultRow = Record<string, unknown>>(statement: Statement | string, values: unknown[] = []): Promise<Row | undefined> {
    return (await this.query<Row>(statement, values)).rows[0];
  }

  /**
   * Runs `work` in one transaction on one connection: every {@link query} inside it (in any component) joins, and it
   * commits when `work` returns or rolls back when it throws. A nested call joins the outer transaction.
   */
  async transaction<T>(work: () => Promise<T> | T, options: { isolation?: 'read committed' | 'repeatable read' | 'serializable' } = {}): Promise<T> {
    if (this.inTransaction) return work();
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw this.storeError(error);
    }
    let isBroken = false;
    try {
      await client.query(options.isolation ? `BEGIN ISOLATION LEVEL ${options.isolation.toUpperCase()}` : 'BEGIN');
      const result = await this.#transaction.run(client, work);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch {
        // The connection is gone (the server restarted): it must not go back to the pool.
        isBroken = true;
      }
      throw error instanceof FactoryError ? error : this.storeError(error);
    } finally {
      client.release(isBroken);
    }
  }

  /** A dedicated connection (for LISTEN): the caller releases it. */
  async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (error) {
      throw this.storeError(error);
    }
  }

  async close(): Promise<void> {
    if (this.#isClosed) return;
    this.#isClosed = true;
    await this.pool.end();
  }

  /** A driver or server error as `E_STORE`, naming the database (never its password) and keeping PostgreSQL's SQLSTATE. */
  storeError(error: unknown): FactoryError {
    if (error instanceof FactoryError) return error;
    const cause = error as { message?: string; code?: string };
    const sqlState = typeof cause.code === 'string' ? cause.code : undefined;
    return new FactoryError('E_STORE', `the PostgreSQL store at ${this.label} failed: ${cause.message ?? String(error)}`, {
      cause: error,
      ...(sqlState ? { details: { sqlState } } : {}),
    });
  }
}

/** SQLSTATE of a PostgreSQL error kept by {@link PgDatabase.storeError}, if any. */
export function sqlStateOf(error: unknown): string | undefined {
  const details = (error as { details?: { sqlState?: unknown } }).details;
  return typeof details?.sqlState === 'string' ? details.sqlState : undefined;
}
