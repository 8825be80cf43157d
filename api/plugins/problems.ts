/** @module api/plugins/problems — every error answer in the one shape: thrown errors through `toErrorBody`, unknown routes as 404 `E_NOT_FOUND`. */
import type { FastifyInstance } from 'fastify';
import { FactoryError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { toErrorBody } from '../problem.js';
import fastifyPlugin from 'fastify-plugin';

export interface ProblemsOptions {
  /** Where 5xx answers are logged (the body says only that the log has the details). */
  logger: Logger;
}

async function problems(app: FastifyInstance, { logger }: ProblemsOptions): Promise<void> {
  app.setErrorHandler((error, request, reply) => {
    const { status, body } = toErrorBody(error);
    if (status >= 500) logger.error(`${request.method} ${request.url} failed`, { code: body.error.code, error: error instanceof Error ? error.message : String(error) });
    if (status === 503) reply.header('retry-after', '1');
    return reply.code(status).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const { status, body } = toErrorBody(new FactoryError('E_NOT_FOUND', `no route ${request.method} ${request.url.split('?', 1)[0]}; see GET /v1/openapi.json`));
    return reply.code(status).send(body);
  });
}

/** Shared: the handlers are the root's, so every route module inherits them. */
export const problemsPlugin = fastifyPlugin(problems, { name: 'af-problems' });
