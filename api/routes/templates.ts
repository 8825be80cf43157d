/** @module api/routes/templates — `GET /v1/templates` and `GET /v1/templates/:name`: what the registry holds, whether the trust gate admits it in the request's environment, and the versions the store recorded. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type ErrorCode, FactoryError } from '../../core/errors.js';
import type { AgentFactory, TrustedTemplate } from '../../runtime/index.js';
import type { Store } from '../../store/index.js';
import type { RequestEnvironments } from '../environments.js';
import fastifyPlugin from 'fastify-plugin';
import { ROUTE_SCHEMAS } from '../schemas.js';
import type { TemplateDetail, TemplateSignature, TemplateSummary } from '../types.js';
import { environmentOf, routeOf } from './route.js';

export interface TemplateRoutesOptions {
  factory: AgentFactory;
  store: Store;
  environments: RequestEnvironments;
}

const TRUST_CODES = new Set(['E_SIGNATURE_MISSING', 'E_SIGNATURE_INVALID', 'E_KEY_REVOKED', 'E_KEY_EXPIRED', 'E_POLICY_DENIED', 'E_VERSION_RETIRED', 'E_TRUST_STATE']);

async function routes(app: FastifyInstance, { factory, store, environments }: TemplateRoutesOptions): Promise<void> {
  app.route({
    ...routeOf('GET /v1/templates'),
    schema: ROUTE_SCHEMAS.listTemplates,
    handler: async (request: FastifyRequest<{ Querystring: { env?: string } }>) => ({ templates: await listTemplates(factory, environmentOf(request, environments, request.query.env)) }),
  });

  app.route({
    ...routeOf('GET /v1/templates/:name'),
    schema: ROUTE_SCHEMAS.getTemplate,
    handler: async (request: FastifyRequest<{ Params: { name: string }; Querystring: { env?: string } }>) =>
      describeTemplate(factory, store, request.params.name, environmentOf(request, environments, request.query.env)),
  });
}

/** Encapsulated; needs `forbid` from the auth plugin, registered before it. */
export const templateRoutes = fastifyPlugin(routes, { name: 'af-routes-templates', decorators: { fastify: ['forbid'] }, encapsulate: true });

/** What the trust gate decided for a template it admitted (a `TrustedTemplate` always carries it). */
function trustOf({ trust }: TrustedTemplate): TemplateSignature {
  return {
    status: trust.status,
    ...(trust.verification ? { keyId: trust.verification.keyId, signer: trust.verification.signer, signedAt: trust.verification.signedAt } : {}),
    ...(trust.waiver ? { reason: trust.waiver } : {}),
  };
}

function errorOf(error: unknown): { code: ErrorCode; message: string } {
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
    versions: store.isClosed ? [] : (await store.versions.list(name)).map((v) => (store.trust.retirement(name, v.version) ? { ...v, retired: true } : v)),
  };
}
