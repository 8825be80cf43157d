/** @module api/server-options — what `createApiServer` accepts, and the one place its defaults are applied and its values checked. */
import { type Clock, systemClock } from '../core/clock.js';
import { type Logger, silentLogger } from '../core/logger.js';
import type { AgentFactory, QueuedRunResult, TelemetrySdk } from '../runtime/index.js';
import { type Role, ROLES, type Store } from '../store/index.js';
import type { Access } from './access.js';
import { RequestEnvironments } from './environments.js';
import type { RolloutService, SuggestionService } from './services.js';

/** Per-key request budgets. */
export interface ApiRateLimitOptions {
  /** Length of the window. @default 60_000 */
  timeWindowMs?: number;
  /** Requests per window per API key, by the key's role. @default { viewer: 300, operator: 600, maintainer: 600, admin: 1200 } */
  max?: Partial<Record<Role, number>>;
}

export interface ApiServerOptions {
  /** Runs the agents. Not closed by the server. */
  factory: AgentFactory;
  /**
   * Runs an agent for `POST /v1/agents/:name/runs` somewhere else: on a PostgreSQL store, `af serve` queues runs for the
   * fleet's runners (runtime/dispatcher). @default create, run and dispose in this process's factory
   */
  dispatch?: RunDispatch;
  /** Holds API keys, runs and the audit log. Must be the factory's store. Not closed by the server. @default factory.store */
  store?: Store;
  /** Backs `/v1/suggestions`; without it those routes answer 501. */
  suggestions?: SuggestionService;
  /** Backs `/v1/templates/:name/rollback` and `.../versions/:version/retire`; without it (or its `retire`) they answer 501. */
  rollouts?: RolloutService;
  /**
   * Environments other than the factory's that a request may name (`env` of a run, `?env=` of the template routes);
   * any other answers 403. Fixed here, at start-up: the environment decides signatures, policy and the manifest's
   * overlay, so it is the operator's choice, never the caller's. A development environment is refused (TypeError)
   * unless the factory's own environment is one.
   * @default [] (requests run in the factory's environment only)
   */
  environments?: string[];
  /**
   * The running telemetry SDK behind `/metrics`. `false`: `/metrics` answers 501.
   * @default started with `enableTelemetry({ enabled: true })` when the server is ready, and shut down when it closes
   */
  telemetry?: TelemetrySdk | false;
  /** Per-key rate limits; `false` turns them off. @default see {@link ApiRateLimitOptions} */
  rateLimit?: ApiRateLimitOptions | false;
  /** Largest request body, bytes; larger answers 413. @default 1_048_576 */
  bodyLimit?: number;
  /** Time allowed to receive a whole request (slow clients); runs are bounded by their template's `limits.timeoutMs`. @default 30_000 */
  requestTimeoutMs?: number;
  /** Who may read `/metrics`: `public` (Prometheus without credentials), the least role, or `installationRole(role)`. @default 'public' */
  metricsAccess?: Access;
  /** Server errors and lifecycle. @default silent */
  logger?: Logger;
  /** Where rate-limit windows read the time (a manual clock lets a test advance a window instead of waiting). @default the system clock */
  clock?: Clock;
}

/**
 * Runs agent `name` on `input` for a tenant in an environment, somewhere other than this process, and reports it as
 * `runSettled` would; a run that could not start (unknown template, refused by the trust gate) is a `notRun` result.
 */
export type RunDispatch = (name: string, input: unknown, options: { tenant: string; env: string }) => Promise<QueuedRunResult>;

/** The options with every default applied and every value checked, once, before the server is built. */
export interface ResolvedApiServerOptions {
  factory: AgentFactory;
  dispatch: RunDispatch | undefined;
  store: Store;
  suggestions: SuggestionService | undefined;
  rollouts: RolloutService | undefined;
  environments: RequestEnvironments;
  telemetry: TelemetrySdk | false | undefined;
  rateLimit: { timeWindowMs: number; max: Record<Role, number> } | false;
  bodyLimit: number;
  requestTimeoutMs: number;
  metricsAccess: Access;
  logger: Logger;
  clock: Clock;
}

const DEFAULT_MAX: Record<Role, number> = { viewer: 300, operator: 600, maintainer: 600, admin: 1200 };

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0;
}

/** @throws TypeError naming the option that is wrong and what it must be. */
export function resolveApiServerOptions(options: ApiServerOptions): ResolvedApiServerOptions {
  const fail = (option: string, must: string) => new TypeError(`createApiServer: option "${option}" ${must}`);
  if (typeof options !== 'object' || options === null) throw new TypeError('createApiServer: options must be an object');
  const { factory } = options;
  if (typeof factory !== 'object' || factory === null || typeof factory.createAgent !== 'function') throw fail('factory', 'must be an AgentFactory');
  const store = options.store ?? factory.store;
  if (!store) throw fail('store', 'is required when the factory has no store (API keys, runs and the audit log live there)');
  // Runs are read back from the store: a factory recording elsewhere would make every run invisible.
  if (factory.store !== undefined && factory.store !== store) throw fail('store', "must be the factory's store, where its runs are recorded");
  if (options.suggestions !== undefined && typeof options.suggestions?.list !== 'function') throw fail('suggestions', 'must implement SuggestionService');
  if (options.rollouts !== undefined && typeof options.rollouts?.rollback !== 'function') throw fail('rollouts', 'must implement RolloutService');
  if (options.environments !== undefined && !Array.isArray(options.environments)) throw fail('environments', 'must be an array of environment names');
  const environments = new RequestEnvironments({
    serverEnv: factory.config.env,
    isDevEnvironment: (env) => factory.isDevEnvironment(env),
    ...(options.environments ? { allowed: options.environments } : {}),
  });
  if (options.telemetry !== undefined && options.telemetry !== false && typeof options.telemetry?.scrape !== 'function') throw fail('telemetry', 'must be a TelemetrySdk or false');
  let rateLimit: ResolvedApiServerOptions['rateLimit'] = false;
  if (options.rateLimit !== false) {
    const given = options.rateLimit ?? {};
    const timeWindowMs = given.timeWindowMs ?? 60_000;
    if (!isPositiveInteger(timeWindowMs)) throw fail('rateLimit.timeWindowMs', 'must be a positive integer');
    const max = { ...DEFAULT_MAX };
    for (const [role, value] of Object.entries(given.max ?? {})) {
      if (!(ROLES as readonly string[]).includes(role)) throw fail(`rateLimit.max.${role}`, `is not a role (${ROLES.join(', ')})`);
      if (!isPositiveInteger(value)) throw fail(`rateLimit.max.${role}`, 'must be a positive integer');
      max[role as Role] = value;
    }
    rateLimit = { timeWindowMs, max };
  }
  const bodyLimit = options.bodyLimit ?? 1_048_576;
  if (!isPositiveInteger(bodyLimit)) throw fail('bodyLimit', 'must be a positive integer (bytes)');
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  if (!isPositiveInteger(requestTimeoutMs)) throw fail('requestTimeoutMs', 'must be a positive integer');
  const metricsAccess = options.metricsAccess ?? 'public';
  const metricsRole = typeof metricsAccess === 'object' && metricsAccess !== null ? metricsAccess.installation : metricsAccess;
  if (metricsAccess !== 'public' && !(ROLES as readonly string[]).includes(metricsRole)) throw fail('metricsAccess', `must be "public", a role (${ROLES.join(', ')}) or installationRole(role)`);
  const clock = options.clock ?? systemClock;
  if (typeof clock?.now !== 'function') throw fail('clock', 'must be a Clock (with now())');
  if (options.dispatch !== undefined && typeof options.dispatch !== 'function') throw fail('dispatch', 'must be a function');
  return {
    factory,
    dispatch: options.dispatch,
    store,
    suggestions: options.suggestions,
    rollouts: options.rollouts,
    environments,
    telemetry: options.telemetry,
    rateLimit,
    bodyLimit,
    requestTimeoutMs,
    metricsAccess,
    logger: options.logger ?? silentLogger,
    clock,
  };
}

