/** @module api/routes/runs — `POST /v1/agents/:name/runs` (create, run once, dispose, under the key's tenant) and the recorded runs of that tenant. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FactoryError } from '../../core/errors.js';
import type { AgentFactory, RunReport } from '../../runtime/index.js';
import { isInstallationWide, type Store } from '../../store/index.js';
import type { RequestEnvironments } from '../environments.js';
import type { RunDispatch } from '../server-options.js';
import { httpStatusFor } from '../errors.js';
import { principalOf } from '../plugins/auth.js';
import fastifyPlugin from 'fastify-plugin';
import { errorBody } from '../problem.js';
import { ROUTE_SCHEMAS } from '../schemas.js';
import type { RunListQuery, RunRequest } from '../types.js';
import { environmentOf, routeOf } from './route.js';

export interface RunRoutesOptions {
  factory: AgentFactory;
  /** The factory's store, where its runs are recorded. */
  store: Store;
  environments: RequestEnvironments;
  /** Runs elsewhere (the run queue) instead of in `factory`. */
  dispatch: RunDispatch | undefined;
}

async function routes(app: FastifyInstance, { factory, store, environments, dispatch }: RunRoutesOptions): Promise<void> {
  app.route({
    ...routeOf('POST /v1/agents/:name/runs'),
    schema: ROUTE_SCHEMAS.runAgent,
    handler: async (request: FastifyRequest<{ Params: { name: string }; Body: RunRequest }>, reply: FastifyReply) => {
      const principal = principalOf(request);
      // Runs, kv and records belong to a tenant; the installation is not one.
      if (isInstallationWide(principal)) app.forbid(request, 'an installation key administers what tenants share; runs belong to a tenant: use a key of that tenant');
      const env = environmentOf(request, environments, request.body.env);
      const run = dispatch ? runDispatched(dispatch, request.params.name, request.body.input, principal.tenant, env) : runOnce(factory, request.params.name, request.body.input, principal.tenant, env);
      const { report, version } = await app.lifecycle.track(run);
      if (report.ok) {
        return { runId: report.runId, template: request.params.name, version, digest: report.digest, source: report.source, signed: report.signed, output: report.output, stats: report.stats };
      }
      const { error } = report;
      return reply.code(httpStatusFor(error.code)).send({ ...errorBody(error.code, error.message, error.problems), runId: report.runId, stats: report.stats });
    },
  });

  app.route({
    ...routeOf('GET /v1/runs'),
    schema: ROUTE_SCHEMAS.listRuns,
    handler: async (request: FastifyRequest<{ Querystring: RunListQuery }>) => {
      const { tenant } = principalOf(request);
      // Records are written in batches; a client that just ran an agent expects to read it back.
      await store.runs.flush();
      const { template, outcome, since, until, limit } = request.query;
      const runs = await store.queries.list({
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

  app.route({
    ...routeOf('GET /v1/runs/:id'),
    schema: ROUTE_SCHEMAS.getRun,
    handler: async (request: FastifyRequest<{ Params: { id: string } }>) => {
      const { tenant } = principalOf(request);
      await store.runs.flush();
      const run = await store.queries.get(request.params.id);
      // Another tenant's run is reported exactly like a missing one, so ids cannot be probed across tenants.
      if (!run || run.tenant !== tenant) throw new FactoryError('E_NOT_FOUND', `no run ${request.params.id} in tenant ${tenant}`);
      return run;
    },
  });
}

/** Encapsulated; needs `forbid` (auth) and `lifecycle`, registered before it. */
export const runRoutes = fastifyPlugin(routes, { name: 'af-routes-runs', decorators: { fastify: ['forbid', 'lifecycle'] }, encapsulate: true });

/** A dispatched run, answered as a local one would be: a run that could not start is the error `createAgent` throws. */
async function runDispatched(dispatch: RunDispatch, name: string, input: unknown, tenant: string, env: string): Promise<{ report: RunReport; version: string }> {
  const result = await dispatch(name, input, { tenant, env });
  if ('notRun' in result) throw new FactoryError(result.error.code, result.error.message, result.error.problems ? { problems: result.error.problems } : {});
  return { report: result, version: result.version };
}

async function runOnce(factory: AgentFactory, name: string, input: unknown, tenant: string, env: string): Promise<{ report: RunReport; version: string }> {
  const agent = await factory.createAgent(name, { tenant, env });
  try {
    return { report: await agent.runSettled(input), version: agent.version };
  } finally {
    await agent.dispose();
  }
}
