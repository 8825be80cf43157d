/** @module api — the HTTP API (`createApiServer`, Fastify) and its typed SDK (`FactoryClient`). Import the SDK from `api/client.js` to avoid loading Fastify. */
export { createApiServer, type ApiRateLimitOptions, type ApiServerOptions } from './server.js';
// Re-exported from the plugins that declare them, so the decorators they add (`request.principal`, `app.lifecycle`,
// `app.forbid`) are typed for whoever adds hooks or routes to the server.
export { principalOf } from './plugins/auth.js';
export type { ServerLifecycle } from './plugins/lifecycle.js';
export { FactoryClient, parseRetryAfter, type FactoryClientOptions } from './client.js';
export { accessToDecide, ALL_TENANTS, canSeeSuggestion, describeAccess, installationRole, isAllowed, ROUTE_ACCESS, type Access, type InstallationAccess, type RouteKey } from './access.js';
export { RequestEnvironments, type RequestEnvironmentsOptions } from './environments.js';
export { httpStatusFor } from './errors.js';
export { errorBody, toErrorBody } from './problem.js';
export type { ActorInfo, RetiredVersion, RolloutService, SuggestionService } from './services.js';
export type * from './types.js';
export { createLearnerServices } from './learner-services.js';
