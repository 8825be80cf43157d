/** @module api/routes/route — what every route module shares: a route's method, URL and access from the one table, optional bodies, and the environment a request may run in. */
import type { FastifyRequest } from 'fastify';
import { type Access, ROUTE_ACCESS, type RouteKey } from '../access.js';
import type { RequestEnvironments } from '../environments.js';

/** Method, URL and access of a route from {@link ROUTE_ACCESS}; public routes are not rate limited. */
export function routeOf<K extends RouteKey>(key: K, access: Access = ROUTE_ACCESS[key]) {
  const [method, url] = key.split(' ') as ['GET' | 'POST', string];
  return { method, url, config: { access, ...(access === 'public' ? { rateLimit: false as const } : {}) } };
}

/** A preValidation hook: bodies that may be left out entirely (`curl -X POST` with no data) are read as `{}`, then validated. */
export async function optionalBody(request: FastifyRequest): Promise<void> {
  request.body ??= {};
}

/** The environment a request runs in: the server's, or one it was started to allow; anything else is 403. */
export function environmentOf(request: FastifyRequest, environments: RequestEnvironments, requested: string | undefined): string {
  const env = environments.pick(requested);
  if (env === undefined) return request.server.forbid(request, environments.refusal(requested as string));
  return env;
}
