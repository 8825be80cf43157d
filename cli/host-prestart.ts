/** @module cli/host-prestart — a one-shot run forks its sandbox host first, before loading the runtime, so the host's start overlaps the caller's. */
import path from 'node:path';
import type { ResolvedConfig } from '../core/config.js';
import { cachedLockdownSupport } from '../sandbox/lockdown.js';
import { discardPrestartedHost, hostForkPlan, locateHostEntry, prestartHost } from '../sandbox/prestarted-host.js';

/** The factory's default (sandbox/options.ts): a one-shot run sets no other, so its supervisor forks exactly this. */
const DEFAULT_HOST_MEMORY_MB = 1024;

/**
 * Forks the host a one-shot run's factory will adopt (lockdown `auto`, default memory cap: what `af run` creates), with
 * the lockdown probe read from the project's cache (see cachedLockdownSupport for why that cannot weaken a host).
 * Never fails: anything wrong here is left to the factory, which reports it as it always has.
 */
export function prestartOneShotHost(config: ResolvedConfig): void {
  try {
    const support = cachedLockdownSupport(path.join(config.cacheDir, 'lockdown.json'));
    prestartHost(hostForkPlan(locateHostEntry(), DEFAULT_HOST_MEMORY_MB, 'auto', support));
  } catch {
    discardPrestartedHost();
  }
}

export { discardPrestartedHost };
