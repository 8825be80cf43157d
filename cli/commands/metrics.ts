/** @module cli/commands/metrics — `af metrics --port P [--host H]`: serves this process's Prometheus metrics on /metrics until SIGINT or SIGTERM. */
import { FactoryError } from '../../core/errors.js';
import { enableTelemetry, startMetricsServer, type MetricsServer } from '../../runtime/telemetry/index.js';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-status.js';
import { parseIntegerFlag, untilStopped } from '../process-lifetime.js';

export interface MetricsCommandOptions {
  /** Commander hands options over as strings; both are accepted. 0 picks a free port. */
  port: number | string;
  /** @default '127.0.0.1' */
  host?: string;
  /** Print `{"url": …}` on stdout once listening. */
  json?: boolean;
}

/** What tests inject instead of process signals. */
export interface MetricsCommandHooks {
  /** Stops serving when aborted. @default SIGINT or SIGTERM */
  signal?: AbortSignal;
  /** Called once the server listens. */
  onListening?(url: string): void;
}

/**
 * Serves `/metrics` until SIGINT or SIGTERM, then stops accepting, lets scrapes in flight finish, shuts the SDK
 * down and returns 0. Telemetry is switched on for this process whatever the OTEL_* variables say, except
 * `OTEL_SDK_DISABLED=true`, which is a usage error here.
 * @throws FactoryError `E_USAGE` for a bad port or one that is taken.
 */
export async function metricsCommand(context: CommandContext, options: MetricsCommandOptions, hooks: MetricsCommandHooks = {}): Promise<number> {
  const port = parseIntegerFlag(options.port, '--port', 0, 65535);
  const host = options.host ?? '127.0.0.1';
  const sdk = await enableTelemetry({ enabled: true, env: context.streams.env, logger: context.logger });
  if (!sdk) {
    throw new FactoryError('E_USAGE', 'telemetry is off (OTEL_SDK_DISABLED=true, or another OpenTelemetry SDK is registered in this process): unset OTEL_SDK_DISABLED to serve metrics');
  }
  let server: MetricsServer;
  try {
    server = await startMetricsServer({ scrape: () => sdk.scrape(), port, host });
  } catch (error) {
    await sdk.shutdown();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
      throw new FactoryError('E_USAGE', `cannot listen on ${host}:${port} (${code}): choose another --port or --host`, { cause: error });
    }
    throw error;
  }

  // Listening for the stop signals before saying we are up (see serve.ts).
  const stopping = untilStopped(hooks.signal);
  if (options.json) context.streams.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
  context.streams.stderr.write(`serving metrics on ${server.url} (Ctrl-C to stop)\n`);
  hooks.onListening?.(server.url);

  const stopped = await stopping;
  context.streams.stderr.write(`${stopped}: stopping metrics server\n`);
  await server.close();
  await sdk.shutdown();
  return EXIT.ok;
}
