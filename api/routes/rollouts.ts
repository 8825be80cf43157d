/** @module api/routes/rollouts — the installation's template versions: rolling a template back and retiring a version, each audited. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { FactoryError } from '../../core/errors.js';
import type { Store } from '../../store/index.js';
import { actorOf, principalOf } from '../plugins/auth.js';
import fastifyPlugin from 'fastify-plugin';
import { ROUTE_SCHEMAS } from '../schemas.js';
import type { RolloutService } from '../services.js';
import { optionalBody, routeOf } from './route.js';

export interface RolloutRoutesOptions {
  /** Holds the audit log. */
  store: Store;
  /** Without it (or its `retire`) the routes answer 501. */
  rollouts: RolloutService | undefined;
}

async function routes(app: FastifyInstance, { store, rollouts }: RolloutRoutesOptions): Promise<void> {
  app.route({
    ...routeOf('POST /v1/templates/:name/rollback'),
    schema: ROUTE_SCHEMAS.rollback,
    preValidation: optionalBody,
    handler: async (request: FastifyRequest<{ Params: { name: string }; Body: { to?: string } | undefined }>) => {
      const principal = principalOf(request);
      if (!rollouts) throw new FactoryError('E_NOT_IMPLEMENTED', 'this server was started without a rollout service; rollback is not available here (use `af rollback`)');
      const actor = actorOf(principal);
      const to = request.body?.to;
      const result = await rollouts.rollback(request.params.name, { actor, ...(to !== undefined ? { to } : {}) });
      await store.audit.append({ type: 'api.template.rolled_back', tenant: principal.tenant, actor, subject: request.params.name, data: { tenant: principal.tenant, role: principal.role, version: result.version } });
      return result;
    },
  });

  app.route({
    ...routeOf('POST /v1/templates/:name/versions/:version/retire'),
    schema: ROUTE_SCHEMAS.retireVersion,
    preValidation: optionalBody,
    handler: async (request: FastifyRequest<{ Params: { name: string; version: string }; Body: { reason?: string } | undefined }>) => {
      const principal = principalOf(request);
      const retire = rollouts?.retire?.bind(rollouts);
      if (!retire) throw new FactoryError('E_NOT_IMPLEMENTED', 'this server was started without a rollout service; retire versions with `af versions retire`');
      const actor = actorOf(principal);
      const reason = request.body?.reason;
      const result = await retire(request.params.name, request.params.version, { actor, ...(reason !== undefined ? { reason } : {}) });
      await store.audit.append({ type: 'api.version.retired', tenant: principal.tenant, actor, subject: request.params.name, data: { tenant: principal.tenant, role: principal.role, version: result.version } });
      return result;
    },
  });
}

/** Encapsulated; the auth plugin's hooks (registered before it) have checked the installation role. */
export const rolloutRoutes = fastifyPlugin(routes, { name: 'af-routes-rollouts', decorators: { request: ['principal'] }, encapsulate: true });
