// The types of test/helpers/postgres-server.mjs (plain JavaScript, so that benchmarks share it with the tests).

export interface PostgresServerOptions {
  /** fsync on, as in production (every commit waits for its WAL flush). @default false */
  durable?: boolean;
  /** More server settings, each passed as `-c name=value` (e.g. `shared_preload_libraries: 'pg_stat_statements'`). */
  settings?: Record<string, string>;
}

export interface PostgresServer {
  /** The URL of the server's `postgres` database, as the superuser. */
  adminUrl: string;
  /** The URL of another database on the same server. */
  urlOf(database: string): string;
  /** Creates an empty database (a plain lower-case name) and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server and removes its files. */
  stop(): Promise<void>;
  /** Stops the server and starts it again on the same data (clients see their connections drop). */
  restart(): Promise<void>;
}

export function startPostgresServer(options?: PostgresServerOptions): Promise<PostgresServer>;
