/** @module api/server — createApiServer: assembles the Fastify app serving `/v1` over a factory and its store from the API's plugins (errors, lifecycle, auth, rate limits) and route modules. */
import fastifySwagger, { type SwaggerOptions } from '@fastify/swagger';
import { Ajv } from 'ajv';
import Fastify, { type FastifyInstance } from 'fastify';
import { authPlugin } from './plugins/auth.js';
import { lifecyclePlugin } from './plugins/lifecycle.js';
import { problemsPlugin } from './plugins/problems.js';
import { rateLimitPlugin } from './plugins/rate-limit.js';
import { opsRoutes } from './routes/ops.js';
import { rolloutRoutes } from './routes/rollouts.js';
import { runRoutes } from './routes/runs.js';
import { suggestionRoutes } from './routes/suggestions.js';
import { templateRoutes } from './routes/templates.js';
import { errorSchema, readinessSchema, runStatsSchema } from './schemas.js';
import { type ApiServerOptions, resolveApiServerOptions } from './server-options.js';

export type { ApiRateLimitOptions, ApiServerOptions } from './server-options.js';

const OPENAPI: SwaggerOptions = {
  openapi: {
    openapi: '3.0.3',
    info: { title: 'Agent Factory API', version: '1.0.0', description: 'Runs signed agent templates and reviews the learner’s suggestions. Errors: `{ error: { code, message } }`.' },
    components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An API key `afk_<id>_<secret>` from `af keys api create`.' } } },
    security: [{ apiKey: [] }],
  },
};

/**
 * Builds the HTTP API (not listening: call `listen`, or drive it with `inject` in tests). Closing it stops accepting,
 * waits for runs in flight, and shuts down the telemetry SDK it started; the factory and store stay open.
 *
 * Registration order is hook order: the lifecycle's drain check and authentication are instance-level `onRequest`
 * hooks, so they run before the rate limiter's route-level one, which keys on the authenticated API key; the role
 * check (`preParsing`) runs after it and before the body is read. Plugins whose hooks or decorators every route needs
 * share the root scope; route modules stay encapsulated.
 * @example
 * const app = createApiServer({ factory });
 * await app.listen({ host: '127.0.0.1', port: 7070 });
 */
export function createApiServer(options: ApiServerOptions): FastifyInstance {
  const resolved = resolveApiServerOptions(options);
  const { factory, store, logger, environments } = resolved;
  const app = Fastify({
    logger: false,
    bodyLimit: resolved.bodyLimit,
    requestTimeout: resolved.requestTimeoutMs,
    // The lifecycle's onRequest hook answers 503 in the API's error shape while closing.
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

  app.register(problemsPlugin, { logger });
  app.register(lifecyclePlugin, { factory, store, telemetry: resolved.telemetry, logger });
  app.register(authPlugin, { store, logger });
  app.register(fastifySwagger, OPENAPI);
  if (resolved.rateLimit) app.register(rateLimitPlugin, { ...resolved.rateLimit, clock: resolved.clock });

  // In the order the OpenAPI document lists them.
  app.register(templateRoutes, { factory, store, environments });
  app.register(runRoutes, { factory, store, environments, dispatch: resolved.dispatch });
  app.register(suggestionRoutes, { store, suggestions: resolved.suggestions });
  app.register(rolloutRoutes, { store, rollouts: resolved.rollouts });
  app.register(opsRoutes, { store, metricsAccess: resolved.metricsAccess });
  return app;
}
