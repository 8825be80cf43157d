/** @module api/routes/suggestions — the learner's suggestions: listed and read within the key's tenant (and `*` ones for maintainers), accepted or rejected with the role each decision needs, every decision audited. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { FactoryError } from '../../core/errors.js';
import type { Suggestion } from '../../core/suggestion.js';
import { type Principal, roleAtLeast, type Store } from '../../store/index.js';
import { accessToDecide, canSeeSuggestion, describeAccess, isAllowed } from '../access.js';
import { actorOf, keyDescription, principalOf } from '../plugins/auth.js';
import fastifyPlugin from 'fastify-plugin';
import { ROUTE_SCHEMAS } from '../schemas.js';
import type { SuggestionService } from '../services.js';
import type { SuggestionListQuery } from '../types.js';
import { optionalBody, routeOf } from './route.js';

export interface SuggestionRoutesOptions {
  /** Holds the audit log. */
  store: Store;
  /** Without it every route answers 501. */
  suggestions: SuggestionService | undefined;
}

async function routes(app: FastifyInstance, { store, suggestions }: SuggestionRoutesOptions): Promise<void> {
  app.route({
    ...routeOf('GET /v1/suggestions'),
    schema: ROUTE_SCHEMAS.listSuggestions,
    handler: async (request: FastifyRequest<{ Querystring: SuggestionListQuery }>) => {
      const principal = principalOf(request);
      const service = suggestionService(suggestions);
      const filter = { ...(request.query.template !== undefined ? { template: request.query.template } : {}), ...(request.query.state !== undefined ? { state: request.query.state } : {}) };
      const own = await service.list({ tenant: principal.tenant, ...filter });
      const shared = roleAtLeast(principal.role, 'maintainer') && principal.tenant !== '*' ? await service.list({ tenant: '*', ...filter }) : [];
      // Filter again: the service is trusted to filter, but a leak across tenants must not depend on it.
      return { suggestions: [...own, ...shared].filter((s) => canSeeSuggestion(principal, s)).sort((a, b) => b.createdAt - a.createdAt) };
    },
  });

  app.route({
    ...routeOf('GET /v1/suggestions/:id'),
    schema: ROUTE_SCHEMAS.getSuggestion,
    handler: async (request: FastifyRequest<{ Params: { id: string } }>) => visibleSuggestion(suggestionService(suggestions), principalOf(request), request.params.id),
  });

  const decide = (verb: 'accept' | 'reject') => async (request: FastifyRequest<{ Params: { id: string }; Body: { reason?: string } | undefined }>) => {
    const principal = principalOf(request);
    const service = suggestionService(suggestions);
    const suggestion = await visibleSuggestion(service, principal, request.params.id);
    const needed = accessToDecide(verb, suggestion);
    if (!isAllowed(principal, needed)) {
      const why = verb === 'accept' ? 'accepting it rewrites and re-signs a template every tenant runs' : 'it spans every tenant';
      app.forbid(request, `suggestion ${suggestion.id}: ${why}, so this needs ${describeAccess(needed)}; this key is ${keyDescription(principal)}`);
    }
    if (suggestion.state !== 'open') throw new FactoryError('E_CONFLICT', `suggestion ${suggestion.id} is ${suggestion.state}, not open; only open suggestions can be decided`);
    const actor = actorOf(principal);
    const reason = request.body?.reason;
    const decided = verb === 'accept' ? await service.accept(suggestion.id, { actor, ...(reason !== undefined ? { reason } : {}) }) : await service.reject(suggestion.id, { actor, reason: reason ?? '' });
    await store.audit.append({
      type: verb === 'accept' ? 'api.suggestion.accepted' : 'api.suggestion.rejected',
      tenant: principal.tenant,
      actor,
      subject: suggestion.id,
      data: { tenant: principal.tenant, role: principal.role, template: suggestion.template, state: decided.state, ...(reason !== undefined ? { reason } : {}) },
    });
    return decided;
  };
  app.route({ ...routeOf('POST /v1/suggestions/:id/accept'), schema: ROUTE_SCHEMAS.acceptSuggestion, preValidation: optionalBody, handler: decide('accept') });
  app.route({ ...routeOf('POST /v1/suggestions/:id/reject'), schema: ROUTE_SCHEMAS.rejectSuggestion, handler: decide('reject') });
}

/** Encapsulated; needs `forbid` from the auth plugin, registered before it. */
export const suggestionRoutes = fastifyPlugin(routes, { name: 'af-routes-suggestions', decorators: { fastify: ['forbid'] }, encapsulate: true });

function suggestionService(service: SuggestionService | undefined): SuggestionService {
  if (!service) throw new FactoryError('E_NOT_IMPLEMENTED', 'this server was started without a suggestion service; suggestions are not available here (use `af suggestions`)');
  return service;
}

async function visibleSuggestion(service: SuggestionService, principal: Principal, id: string): Promise<Suggestion> {
  const suggestion = await service.get(id);
  if (!suggestion || !canSeeSuggestion(principal, suggestion)) throw new FactoryError('E_NOT_FOUND', `no suggestion ${id} for tenant ${principal.tenant}`);
  return suggestion;
}
