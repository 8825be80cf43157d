// A real PostgreSQL server for benchmarks: the tests' helper (test/helpers/postgres-server.mjs, one implementation for
// both) with the benchmarks' defaults: durable (fsync on, as in production, so a commit's cost includes its WAL flush),
// and pg_stat_statements loaded so a benchmark can say which statements ran.
import { startPostgresServer as startServer } from '../../test/helpers/postgres-server.mjs';

/**
 * Starts a server; `durable: false` turns fsync off (faster, loses data on a machine crash: never for numbers that are reported).
 * @param {import('../../test/helpers/postgres-server.d.mts').PostgresServerOptions} [options]
 */
export function startPostgresServer({ durable = true, settings = {} } = {}) {
  return startServer({ durable, settings: { shared_preload_libraries: 'pg_stat_statements', ...settings } });
}
