/** @module cli/commands/serve — `af serve [--host H] [--port P]`: the HTTP API until SIGINT or SIGTERM, then a graceful stop. */
import { type ApiRateLimitOptions, createApiServer, createLearnerServices, type RolloutService, type SuggestionService } from '../../api/index.js';
import { FactoryError } from '../../core/errors.js';
import { createFactory, Dispatcher, dispatchBackendOf, enableTelemetry } from '../../runtime/index.js';
import type { PostgresStore } from '../../store/postgres/postgres-store.js';
import { type Role, ROLES } from '../../store/index.js';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-status.js';
import { requestLogLine } from '../request-log.js';
import { parseIntegerFlag, untilStopped } from '../process-lifetime.js';
import { handoffAwareLogger } from '../handoff-scope.js';
import { type HandoffServer, startHandoffServer } from '../handoff-server.js';

export interface ServeCommandOptions {
  /** @default '127.0.0.1' (keys travel in clear over plain HTTP: put TLS in front before listening elsewhere) */
  host?: string;
  /** Commander hands options over as strings; both are accepted. 0 picks a free port. @default 7070 */
  port?: number | string;
  /** Per-role requests per window, `viewer=300,operator=600`; `off` disables rate limiting. */
  rateLimit?: string;
  /** Rate-limit window, ms. @default 60000 */
  rateWindow?: number | string;
  /** Largest request body, bytes. @default 1048576 */
  bodyLimit?: number | string;
  /** Comma-separated environments a request may name besides the server's own (`--env`); never a dev one on a server that is not dev. */
  allowEnv?: string;
  /** Print `{"url"}` on stdout once listening. */
  json?: boolean;
  /** No line per request on stderr (start-up, warnings and the shutdown are still printed). */
  quiet?: boolean;
  /** On a PostgreSQL store, run agents in this process instead of queuing them for `af runner` processes. */
  runHere?: boolean;
}

/** What tests (and, until it is wired, the learner) inject. */
export interface ServeCommandHooks {
  /** Stops serving when aborted. @default SIGINT or SIGTERM */
  signal?: AbortSignal;
  onListening?(url: string): void;
  suggestions?: SuggestionService;
  rollouts?: RolloutService;
}

/**
 * Serves the API until SIGINT or SIGTERM, then: stops accepting (new requests on open connections answer 503),
 * lets runs in flight finish and be recorded, flushes and stops telemetry, closes the factory and its store.
 * @throws FactoryError `E_USAGE` for a bad option or an address that cannot be bound.
 */
export async function serveCommand(context: CommandContext, options: ServeCommandOptions = {}, hooks: ServeCommandHooks = {}): Promise<number> {
  const host = options.host ?? '127.0.0.1';
  const port = parseIntegerFlag(options.port ?? 7070, '--port', 0, 65535);
  const rateLimit = parseRateLimit(options.rateLimit, options.rateWindow);
  const bodyLimit = options.bodyLimit === undefined ? undefined : parseIntegerFlag(options.bodyLimit, '--body-limit', 1, 1024 * 1024 * 1024);
  const config = context.config();
  const { logger } = context;

  // Before the factory, so its instruments bind to the SDK from the first run. Undefined when OTEL_SDK_DISABLED=true.
  const sdk = await enableTelemetry({ enabled: true, env: context.streams.env, logger });
  // What the factory logs during a run handed over by `af run` goes to that run's caller (cli/handoff-scope).
  const factory = await createFactory({ root: config.root, env: config.env, home: config.home, store: config.store, processEnv: context.streams.env, logger: handoffAwareLogger(logger.child('factory')) });
  // On a PostgreSQL store the fleet's runners run agents: this server queues each run and waits for its result.
  const queued = factory.store?.kind === 'postgres' && !options.runHere ? new Dispatcher(dispatchBackendOf(factory.store as PostgresStore)) : undefined;
  let environments: string[] | undefined;
  try {
    environments = parseAllowedEnvironments(options.allowEnv, config.env, (env) => factory.isDevEnvironment(env));
  } catch (error) {
    await factory.close();
    await sdk?.shutdown();
    throw error;
  }
  // The real learner backs suggestions and rollbacks unless a test injects its own.
  const learnerServices = factory.store ? createLearnerServices(factory, factory.store) : undefined;
  const suggestions = hooks.suggestions ?? learnerServices?.suggestions;
  const rollouts = hooks.rollouts ?? learnerServices?.rollouts;
  const app = createApiServer({
    factory,
    ...(queued ? { dispatch: (name: string, input: unknown, run: { tenant: string; env: string }) => queued.run(name, input, { ...run, waitMs: 30_000 }) } : {}),
    telemetry: sdk ?? false,
    ...(rateLimit !== undefined ? { rateLimit } : {}),
    ...(bodyLimit !== undefined ? { bodyLimit } : {}),
    ...(environments ? { environments } : {}),
    ...(suggestions ? { suggestions } : {}),
    ...(rollouts ? { rollouts } : {}),
    logger: logger.child('api'),
  });
  if (!options.quiet) {
    // onResponse: after the answer went out, so the line has the final status and time and costs the client nothing.
    app.addHook('onResponse', async (request, reply) => {
      context.streams.stderr.write(`${requestLogLine(new Date(), request.method, request.url, reply.statusCode, reply.elapsedTime, request.principal?.tenant)}\n`);
    });
  }

  let url: string;
  try {
    url = await app.listen({ host, port });
  } catch (error) {
    await app.close();
    await factory.close();
    await sdk?.shutdown();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
      throw new FactoryError('E_USAGE', `cannot listen on ${host}:${port} (${code}): choose another --port or --host`, { cause: error });
    }
    throw error;
  }

  // `af run` in this project hands its runs to this server (not when runs are queued for runners: a local `af run`
  // runs in its own process, and so does one handed over). A socket that cannot be made only costs the speed-up.
  let handoff: HandoffServer | undefined;
  if (!queued) {
    try {
      handoff = await startHandoffServer({ factory, config, serverEnv: context.streams.env, ...(options.quiet ? {} : { log: (line: string) => context.streams.stderr.write(`${line}\n`) }) });
    } catch (error) {
      logger.warn(`af run will not hand runs to this server: ${(error as Error).message}`);
    }
  }

  // Listening for the stop signals before saying we are up: a SIGTERM sent as soon as the URL is read would otherwise
  // find Node's default action (exit at once) and leave .af/serve.json and the socket behind.
  const stopping = untilStopped(hooks.signal);
  if (options.json) context.streams.stdout.write(`${JSON.stringify({ url })}\n`);
  context.streams.stderr.write(`serving the API on ${url}/v1 in environment ${config.env}${environments ? ` (requests may also name ${environments.join(', ')})` : ''} (OpenAPI: ${url}/v1/openapi.json; Ctrl-C to stop)\n`);
  if (queued) context.streams.stderr.write(`runs are queued in ${factory.store?.location} for \`af runner\` processes (--run-here runs them in this process)\n`);
  if (factory.isDevEnvironment(config.env)) context.streams.stderr.write(`warning: ${config.env} runs unsigned templates for any caller with an operator key; serve production with --env prod\n`);
  hooks.onListening?.(url);

  const stopped = await stopping;
  context.streams.stderr.write(`${stopped}: stopping: no new requests; finishing runs in flight\n`);
  // Order matters: the server waits for in-flight runs, which need the factory; the factory flushes run records
  // into the store and then closes it; telemetry is flushed last so the final runs are in it.
  await handoff?.close();
  await app.close();
  await factory.close();
  await sdk?.shutdown();
  context.streams.stderr.write(`${stopped}: stopped\n`);
  return EXIT.ok;
}


/** `staging,canary` → the environments requests may name besides the server's; a dev one only on a dev server. */
function parseAllowedEnvironments(spec: string | undefined, serverEnv: string, isDev: (env: string) => boolean): string[] | undefined {
  if (spec === undefined) return undefined;
  const envs = spec.split(',').map((part) => part.trim()).filter((part) => part !== '');
  for (const env of envs) {
    if (!/^[a-z][a-z0-9_-]{0,31}$/.test(env)) throw new FactoryError('E_USAGE', `--allow-env takes environment names (lower-case letters, digits, "-", "_"), got ${JSON.stringify(env)}`);
    if (isDev(env) && !isDev(serverEnv)) {
      throw new FactoryError('E_USAGE', `--allow-env ${env}: ${env} is a development environment (it runs unsigned templates), and this server runs ${serverEnv}; API callers never get one on a server that is not dev`);
    }
  }
  return envs;
}

/** `viewer=300,operator=600` → per-role maxima; `off` → no rate limiting. */
function parseRateLimit(spec: string | undefined, window: number | string | undefined): ApiRateLimitOptions | false | undefined {
  if (spec?.trim() === 'off') return false;
  const max: Partial<Record<Role, number>> = {};
  for (const part of (spec ?? '').split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const [role, count] = part.split('=').map((p) => p.trim());
    if (!role || !(ROLES as readonly string[]).includes(role) || count === undefined) {
      throw new FactoryError('E_USAGE', `--rate-limit takes role=count pairs for ${ROLES.join(', ')} (e.g. viewer=300,operator=600) or "off", got ${JSON.stringify(part)}`);
    }
    max[role as Role] = parseIntegerFlag(count, `--rate-limit ${role}`, 1, 1_000_000_000);
  }
  const timeWindowMs = window === undefined ? undefined : parseIntegerFlag(window, '--rate-window', 1, 24 * 3600 * 1000);
  if (spec === undefined && timeWindowMs === undefined) return undefined;
  return { max, ...(timeWindowMs !== undefined ? { timeWindowMs } : {}) };
}
