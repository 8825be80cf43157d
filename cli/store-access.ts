/** @module cli/store-access — opens the project's store (SQLite or PostgreSQL, from `--store`/`AF_STORE_URL`) and the trust material kept in it, for one command, and closes it after. */
import path from 'node:path';
import type { ResolvedConfig } from '../core/config.js';
import { connectStore, type ConnectOptions, parseStoreLocation, type Store } from '../store/index.js';
import { openProjectTrust, type ProjectTrust, trustFileOf, vouchesForStoredVersion } from '../templates/index.js';
import type { CommandContext } from './context.js';

/**
 * Opens the project's store: the file `.af/factory.db` unless `--store`/`AF_STORE_URL` names another place. The keys
 * folder anchors its audit log and seals its trust data whichever backend it is; a pre-store `trust.json` is imported
 * only into the project's own SQLite file.
 */
export async function openProjectStore(config: ResolvedConfig, options: ConnectOptions = {}): Promise<Store> {
  const location = parseStoreLocation(config.store, config.root);
  const isProjectFile = location.kind === 'sqlite' && path.resolve(config.root, location.path) === config.dbPath;
  return connectStore(location, {
    auditAnchorDir: config.keysDir,
    ...(isProjectFile ? { migrateTrustFrom: trustFileOf(config) } : {}),
    ...options,
  });
}

/** Runs `work` with the project's store open; migrates a pre-store `trust.json` on first use. */
export async function withStore<T>(context: CommandContext, work: (store: Store) => T | Promise<T>): Promise<T> {
  const config = context.config();
  const store = await openProjectStore(config);
  try {
    // Version rows recorded before rows were sealed: those a trusted signature vouches for are sealed as they are (once;
    // one query when there are none), never while the trust data itself is not what the keys folder vouches for.
    await store.versions.sealVouched(() => {
      if (store.trust.trustProblem()) return () => false;
      const { verifier } = openProjectTrust(config, { store: store.trust });
      return (version) => vouchesForStoredVersion(version, verifier);
    });
    return await work(store);
  } finally {
    await store.close();
  }
}

/** The project's keys, verifier and policy, with trust data in the store. */
export function trustOf(context: CommandContext, store: Store): ProjectTrust {
  return openProjectTrust(context.config(), { store: store.trust });
}
