/** @module api/server — createApiServer: the Fastify app serving `/v1` over a factory and its store, with auth, per-key rate limits, OpenAPI and metrics. */
import fastifyRateLimit from '@fastify/rate-limit';
import fastifySwagger from '@fastify/swagger';
import { Ajv } from 'ajv';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { FactoryError } from '../core/errors.js';
import { type Logger, silentLogger } from '../core/logger.js';
import type { Suggestion } from '../core/suggestion.js';
import { type AgentFactory, enableTelemetry, PROMETHEUS_CONTENT_TYPE, type RunReport, type TelemetrySdk } from '../runtime/index.js';
import { isInstallationWide, type Principal, type Role, roleAtLeast, ROLES, type Store } from '../store/index.js';
import { type Access, accessToDecide, canSeeSuggestion, describeAccess, isAllowed, ROUTE_ACCESS, type RouteKey } from './access.js';
import { RequestEnvironments } from './environments.js';
import { ApiError, type ApiErrorCode, httpStatusFor, toErrorBody } from './errors.js';
import { errorSchema, readinessSchema, ROUTE_SCHEMAS, runStatsSchema } from './schemas.js';
import type { RolloutService, SuggestionService } from './services.js';
import type { AuditQuery, ReadinessView, RunListQuery, RunRequest, SuggestionListQuery, TemplateDetail, TemplateSignature, TemplateSummary } from './types.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller, once its key checked out; null on public routes. */
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** Least role for the route, or `public`. */
    access?: Access;
  }
}

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
}

interface ResolvedApiServerOptions {
  factory: AgentFactory;
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
}

const DEFAULT_MAX: Record<Role, number> = { viewer: 300, operator: 600, maintainer: 600, admin: 1200 };
const TRUST_CODES = new Set(['E_SIGNATURE_MISSING', 'E_SIGNATURE_INVALID', 'E_KEY_REVOKED', 'E_KEY_EXPIRED', 'E_POLICY_DENIED', 'E_VERSION_RETIRED', 'E_TRUST_STATE']);

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0;
}

function resolveOptions(options: ApiServerOptions): ResolvedApiServerOptions {
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
  return {
    factory,
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
  };
}

/**
 * Builds the HTTP API (not listening: call `listen`, or drive it with `inject` in tests). Closing it stops accepting,
 * waits for runs in flight, and shuts down the telemetry SDK it started; the factory and store stay open.
 * @example
 * const app = createApiServer({ factory });
 * await app.listen({ host: '127.0.0.1', port: 7070 });
 */
export function createApiServer(options: ApiServerOptions): FastifyInstance {
  const resolved = resolveOptions(options);
  const { factory, store, logger, environments } = resolved;
  const app = Fastify({
    logger: false,
    bodyLimit: resolved.bodyLimit,
    requestTimeout: resolved.requestTimeoutMs,
    // Our onRequest hook answers 503 in the API's error shape while closing.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
  });

  // Bodies are checked strictly (no coercion, unknown fields refused); query strings and path parameters arrive
  // as text, so they are coerced. Fastify's default would silently drop unknown fields instead of refusing them.
  const bodyAjv = new Ajv({ coerceTypes: false, useDefaults: true, removeAdditional: false, allErrors: true, strict: false });
  const textAjv = new Ajv({ coerceTypes: 'array', useDefaults: true, removeAdditional: false, allErrors: true, strict: false });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : textAjv).compile(schema));
  app.addSchema(runStatsSchema);
  app.addSchema(errorSchema);
  app.addSchema(readinessSchema);

  let isClosing = false;
  let telemetry: TelemetrySdk | undefined = resolved.telemetry === false ? undefined : resolved.telemetry;
  let ownsTelemetry = false;
  const inFlight = new Set<Promise<unknown>>();

  app.decorateRequest('principal', null);

  /** Answers 403, leaving a record: refused attempts are what an audit log is for. */
  const forbid = (request: FastifyRequest, principal: Principal, message: string): never => {
    try {
      store.audit.append({ type: 'api.forbidden', actor: actorOf(principal), subject: `${request.method} ${request.routeOptions.url}`, data: { tenant: principal.tenant, role: principal.role } });
    } catch (error) {
      // A store closing under a shutdown must not turn a 403 into a 500.
      logger.warn('could not audit a refused request', { error: error instanceof Error ? error.message : String(error) });
    }
    throw new ApiError('E_FORBIDDEN', message);
  };

  app.setErrorHandler((error, request, reply) => {
    const { status, body } = toErrorBody(error);
    if (status >= 500) logger.error(`${request.method} ${request.url} failed`, { code: body.error.code, error: error instanceof Error ? error.message : String(error) });
    if (status === 503) reply.header('retry-after', '1');
    return reply.code(status).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const { status, body } = toErrorBody(new ApiError('E_NOT_FOUND', `no route ${request.method} ${request.url.split('?', 1)[0]}; see GET /v1/openapi.json`));
    return reply.code(status).send(body);
  });

  // Authentication runs first, so the rate limiter can key on the API key.
  app.addHook('onRequest', async (request, reply) => {
    const access = request.routeOptions.config?.access;
    if (access === undefined || access === 'public') return;
    if (isClosing) throw new ApiError('E_UNAVAILABLE', 'the server is shutting down; retry against another instance');
    const principal = authenticate(store, request.headers.authorization);
    if (!principal) {
      reply.header('www-authenticate', 'Bearer realm="agent-factory"');
      throw new ApiError('E_UNAUTHORIZED', 'send a valid API key as "Authorization: Bearer afk_…"; create one with `af keys api create`');
    }
    request.principal = principal;
  });
  // Roles are checked after the rate limiter (a route-level onRequest hook, so it runs after the one above) and
  // before the body is read: refused requests count against the key, so a low-role key cannot flood the audit log.
  app.addHook('preParsing', async (request) => {
    const access = request.routeOptions.config?.access;
    const principal = request.principal;
    if (access === undefined || access === 'public' || !principal) return;
    if (!isAllowed(principal, access)) forbid(request, principal, `${request.method} ${request.routeOptions.url} needs ${describeAccess(access)}; this key is ${keyDescription(principal)}`);
  });

  app.addHook('onReady', async () => {
    if (resolved.telemetry !== undefined) return;
    telemetry = await enableTelemetry({ enabled: true, logger });
    ownsTelemetry = telemetry !== undefined;
  });
  app.addHook('preClose', async () => {
    isClosing = true;
  });
  // Keep-alive connections that carry a run in flight when closing starts would hold close() open forever:
  // answers sent while closing ask the client to hang up.
  app.addHook('onSend', async (_request, reply) => {
    if (isClosing) reply.header('connection', 'close');
  });
  app.addHook('onClose', async () => {
    // Runs already started finish and are recorded before the caller closes the factory.
    await Promise.allSettled([...inFlight]);
    if (ownsTelemetry) await telemetry?.shutdown();
  });

  app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Agent Factory API', version: '1.0.0', description: 'Runs signed agent templates and reviews the learner’s suggestions. Errors: `{ error: { code, message } }`.' },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An API key `afk_<id>_<secret>` from `af keys api create`.' } } },
      security: [{ apiKey: [] }],
    },
  });

  if (resolved.rateLimit) {
    const { timeWindowMs, max } = resolved.rateLimit;
    app.register(fastifyRateLimit, {
      global: true,
      // Route-level, so after authentication (app-level onRequest) and before the role check and the body: a
      // throttled key costs no parsing.
      hook: 'onRequest',
      timeWindow: timeWindowMs,
      keyGenerator: (request) => request.principal?.keyId ?? request.ip,
      max: async (request) => max[request.principal?.role ?? 'viewer'],
      errorResponseBuilder: (_request, context) => new ApiError('E_RATE_LIMITED', `rate limit of ${context.max} requests per ${Math.round(timeWindowMs / 1000)} s reached for this key; retry in ${context.after}`),
    });
  }

  app.register(async (v1) => {
    const route = <K extends RouteKey>(key: K, access: Access = ROUTE_ACCESS[key]) => {
      const [method, url] = key.split(' ') as ['GET' | 'POST', string];
      return { method, url, config: { access, ...(access === 'public' ? { rateLimit: false as const } : {}) } };
    };
    /** The environment a request runs in: the server's, or one it was started to allow; anything else is 403. */
    const environmentOf = (request: FastifyRequest, requested: string | undefined): string => {
      const env = environments.pick(requested);
      if (env === undefined) return forbid(request, principalOf(request), environments.refusal(requested as string));
      return env;
    };
    // Bodies that may be left out entirely (`curl -X POST` with no data) are read as `{}`, then validated.
    const optionalBody = async (request: FastifyRequest) => {
      request.body ??= {};
    };

    v1.route({
      ...route('GET /v1/templates'),
      schema: ROUTE_SCHEMAS.listTemplates,
      handler: async (request: FastifyRequest<{ Querystring: { env?: string } }>) => ({ templates: await listTemplates(factory, environmentOf(request, request.query.env)) }),
    });

    v1.route({
      ...route('GET /v1/templates/:name'),
      schema: ROUTE_SCHEMAS.getTemplate,
      handler: async (request: FastifyRequest<{ Params: { name: string }; Querystring: { env?: string } }>) =>
        describeTemplate(factory, store, request.params.name, environmentOf(request, request.query.env)),
    });

    v1.route({
      ...route('POST /v1/agents/:name/runs'),
      schema: ROUTE_SCHEMAS.runAgent,
      handler: async (request: FastifyRequest<{ Params: { name: string }; Body: RunRequest }>, reply: FastifyReply) => {
        const principal = principalOf(request);
        // Runs, kv and records belong to a tenant; the installation is not one.
        if (isInstallationWide(principal)) forbid(request, principal, 'an installation key administers what tenants share; runs belong to a tenant: use a key of that tenant');
        const env = environmentOf(request, request.body.env);
        const running = runOnce(factory, request.params.name, request.body.input, principal.tenant, env);
        inFlight.add(running);
        try {
          const { report, version } = await running;
          if (report.ok) {
            return { runId: report.runId, template: request.params.name, version, digest: report.digest, source: report.source, signed: report.signed, output: report.output, stats: report.stats };
          }
          const { error } = report;
          const problems = error.problems?.map((p) => ({ ...(p.pointer !== undefined ? { pointer: p.pointer } : {}), message: p.message }));
          return reply.code(httpStatusFor(error.code)).send({
            error: { code: error.code, message: error.message, ...(problems && problems.length > 0 ? { problems } : {}) },
            runId: report.runId,
            stats: report.stats,
          });
        } finally {
          inFlight.delete(running);
        }
      },
    });

    v1.route({
      ...route('GET /v1/runs'),
      schema: ROUTE_SCHEMAS.listRuns,
      handler: async (request: FastifyRequest<{ Querystring: RunListQuery }>) => {
        const { tenant } = principalOf(request);
        // Records are written in batches; a client that just ran an agent expects to read it back.
        store.runs.flushNow();
        const { template, outcome, since, until, limit } = request.query;
        const runs = store.queries.list({
          tenant,
          ...(template !== undefined ? { template } : {}),
          ...(outcome !== undefined ? { outcome } : {}),
          ...(since !== undefined ? { since } : {}),
          ...(until !== undefined ? { until } : {}),
          limit: limit ?? 100,
        });
        return { runs };
      },
    });

    v1.route({
      ...route('GET /v1/runs/:id'),
      schema: ROUTE_SCHEMAS.getRun,
      handler: async (request: FastifyRequest<{ Params: { id: string } }>) => {
        const { tenant } = principalOf(request);
        store.runs.flushNow();
        const run = store.queries.get(request.params.id);
        // Another tenant's run is reported exactly like a missing one, so ids cannot be probed across tenants.
        if (!run || run.tenant !== tenant) throw new ApiError('E_NOT_FOUND', `no run ${request.params.id} in tenant ${tenant}`);
        return run;
      },
    });

    v1.route({
      ...route('GET /v1/suggestions'),
      schema: ROUTE_SCHEMAS.listSuggestions,
      handler: async (request: FastifyRequest<{ Querystring: SuggestionListQuery }>) => {
        const principal = principalOf(request);
        const service = suggestionService(resolved.suggestions);
        const filter = { ...(request.query.template !== undefined ? { template: request.query.template } : {}), ...(request.query.state !== undefined ? { state: request.query.state } : {}) };
        const own = await service.list({ tenant: principal.tenant, ...filter });
        const shared = roleAtLeast(principal.role, 'maintainer') && principal.tenant !== '*' ? await service.list({ tenant: '*', ...filter }) : [];
        // Filter again: the service is trusted to filter, but a leak across tenants must not depend on it.
        const suggestions = [...own, ...shared].filter((s) => canSeeSuggestion(principal, s)).sort((a, b) => b.createdAt - a.createdAt);
        return { suggestions };
      },
    });

    v1.route({
      ...route('GET /v1/suggestions/:id'),
      schema: ROUTE_SCHEMAS.getSuggestion,
      handler: async (request: FastifyRequest<{ Params: { id: string } }>) => visibleSuggestion(suggestionService(resolved.suggestions), principalOf(request), request.params.id),
    });

    const decide = (verb: 'accept' | 'reject') => async (request: FastifyRequest<{ Params: { id: string }; Body: { reason?: string } | undefined }>) => {
      const principal = principalOf(request);
      const service = suggestionService(resolved.suggestions);
      const suggestion = await visibleSuggestion(service, principal, request.params.id);
      const needed = accessToDecide(verb, suggestion);
      if (!isAllowed(principal, needed)) {
        const why = verb === 'accept' ? 'accepting it rewrites and re-signs a template every tenant runs' : 'it spans every tenant';
        forbid(request, principal, `suggestion ${suggestion.id}: ${why}, so this needs ${describeAccess(needed)}; this key is ${keyDescription(principal)}`);
      }
      if (suggestion.state !== 'open') throw new ApiError('E_CONFLICT', `suggestion ${suggestion.id} is ${suggestion.state}, not open; only open suggestions can be decided`);
      const actor = actorOf(principal);
      const reason = request.body?.reason;
      const decided = verb === 'accept' ? await service.accept(suggestion.id, { actor, ...(reason !== undefined ? { reason } : {}) }) : await service.reject(suggestion.id, { actor, reason: reason ?? '' });
      store.audit.append({
        type: verb === 'accept' ? 'api.suggestion.accepted' : 'api.suggestion.rejected',
        actor,
        subject: suggestion.id,
        data: { tenant: principal.tenant, role: principal.role, template: suggestion.template, state: decided.state, ...(reason !== undefined ? { reason } : {}) },
      });
      return decided;
    };
    v1.route({ ...route('POST /v1/suggestions/:id/accept'), schema: ROUTE_SCHEMAS.acceptSuggestion, preValidation: optionalBody, handler: decide('accept') });
    v1.route({ ...route('POST /v1/suggestions/:id/reject'), schema: ROUTE_SCHEMAS.rejectSuggestion, handler: decide('reject') });

    v1.route({
      ...route('POST /v1/templates/:name/rollback'),
      schema: ROUTE_SCHEMAS.rollback,
      preValidation: optionalBody,
      handler: async (request: FastifyRequest<{ Params: { name: string }; Body: { to?: string } | undefined }>) => {
        const principal = principalOf(request);
        if (!resolved.rollouts) throw new ApiError('E_NOT_IMPLEMENTED', 'this server was started without a rollout service; rollback is not available here (use `af rollback`)');
        const actor = actorOf(principal);
        const to = request.body?.to;
        const result = await resolved.rollouts.rollback(request.params.name, { actor, ...(to !== undefined ? { to } : {}) });
        store.audit.append({ type: 'api.template.rolled_back', actor, subject: request.params.name, data: { tenant: principal.tenant, role: principal.role, version: result.version } });
        return result;
      },
    });

    v1.route({
      ...route('POST /v1/templates/:name/versions/:version/retire'),
      schema: ROUTE_SCHEMAS.retireVersion,
      preValidation: optionalBody,
      handler: async (request: FastifyRequest<{ Params: { name: string; version: string }; Body: { reason?: string } | undefined }>) => {
        const principal = principalOf(request);
        const retire = resolved.rollouts?.retire?.bind(resolved.rollouts);
        if (!retire) throw new ApiError('E_NOT_IMPLEMENTED', 'this server was started without a rollout service; retire versions with `af versions retire`');
        const actor = actorOf(principal);
        const reason = request.body?.reason;
        const result = await retire(request.params.name, request.params.version, { actor, ...(reason !== undefined ? { reason } : {}) });
        store.audit.append({ type: 'api.version.retired', actor, subject: request.params.name, data: { tenant: principal.tenant, role: principal.role, version: result.version } });
        return result;
      },
    });

    v1.route({
      ...route('GET /v1/audit'),
      schema: ROUTE_SCHEMAS.audit,
      handler: async (request: FastifyRequest<{ Querystring: AuditQuery }>) => {
        const { type, subject, afterSeq, limit } = request.query;
        return { entries: store.audit.list({ ...(type ? { type } : {}), ...(subject ? { subject } : {}), ...(afterSeq !== undefined ? { afterSeq } : {}), limit: limit ?? 100 }) };
      },
    });

    v1.route({
      ...route('GET /v1/openapi.json'),
      schema: { hide: true },
      handler: async () => app.swagger(),
    });

    v1.route({ ...route('GET /healthz'), schema: ROUTE_SCHEMAS.healthz, handler: async () => ({ ok: true }) });

    v1.route({
      ...route('GET /readyz'),
      schema: ROUTE_SCHEMAS.readyz,
      handler: async (_request, reply) => {
        const view = readiness(factory, store, isClosing);
        return reply.code(view.ready ? 200 : 503).send(view);
      },
    });

    v1.route({
      ...route('GET /metrics', resolved.metricsAccess),
      schema: { hide: true },
      handler: async (_request, reply) => {
        if (!telemetry) throw new ApiError('E_NOT_IMPLEMENTED', 'telemetry is off in this process (OTEL_SDK_DISABLED=true, another SDK registered, or telemetry: false)');
        // scrape() is the same exposition handleMetricsRequest writes, but keeps Fastify in charge of the response.
        return reply.type(PROMETHEUS_CONTENT_TYPE).send(await telemetry.scrape());
      },
    });
  });

  return app;
}

function authenticate(store: Store, header: string | undefined): Principal | undefined {
  const match = /^Bearer +(\S+)$/i.exec(header ?? '');
  if (!match || store.isClosed) return undefined;
  return store.tenants.authenticate(match[1] as string);
}

function principalOf(request: FastifyRequest): Principal {
  // Every non-public route passed the onRequest check; a missing principal is a wiring bug, not a client error.
  if (!request.principal) throw new FactoryError('E_INTERNAL', `route ${request.routeOptions.url} ran without an authenticated key`);
  return request.principal;
}

function actorOf(principal: Principal): string {
  return `key:${principal.keyId}`;
}

function keyDescription(principal: Principal): string {
  return isInstallationWide(principal) ? `an installation key with role ${principal.role}` : `role ${principal.role} of tenant ${principal.tenant}`;
}

function suggestionService(service: SuggestionService | undefined): SuggestionService {
  if (!service) throw new ApiError('E_NOT_IMPLEMENTED', 'this server was started without a suggestion service; suggestions are not available here (use `af suggestions`)');
  return service;
}

async function visibleSuggestion(service: SuggestionService, principal: Principal, id: string): Promise<Suggestion> {
  const suggestion = await service.get(id);
  if (!suggestion || !canSeeSuggestion(principal, suggestion)) throw new ApiError('E_NOT_FOUND', `no suggestion ${id} for tenant ${principal.tenant}`);
  return suggestion;
}

async function runOnce(factory: AgentFactory, name: string, input: unknown, tenant: string, env: string): Promise<{ report: RunReport; version: string }> {
  const agent = await factory.createAgent(name, { tenant, env });
  try {
    return { report: await agent.runSettled(input), version: agent.version };
  } finally {
    await agent.dispose();
  }
}

type ResolvedLike = Awaited<ReturnType<AgentFactory['registry']['resolve']>>;

function trustOf(template: ResolvedLike): TemplateSignature {
  const trust = (template as Partial<{ trust: { status: 'signed' | 'waived'; verification?: { keyId: string; signer: string; signedAt: number }; waiver?: string } }>).trust;
  if (!trust) return { status: 'refused', reason: 'the template did not pass the trust gate' };
  return {
    status: trust.status,
    ...(trust.verification ? { keyId: trust.verification.keyId, signer: trust.verification.signer, signedAt: trust.verification.signedAt } : {}),
    ...(trust.waiver ? { reason: trust.waiver } : {}),
  };
}

function errorOf(error: unknown): { code: ApiErrorCode; message: string } {
  if (error instanceof FactoryError) return { code: error.code, message: error.message };
  return { code: 'E_INTERNAL', message: 'the template could not be loaded' };
}

async function listTemplates(factory: AgentFactory, env: string): Promise<TemplateSummary[]> {
  const options = { env };
  const summaries: TemplateSummary[] = [];
  for (const name of factory.registry.names().sort()) {
    try {
      const template = await factory.registry.resolve(name, options);
      summaries.push({
        name,
        version: template.version,
        description: template.manifest.description || null,
        status: 'valid',
        digest: template.digest,
        signature: trustOf(template).status === 'signed' ? 'signed' : 'waived',
      });
    } catch (error) {
      if (!(error instanceof FactoryError)) throw error;
      // resolve refuses abstract and untrusted templates; inspect tells which, without the trust gate.
      const inspected = await factory.registry.inspect(name, options).catch(() => undefined);
      const base = { name, version: inspected?.version ?? null, description: inspected?.manifest.description || null, signature: null };
      if (inspected?.abstract) summaries.push({ ...base, status: 'abstract', digest: null });
      else if (inspected && TRUST_CODES.has(error.code)) summaries.push({ ...base, status: 'refused', digest: inspected.digest, error: errorOf(error) });
      else summaries.push({ ...base, status: 'invalid', digest: null, error: errorOf(error) });
    }
  }
  return summaries;
}

async function describeTemplate(factory: AgentFactory, store: Store, name: string, env: string): Promise<TemplateDetail> {
  const options = { env };
  const inspected = await factory.registry.inspect(name, options);
  let signature: TemplateSignature;
  if (inspected.abstract) {
    signature = { status: 'refused', reason: 'abstract templates cannot run; templates that extend it can' };
  } else {
    try {
      signature = trustOf(await factory.registry.resolve(name, options));
    } catch (error) {
      if (!(error instanceof FactoryError) || !TRUST_CODES.has(error.code)) throw error;
      signature = { status: 'refused', code: error.code, reason: error.message };
    }
  }
  return {
    name: inspected.name,
    version: inspected.version,
    env: inspected.env,
    abstract: inspected.abstract,
    description: inspected.manifest.description || null,
    digest: inspected.abstract ? null : inspected.digest,
    chain: [...inspected.chain],
    manifest: inspected.manifest as unknown as Record<string, unknown>,
    signature,
    versions: store.isClosed ? [] : store.versions.list(name).map((v) => (store.trust.retirement(name, v.version) ? { ...v, retired: true } : v)),
  };
}

function readiness(factory: AgentFactory, store: Store, isClosing: boolean): ReadinessView {
  let storeCheck: ReadinessView['checks']['store'] = 'ok';
  if (store.isClosed) storeCheck = 'closed';
  else {
    try {
      store.db.prepare('SELECT 1').get();
    } catch {
      storeCheck = 'failed';
    }
  }
  let sandbox: ReadinessView['checks']['sandbox'] = 'ok';
  try {
    const stats = factory.sandboxStats();
    // Hosts start with the factory and restart when they die; none alive after restarts means they keep dying.
    if (stats.hosts === 0 && stats.restarts > 0) sandbox = 'failed';
  } catch {
    sandbox = 'failed';
  }
  const checks = { store: storeCheck, sandbox, server: isClosing ? ('closing' as const) : ('ok' as const) };
  return { ready: checks.store === 'ok' && checks.sandbox === 'ok' && checks.server === 'ok', checks };
}

