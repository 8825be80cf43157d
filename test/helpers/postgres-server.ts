// A real PostgreSQL server for tests: the one implementation is test/helpers/postgres-server.mjs (plain JavaScript,
// which the benchmarks import too); this module is its TypeScript face, under the name the tests import.
export { type PostgresServer, type PostgresServerOptions, startPostgresServer } from './postgres-server.mjs';
