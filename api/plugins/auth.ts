/** @module api/plugins/auth — who is calling: the Bearer API key checked before anything else, the route's least role checked before the body is read, and refusals written to the audit log. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { FactoryError } from '../../core/errors.js';
import { BackgroundWrites } from '../../core/background-writes.js';
import type { Logger } from '../../core/logger.js';
import { isInstallationWide, type Principal, type Store } from '../../store/index.js';
import { type Access, describeAccess, isAllowed } from '../access.js';
import fastifyPlugin from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller, once its key checked out; null on public routes. */
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** Least role for the route, or `public`. */
    access?: Access;
  }
  interface FastifyInstance {
    /** Answers 403 `E_FORBIDDEN` with `message`, leaving a record in the audit log (api/plugins/auth). */
    forbid(request: FastifyRequest, message: string): never;
  }
}

export interface AuthOptions {
  /** Holds the API keys and the audit log. */
  store: Store;
  logger: Logger;
}

async function auth(app: FastifyInstance, { store, logger }: AuthOptions): Promise<void> {
  app.decorateRequest('principal', null);

  // Refused attempts are what an audit log is for. `forbid` throws at once (callers rely on `never`), so the entry is
  // written without waiting; a failure, say a store closing under a shutdown, is logged and never turns a 403 into a 500.
  const refusals = new BackgroundWrites(logger);
  app.decorate('forbid', (request: FastifyRequest, message: string): never => {
    const principal = principalOf(request);
    refusals.start('could not audit a refused request', () => store.audit.append({ type: 'api.forbidden', tenant: principal.tenant, actor: actorOf(principal), subject: `${request.method} ${request.routeOptions.url}`, data: { tenant: principal.tenant, role: principal.role } }));
    throw new FactoryError('E_FORBIDDEN', message);
  });
  app.addHook('onClose', () => refusals.settled());

  // Authentication runs first (an instance-level hook), so the rate limiter, a route-level onRequest hook, can key on the API key.
  app.addHook('onRequest', async function authenticateKey(request, reply) {
    if (isOpen(request)) return;
    const principal = await authenticate(store, request.headers.authorization);
    if (!principal) {
      reply.header('www-authenticate', 'Bearer realm="agent-factory"');
      throw new FactoryError('E_UNAUTHORIZED', 'send a valid API key as "Authorization: Bearer afk_…"; create one with `af keys api create`');
    }
    request.principal = principal;
  });
  // Roles are checked after the rate limiter and before the body is read: refused requests count against the key,
  // so a low-role key cannot flood the audit log.
  app.addHook('preParsing', async function checkRole(request) {
    if (isOpen(request)) return;
    const access = request.routeOptions.config?.access;
    const principal = request.principal;
    // Fail closed: a route that declares no access (a wiring mistake) answers to nobody, rather than to everybody.
    if (access === undefined || !principal) throw new FactoryError('E_INTERNAL', `${request.method} ${request.routeOptions.url} declares no access level (config.access), so it is refused`);
    if (!isAllowed(principal, access)) app.forbid(request, `${request.method} ${request.routeOptions.url} needs ${describeAccess(access)}; this key is ${keyDescription(principal)}`);
  });
}

/** Decorates requests with `principal` and the server with `forbid`; shared, so its hooks cover every route. */
export const authPlugin = fastifyPlugin(auth, { name: 'af-auth' });

/**
 * Whether a request needs no key: only routes that declare `access: 'public'`, and the 404 answer for a URL that names
 * no route. A route that declares nothing is not open: it needs a key, and then fails the role check.
 */
function isOpen(request: FastifyRequest): boolean {
  return request.routeOptions.config?.access === 'public' || request.is404;
}

async function authenticate(store: Store, header: string | undefined): Promise<Principal | undefined> {
  const match = /^Bearer +(\S+)$/i.exec(header ?? '');
  if (!match || store.isClosed) return undefined;
  return await store.tenants.authenticate(match[1] as string);
}

/** The authenticated caller of a non-public route. */
export function principalOf(request: FastifyRequest): Principal {
  // Every non-public route passed the onRequest check; a missing principal is a wiring bug, not a client error.
  if (!request.principal) throw new FactoryError('E_INTERNAL', `route ${request.routeOptions.url} ran without an authenticated key`);
  return request.principal;
}

/** Who did it, for the audit log: `key:<api key id>`. */
export function actorOf(principal: Principal): string {
  return `key:${principal.keyId}`;
}

/** The key in words, for a 403's message. */
export function keyDescription(principal: Principal): string {
  return isInstallationWide(principal) ? `an installation key with role ${principal.role}` : `role ${principal.role} of tenant ${principal.tenant}`;
}
