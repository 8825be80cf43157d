/** @module store/postgres/notifications — one LISTEN connection per process, shared by every subscriber, that comes back after the server restarts. */
import type pg from 'pg';
import type { PgDatabase } from './connection.js';

type Handler = (payload: string) => void;

/** Longest wait between attempts to get the LISTEN connection back. */
const MAX_RECONNECT_MS = 2_000;

/**
 * Subscribes handlers to PostgreSQL channels over one dedicated connection. Notifications are a wake-up, never the
 * only way news arrives: one sent while the connection was down is lost, so every subscriber also polls slowly (the
 * queue's claim loop, a caller waiting for a result). When the connection drops, it is opened again with backoff and
 * every channel listened to again; `onReconnect` handlers run then, so a subscriber can catch up at once.
 */
export class PgNotifications {
  readonly #db: PgDatabase;
  readonly #handlers = new Map<string, Set<Handler>>();
  readonly #onReconnect = new Set<() => void>();
  #client: pg.PoolClient | undefined;
  #connecting: Promise<void> | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryMs = 50;
  #isClosed = false;

  constructor(db: PgDatabase) {
    this.#db = db;
  }

  /** True while the LISTEN connection is up. */
  get isConnected(): boolean {
    return this.#client !== undefined;
  }

  /** Calls `handler` with each notification's payload on `channel`. @returns a function that unsubscribes. */
  async subscribe(channel: string, handler: Handler): Promise<() => void> {
    if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new TypeError(`channel ${JSON.stringify(channel)} must be a lower-case SQL identifier`);
    let handlers = this.#handlers.get(channel);
    const isNew = handlers === undefined;
    if (!handlers) {
      handlers = new Set();
      this.#handlers.set(channel, handlers);
    }
    handlers.add(handler);
    await this.#ensureConnected();
    // The channel name is checked above: LISTEN takes no parameters.
    if (isNew && this.#client) await this.#client.query(`LISTEN ${channel}`).catch(() => this.#dropped());
    return () => {
      handlers?.delete(handler);
    };
  }

  /** Runs `handler` each time the connection comes back after a loss (notifications may have been missed). */
  onReconnect(handler: () => void): () => void {
    this.#onReconnect.add(handler);
    return () => this.#onReconnect.delete(handler);
  }

  async close(): Promise<void> {
    this.#isClosed = true;
    clearTimeout(this.#retryTimer);
    const client = this.#client;
    this.#client = undefined;
    if (client) {
      client.removeAllListeners('notification');
      client.release(true);
    }
  }

  #ensureConnected(): Promise<void> {
    if (this.#client || this.#isClosed) return Promise.resolve();
    this.#connecting ??= this.#connect().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #connect(): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.#db.connect();
    } catch {
      this.#scheduleRetry();
      return;
    }
    if (this.#isClosed) {
      client.release(true);
      return;
    }
    client.on('notification', (message) => {
      for (const handler of this.#handlers.get(message.channel) ?? []) handler(message.payload ?? '');
    });
    client.on('error', () => this.#dropped());
    try {
      for (const channel of this.#handlers.keys()) await client.query(`LISTEN ${channel}`);
    } catch {
      client.release(true);
      this.#scheduleRetry();
      return;
    }
    const wasLost = this.#retryMs > 50;
    this.#client = client;
    this.#retryMs = 50;
    if (wasLost) for (const handler of this.#onReconnect) handler();
  }

  #dropped(): void {
    const client = this.#client;
    if (!client) return;
    this.#client = undefined;
    client.removeAllListeners('notification');
    client.release(true);
    this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    if (this.#isClosed || this.#retryTimer) return;
    const wait = this.#retryMs;
    this.#retryMs = Math.min(this.#retryMs * 2, MAX_RECONNECT_MS);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#ensureConnected();
    }, wait);
    this.#retryTimer.unref();
  }
}
