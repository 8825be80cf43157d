/** @module core/config — resolves the project root, state folder (`AF_HOME`) and environment in one place. */
import path from 'node:path';

export interface ConfigOptions {
  /** Project root: holds `agents/`, `policy.json` and, by default, `.af/`. @default process.cwd() */
  root?: string;
  /** State folder. @default $AF_HOME, else `<root>/.af` */
  home?: string;
  /** Environment whose overlay applies (`environments.<env>`). @default $AF_ENV, else 'dev' */
  env?: string;
  /** Where templates live. @default `<root>/agents` */
  agentsDir?: string;
  /**
   * The keys folder: private keys and the secrets behind the audit anchor and the trust seal. Whoever can rename
   * it can put a folder of their own in its place, so where others may write the state folder, keep it elsewhere.
   * @default $AF_KEYS_DIR, else `<home>/keys`
   */
  keysDir?: string;
  /**
   * Where the record is kept: a SQLite file (`sqlite:PATH` or a path) or a PostgreSQL database (`postgres://…`).
   * @default $AF_STORE_URL, else the SQLite file `<home>/factory.db`
   */
  store?: string;
  /** Process environment to read `AF_*` variables from. @default process.env */
  processEnv?: Record<string, string | undefined>;
}

/** Every path and setting the rest of the system reads, resolved once. */
export interface ResolvedConfig {
  readonly root: string;
  readonly home: string;
  readonly env: string;
  readonly agentsDir: string;
  readonly cacheDir: string;
  readonly bundleCacheDir: string;
  readonly keysDir: string;
  readonly dbPath: string;
  /** The store's location (see {@link ConfigOptions.store}): `dbPath` unless another store is named. */
  readonly store: string;
  readonly policyPath: string;
}

const ENV_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

/**
 * Resolves configuration from options, then `AF_*` variables, then defaults.
 * @throws TypeError when an option has the wrong shape (a programming mistake, not user input).
 */
export function resolveConfig(options: ConfigOptions = {}): ResolvedConfig {
  const processEnv = options.processEnv ?? process.env;
  const root = path.resolve(options.root ?? processEnv.AF_ROOT ?? process.cwd());
  const home = path.resolve(root, options.home ?? processEnv.AF_HOME ?? '.af');
  const env = options.env ?? processEnv.AF_ENV ?? 'dev';
  if (!ENV_NAME.test(env)) {
    throw new TypeError(`resolveConfig: option "env" must match ${ENV_NAME} (got ${JSON.stringify(env)})`);
  }
  const cacheDir = path.join(home, 'cache');
  const dbPath = path.join(home, 'factory.db');
  const store = options.store ?? (processEnv.AF_STORE_URL || undefined) ?? dbPath;
  return Object.freeze({
    root,
    home,
    env,
    agentsDir: path.resolve(root, options.agentsDir ?? 'agents'),
    cacheDir,
    bundleCacheDir: path.join(cacheDir, 'bundles'),
    keysDir: path.resolve(root, options.keysDir ?? processEnv.AF_KEYS_DIR ?? path.join(home, 'keys')),
    dbPath,
    store,
    policyPath: path.join(root, 'policy.json'),
  });
}
