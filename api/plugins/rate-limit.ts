/** @module api/plugins/rate-limit — per-key request budgets by role (@fastify/rate-limit on the injected clock), answered as 429 `E_RATE_LIMITED`. */
import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import type { Clock } from '../../core/clock.js';
import { FactoryError } from '../../core/errors.js';
import type { Role } from '../../store/index.js';
import { clockedRateLimitStore } from '../rate-limit-store.js';
import fastifyPlugin from 'fastify-plugin';

export interface RateLimitOptions {
  timeWindowMs: number;
  /** Requests per window per API key, by the key's role. */
  max: Record<Role, number>;
  /** Where windows read the time. */
  clock: Clock;
}

async function rateLimit(app: FastifyInstance, { timeWindowMs, max, clock }: RateLimitOptions): Promise<void> {
  await app.register(fastifyRateLimit, {
    global: true,
    // Route-level, so after authentication (an instance-level onRequest hook) and before the role check and the body:
    // a throttled key costs no parsing.
    hook: 'onRequest',
    timeWindow: timeWindowMs,
    store: clockedRateLimitStore(clock),
    keyGenerator: (request) => request.principal?.keyId ?? request.ip,
    max: async (request) => max[request.principal?.role ?? 'viewer'],
    // Thrown by the plugin's hook; the error handler answers it like any FactoryError (429 from httpStatusFor, with
    // the retry-after the plugin already set).
    errorResponseBuilder: (_request, context) => new FactoryError('E_RATE_LIMITED', `rate limit of ${context.max} requests per ${Math.round(timeWindowMs / 1000)} s reached for this key; retry in ${context.after}`),
  });
}

/** Shared, so the plugin's onRoute hook sees every route module registered after it (public routes opt out with `rateLimit: false`). */
export const rateLimitPlugin = fastifyPlugin(rateLimit, { name: 'af-rate-limit', decorators: { request: ['principal'] } });
