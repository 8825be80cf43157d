/** @module api/plugins/lifecycle — the server's life: readiness, draining while it closes (503 to new work, `connection: close`), runs in flight finished before close returns, and the telemetry SDK it may own. */
import type { FastifyInstance } from 'fastify';
import { FactoryError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { type AgentFactory, enableTelemetry, type TelemetrySdk } from '../../runtime/index.js';
import type { Store } from '../../store/index.js';
import type { ReadinessView } from '../types.js';
import fastifyPlugin from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    /** Readiness, draining, runs in flight and telemetry of this server (api/plugins/lifecycle). */
    lifecycle: ServerLifecycle;
  }
}

export interface LifecycleOptions {
  factory: AgentFactory;
  store: Store;
  /** The SDK behind `/metrics`; `false`: none; undefined: started when the server is ready and owned by it. */
  telemetry: TelemetrySdk | false | undefined;
  logger: Logger;
}

/** What routes ask of the server's life; only the plugin's hooks change it. */
export interface ServerLifecycle {
  /** True from the moment `close()` starts. */
  readonly isClosing: boolean;
  /** The SDK `/metrics` scrapes, if any. */
  readonly telemetry: TelemetrySdk | undefined;
  /** Awaits `work`, keeping the server's close waiting for it: a run started before closing finishes and is recorded. */
  track<T>(work: Promise<T>): Promise<T>;
  /** Ready when the store answers (`store.ping()`), the sandbox has hosts, and the server is not closing. */
  readiness(): Promise<ReadinessView>;
}

async function lifecycle(app: FastifyInstance, options: LifecycleOptions): Promise<void> {
  const { factory, store } = options;
  let isClosing = false;
  let telemetry = options.telemetry === false ? undefined : options.telemetry;
  let ownsTelemetry = false;
  const inFlight = new Set<Promise<unknown>>();

  const state: ServerLifecycle = {
    get isClosing() {
      return isClosing;
    },
    get telemetry() {
      return telemetry;
    },
    async track(work) {
      inFlight.add(work);
      try {
        return await work;
      } finally {
        inFlight.delete(work);
      }
    },
    readiness: () => readiness(factory, store, isClosing),
  };
  app.decorate('lifecycle', state);

  // Registered before authentication, so a closing server answers 503 without checking keys. Public routes (health,
  // readiness) keep answering: readiness is how a load balancer learns the server is closing.
  app.addHook('onRequest', async function refuseWhileClosing(request) {
    const access = request.routeOptions.config?.access;
    if (access === undefined || access === 'public') return;
    if (isClosing) throw new FactoryError('E_UNAVAILABLE', 'the server is shutting down; retry against another instance');
  });
  app.addHook('onReady', async () => {
    if (options.telemetry !== undefined) return;
    telemetry = await enableTelemetry({ enabled: true, logger: options.logger });
    ownsTelemetry = telemetry !== undefined;
  });
  app.addHook('preClose', async () => {
    isClosing = true;
  });
  // Keep-alive connections that carry a run in flight when closing starts would hold close() open forever:
  // answers sent while closing ask the client to hang up.
  app.addHook('onSend', async (_request, reply) => {
    if (isClosing) reply.header('connection', 'close');
  });
  app.addHook('onClose', async () => {
    // Runs already started finish and are recorded before the caller closes the factory.
    await Promise.allSettled([...inFlight]);
    if (ownsTelemetry) await telemetry?.shutdown();
  });
}

async function readiness(factory: AgentFactory, store: Store, isClosing: boolean): Promise<ReadinessView> {
  let storeCheck: ReadinessView['checks']['store'] = 'ok';
  if (store.isClosed) storeCheck = 'closed';
  else {
    try {
      await store.ping();
    } catch {
      storeCheck = 'failed';
    }
  }
  let sandbox: ReadinessView['checks']['sandbox'] = 'ok';
  try {
    const stats = factory.sandboxStats();
    // Hosts start with the factory and restart when they die; none alive after restarts means they keep dying.
    if (stats.hosts === 0 && stats.restarts > 0) sandbox = 'failed';
  } catch {
    sandbox = 'failed';
  }
  const checks = { store: storeCheck, sandbox, server: isClosing ? ('closing' as const) : ('ok' as const) };
  return { ready: checks.store === 'ok' && checks.sandbox === 'ok' && checks.server === 'ok', checks };
}

/** Decorates the server with `lifecycle`; shared, so every route module reads the same state. */
export const lifecyclePlugin = fastifyPlugin(lifecycle, { name: 'af-lifecycle' });
