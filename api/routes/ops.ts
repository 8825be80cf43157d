/** @module api/routes/ops — what operators and their tools read: the audit log, the OpenAPI document, liveness, readiness and Prometheus metrics. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { FactoryError } from '../../core/errors.js';
import { PROMETHEUS_CONTENT_TYPE } from '../../runtime/index.js';
import type { Store } from '../../store/index.js';
import type { Access } from '../access.js';
import fastifyPlugin from 'fastify-plugin';
import { ROUTE_SCHEMAS } from '../schemas.js';
import type { AuditQuery } from '../types.js';
import { routeOf } from './route.js';

export interface OpsRoutesOptions {
  /** Holds the audit log. */
  store: Store;
  /** Who may read `/metrics`. */
  metricsAccess: Access;
}

async function routes(app: FastifyInstance, { store, metricsAccess }: OpsRoutesOptions): Promise<void> {
  app.route({
    ...routeOf('GET /v1/audit'),
    schema: ROUTE_SCHEMAS.audit,
    handler: async (request: FastifyRequest<{ Querystring: AuditQuery }>) => {
      const { type, subject, afterSeq, limit } = request.query;
      return { entries: await store.audit.list({ ...(type ? { type } : {}), ...(subject ? { subject } : {}), ...(afterSeq !== undefined ? { afterSeq } : {}), limit: limit ?? 100 }) };
    },
  });

  app.route({
    ...routeOf('GET /v1/openapi.json'),
    schema: { hide: true },
    handler: async () => app.swagger(),
  });

  app.route({ ...routeOf('GET /healthz'), schema: ROUTE_SCHEMAS.healthz, handler: async () => ({ ok: true }) });

  app.route({
    ...routeOf('GET /readyz'),
    schema: ROUTE_SCHEMAS.readyz,
    handler: async (_request, reply) => {
      const view = await app.lifecycle.readiness();
      return reply.code(view.ready ? 200 : 503).send(view);
    },
  });

  app.route({
    ...routeOf('GET /metrics', metricsAccess),
    schema: { hide: true },
    handler: async (_request, reply) => {
      const { telemetry } = app.lifecycle;
      if (!telemetry) throw new FactoryError('E_NOT_IMPLEMENTED', 'telemetry is off in this process (OTEL_SDK_DISABLED=true, another SDK registered, or telemetry: false)');
      // scrape() is the same exposition handleMetricsRequest writes, but keeps Fastify in charge of the response.
      return reply.type(PROMETHEUS_CONTENT_TYPE).send(await telemetry.scrape());
    },
  });
}

/** Encapsulated; needs `lifecycle` and `swagger`, registered before it. */
export const opsRoutes = fastifyPlugin(routes, { name: 'af-routes-ops', decorators: { fastify: ['lifecycle', 'swagger'] }, encapsulate: true });
