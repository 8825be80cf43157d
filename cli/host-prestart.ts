/** @module cli/host-prestart — a one-shot run forks its sandbox host first, before loading the runtime, so the host's start overlaps the caller's. */
import path from 'node:path';
import { resolveConfig, type ResolvedConfig } from '../core/config.js';
import { parseHandoffArgs } from './handoff-args.js';
import type { CliStreams } from './io.js';
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

/**
 * The same, from the process entry, for a plain `af run` command line (the one handoff-args reads): the host then starts
 * while the command tree loads as well. Anything else forks nothing here; the command forks its own as before.
 */
export async function prestartForCommandLine(argv: readonly string[], streams: CliStreams): Promise<void> {
  const args = parseHandoffArgs(argv);
  if (!args) return;
  try {
    prestartOneShotHost(
      resolveConfig({
        root: args.root ?? streams.env.AF_ROOT ?? streams.cwd,
        ...(args.globalEnv !== undefined ? { env: args.globalEnv } : {}),
        ...(args.store !== undefined ? { store: args.store } : {}),
        processEnv: streams.env,
      }),
    );
  } catch {
    // An unusable configuration: the command reports it.
  }
}

export { discardPrestartedHost };
