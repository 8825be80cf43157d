/** @module runtime/telemetry/metrics-server — a small node:http server answering GET /metrics with the Prometheus text exposition. */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Content type of the Prometheus text format 0.0.4, which Prometheus 3 requires to be declared. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface MetricsServerOptions {
  /** Renders the exposition; called once per scrape. */
  scrape: () => Promise<string>;
  /** 0 picks a free port. */
  port: number;
  /** @default '127.0.0.1' (metrics can name templates and tenants' error codes: do not expose them by accident) */
  host?: string;
  /** @default '/metrics' */
  endpoint?: string;
}

export interface MetricsServer {
  /** Where it listens, e.g. `http://127.0.0.1:9464/metrics`. */
  readonly url: string;
  readonly port: number;
  /** Stops accepting, lets in-flight scrapes finish (idle keep-alive sockets are closed at once). Idempotent. */
  close(): Promise<void>;
}

/**
 * Listens on `host:port` and serves `scrape()` on `endpoint`; everything else is 404, non-GET is 405.
 * @throws Error with `code` `EADDRINUSE`/`EACCES` when it cannot listen.
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { scrape } = options;
  if (typeof scrape !== 'function') throw new TypeError('startMetricsServer: option "scrape" must be a function');
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    throw new TypeError(`startMetricsServer: option "port" must be an integer from 0 to 65535, got ${String(options.port)}`);
  }
  const host = options.host ?? '127.0.0.1';
  const endpoint = options.endpoint ?? '/metrics';
  const server = createServer((request, response) => handle(request, response, endpoint, scrape));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: options.port, host }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shown}:${port}${endpoint}`,
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}

function handle(request: IncomingMessage, response: ServerResponse, endpoint: string, scrape: () => Promise<string>): void {
  const pathname = (request.url ?? '/').split('?', 1)[0];
  if (pathname !== endpoint) {
    response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`not found: metrics are at ${endpoint}\n`);
    return;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  scrape().then(
    (text) => {
      response.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE });
      response.end(request.method === 'HEAD' ? undefined : text);
    },
    (error: unknown) => {
      response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`# failed to collect metrics: ${error instanceof Error ? error.message : String(error)}\n`);
    },
  );
}
