/** @module cli/commands/runner — `af runner`: a process of the fleet that takes runs from a PostgreSQL store's run queue and runs them, until SIGINT or SIGTERM. */
import os from 'node:os';
import { FactoryError } from '../../core/errors.js';
import { createFactory, createQueueMetrics, enableTelemetry, type MetricsServer, QueuedRecordSink, Runner, runnerBackendOf, startMetricsServer } from '../../runtime/index.js';
import { parseStoreLocation } from '../../store/index.js';
import type { PostgresStore } from '../../store/postgres/postgres-store.js';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-status.js';
import { parseIntegerFlag, untilStopped } from '../process-lifetime.js';
import { openProjectStore } from '../store-access.js';

export interface RunnerCommandOptions {
  /** @default the number of CPU cores */
  concurrency?: number | string;
  /** @default 5000 */
  leaseMs?: number | string;
  /** Comma-separated environments queued runs may name besides the runner's own (`--env`). */
  allowEnv?: string;
  /** Runs of one tenant running at once across the fleet, past which this runner claims other tenants' runs first. */
  tenantCap?: number | string;
  /** Serve Prometheus metrics (the runner's and its factory's) on this port of 127.0.0.1; 0 picks a free one. */
  metricsPort?: number | string;
  json?: boolean;
}

export interface RunnerCommandHooks {
  /** Stops the runner when aborted. @default SIGINT or SIGTERM */
  signal?: AbortSignal;
}

/** How long a stopping runner lets the runs in hand finish before leaving them to their leases. */
const STOP_GRACE_MS = 30_000;

/**
 * Runs queued runs until stopped, then stops claiming, lets the runs in hand finish (up to 30 s; the rest go back to
 * the queue when their leases expire) and closes.
 * @throws FactoryError `E_USAGE` when the store is not PostgreSQL or a flag is wrong; `E_STORE` when it cannot be reached.
 */
export async function runnerCommand(context: CommandContext, options: RunnerCommandOptions = {}, hooks: RunnerCommandHooks = {}): Promise<number> {
  const config = context.config();
  if (parseStoreLocation(config.store, config.root).kind !== 'postgres') {
    throw new FactoryError('E_USAGE', 'af runner takes runs from the run queue, which only a PostgreSQL store has: pass --store postgres://USER:PASSWORD@HOST:PORT/DB or set AF_STORE_URL (see docs/scaling.md)');
  }
  const concurrency = options.concurrency === undefined ? os.availableParallelism() : parseIntegerFlag(options.concurrency, '--concurrency', 1, 1024);
  const leaseMs = parseIntegerFlag(options.leaseMs ?? 5_000, '--lease-ms', 300, 600_000);
  const tenantCap = options.tenantCap === undefined ? undefined : parseIntegerFlag(options.tenantCap, '--tenant-cap', 1, 1_000_000);
  const metricsPort = options.metricsPort === undefined ? undefined : parseIntegerFlag(options.metricsPort, '--metrics-port', 0, 65535);
  const allowEnvironments = (options.allowEnv ?? '').split(',').map((env) => env.trim()).filter((env) => env !== '');
  const { logger } = context;
  // Before the factory, so its instruments bind to the SDK from the first run.
  const sdk = metricsPort === undefined ? undefined : await enableTelemetry({ enabled: true, env: context.streams.env, logger });
  const store = (await openProjectStore(config, { queue: { leaseMs, ...(tenantCap !== undefined ? { maxRunningPerTenant: tenantCap } : {}) } }).catch(async (error: unknown) => {
    await sdk?.shutdown();
    throw error;
  })) as PostgresStore;
  const metrics = sdk ? createQueueMetrics({ depth: () => store.queue.depth() }) : undefined;
  let metricsServer: MetricsServer | undefined;
  const records = new QueuedRecordSink(store.runs);
  let runner: Runner;
  const factory = await createFactory({ root: config.root, env: config.env, home: config.home, store, runSink: records, processEnv: context.streams.env, logger: logger.child('factory') }).catch(async (error: unknown) => {
    await store.close();
    await sdk?.shutdown();
    throw error;
  });
  try {
    runner = new Runner({ factory, records, backend: runnerBackendOf(store), concurrency, allowEnvironments, logger: logger.child('runner'), ...(metrics ? { metrics } : {}) });
    if (sdk && metricsPort !== undefined) metricsServer = await startMetricsServer({ scrape: () => sdk.scrape(), port: metricsPort });
    await runner.start();
  } catch (error) {
    await metricsServer?.close();
    await factory.close();
    await store.close();
    await sdk?.shutdown();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') throw new FactoryError('E_USAGE', `cannot serve metrics on 127.0.0.1:${metricsPort} (${code}): choose another --metrics-port`, { cause: error });
    throw error;
  }
  // Listening for the stop before saying it is ready: a supervisor may signal it the moment it reads the line.
  const stopping = untilStopped(hooks.signal);
  if (options.json) context.streams.stdout.write(`${JSON.stringify({ runner: runner.owner, concurrency, leaseMs, ...(metricsServer ? { metrics: metricsServer.url } : {}) })}\n`);
  context.streams.stderr.write(`runner ${runner.owner} taking runs from ${store.location} (${concurrency} at once, environment ${[config.env, ...allowEnvironments].join(', ')}; Ctrl-C to stop)\n`);

  const stopped = await stopping;
  context.streams.stderr.write(`${stopped}: stopping: no new runs; finishing the ${runner.stats.inFlight} in hand\n`);
  await runner.stop(STOP_GRACE_MS);
  await metricsServer?.close();
  metrics?.close();
  await factory.close();
  await store.close();
  await sdk?.shutdown();
  const { inFlight: _inFlight, ...counts } = runner.stats;
  if (options.json) context.streams.stdout.write(`${JSON.stringify(counts)}\n`);
  context.streams.stderr.write(`${stopped}: stopped (${counts.completed} completed, ${counts.fenced} fenced, ${counts.conflicts} kv conflicts run again)\n`);
  return EXIT.ok;
}
