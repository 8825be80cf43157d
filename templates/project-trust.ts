/** @module templates/project-trust — opens a project's trust material: the trust store, verifier, key ring and policy, from its configuration. */
import path from 'node:path';
import { type Clock, systemClock } from '../core/clock.js';
import type { ResolvedConfig } from '../core/config.js';
import type { TrustStateSeal } from '../core/trust-state.js';
import { KeyRing } from './keys.js';
import { loadPolicy, type Policy } from './policy.js';
import { SignatureVerifier } from './signature.js';
import { JsonTrustStore, type TrustStore } from './trust-store.js';

export interface ProjectTrust {
  store: TrustStore & { close?(): void };
  verifier: SignatureVerifier;
  keyRing: KeyRing;
  /** Reads `policy.json` (or the default policy) now. */
  loadPolicy(): Policy;
}

/** The trust file of a project: `.af/trust.json` until trust data moves into the store. */
export function trustFileOf(config: ResolvedConfig): string {
  return path.join(config.home, 'trust.json');
}

/**
 * @param options.seal what vouches for `.af/trust.json` when no store is given (store/trust-seal over the keys folder).
 */
export function openProjectTrust(config: ResolvedConfig, options: { clock?: Clock; store?: TrustStore; pollMs?: number; seal?: TrustStateSeal } = {}): ProjectTrust {
  const clock = options.clock ?? systemClock;
  const store = options.store ?? new JsonTrustStore(trustFileOf(config), { ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}), ...(options.seal ? { seal: options.seal } : {}) });
  return {
    store,
    verifier: new SignatureVerifier(store, clock),
    keyRing: new KeyRing({ keysDir: config.keysDir, trust: store, clock }),
    loadPolicy: () => loadPolicy(config.policyPath, config.root),
  };
}
