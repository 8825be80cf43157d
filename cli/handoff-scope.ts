/** @module cli/handoff-scope — what a run handed to `af serve` carries through the server's command code: the server's factory, the caller's environment, and how to hand the run back. */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from '../core/logger.js';
import type { AgentFactory } from '../runtime/index.js';

export interface HandoffScope {
  /** The server's factory, which the handed-off `af run` uses instead of opening its own. */
  factory: AgentFactory;
  /** The server's store location, as its configuration names it: the caller's must be the same. */
  store: string | undefined;
  /** The server's environment variables (what its sandbox hands agents with env grants). */
  serverEnv: Record<string, string | undefined>;
  /** Set by {@link declineHandoff}: the caller runs it itself, and nothing printed here is sent. */
  declined?: string;
  /** The command's logger: what the server's factory logs for this run is the caller's, as in a local run. */
  logger?: Logger;
  /** The run's id, for the server's log line. */
  runId?: string;
}

/** The hand-off being served in this async context; undefined in a plain `af run`. */
export const handoffScope = new AsyncLocalStorage<HandoffScope>();

/** Thrown to stop a handed-off command that must run in the caller (the caller runs it again, locally). */
export class HandoffDeclined extends Error {}

export function declineHandoff(scope: HandoffScope, reason: string): never {
  scope.declined = reason;
  throw new HandoffDeclined(reason);
}

/**
 * A logger for the server's factory that writes, inside a handed-off run, to that run's own logger (relative scopes
 * kept: the trust gate's warning reads `warn [af:trust] …` as in a local run), and elsewhere to `base`.
 */
export function handoffAwareLogger(base: Logger, path: readonly string[] = []): Logger {
  const target = (): Logger => {
    const own = handoffScope.getStore()?.logger;
    return own ? path.reduce((logger, scope) => logger.child(scope), own) : base;
  };
  return {
    debug: (message, fields) => target().debug(message, fields),
    info: (message, fields) => target().info(message, fields),
    warn: (message, fields) => target().warn(message, fields),
    error: (message, fields) => target().error(message, fields),
    child: (scope) => handoffAwareLogger(base.child(scope), [...path, scope]),
  };
}
