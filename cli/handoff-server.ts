/** @module cli/handoff-server — the local socket on which `af serve` takes `af run` command lines from the same project and runs them on its warm factory. */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { ResolvedConfig } from '../core/config.js';
import { escapeLine } from '../core/terminal-text.js';
import type { AgentFactory } from '../runtime/index.js';
import { parseHandoffArgs } from './handoff-args.js';
import { HANDOFF_FILE, type HandoffAnswer, type HandoffFile, type HandoffRequest, MAX_REQUEST_BYTES } from './handoff-protocol.js';
import { HandoffDeclined, type HandoffScope, handoffScope } from './handoff-scope.js';
import type { CliStreams } from './io.js';

export interface HandoffServerOptions {
  factory: AgentFactory;
  config: ResolvedConfig;
  serverEnv: Record<string, string | undefined>;
  /** One line per handed-off run (the server's request log). */
  log?(line: string): void;
}

export interface HandoffServer {
  readonly socket: string;
  /** Stops taking runs, waits for those in flight, removes the socket and the file (if still this server's). */
  close(): Promise<void>;
}

/**
 * Listens on a Unix socket only this user can open (mode 0600) and writes `.af/serve.json` (mode 0600): this
 * server's pid, socket and a random token, which every request must present. Trust: whoever can read that file can
 * read `.af/` (keys, store) and run `af run` here themselves with the same rights; a run handed over gets no more than
 * that (the caller's own command line, tenant and environment, checked to be this server's project and store).
 */
export async function startHandoffServer(options: HandoffServerOptions): Promise<HandoffServer> {
  const { factory, config } = options;
  const token = randomBytes(32).toString('base64url');
  const tokenDigest = digest(token);
  const own = path.join(config.home, `serve-${process.pid}.sock`);
  // sun_path holds 107 bytes: a deep project gets a socket in the temporary folder, named at random.
  const socket = Buffer.byteLength(own) < 100 ? own : path.join(os.tmpdir(), `af-serve-${randomBytes(8).toString('hex')}.sock`);
  removeQuietly(socket);
  const inFlight = new Set<Promise<void>>();
  // Half-open: the caller ends its side once the request is written, and the answer still goes back.
  const server = net.createServer({ allowHalfOpen: true }, (connection) => {
    const served = serve(connection, options, tokenDigest).catch(() => {
      connection.destroy();
    });
    inFlight.add(served);
    void served.finally(() => inFlight.delete(served));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(socket, 0o600);
  const file = path.join(config.home, HANDOFF_FILE);
  const record: HandoffFile = { v: 1, pid: process.pid, socket, token, root: config.root, home: config.home, env: config.env, store: config.store };
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  renameSync(temp, file);
  return {
    socket,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.allSettled([...inFlight]);
      removeQuietly(socket);
      try {
        if ((JSON.parse(readFileSync(file, 'utf8')) as HandoffFile).pid === process.pid) unlinkSync(file);
      } catch {
        // Gone already, or another server's now.
      }
    },
  };
}

async function serve(connection: net.Socket, options: HandoffServerOptions, tokenDigest: Buffer): Promise<void> {
  const started = performance.now();
  const request = await readRequest(connection);
  const answer = (value: HandoffAnswer): void => {
    connection.end(`${JSON.stringify(value)}\n`);
  };
  if (request === undefined || typeof request.token !== 'string' || !timingSafeEqual(digest(request.token), tokenDigest)) {
    answer({ t: 'refused', reason: 'not authenticated: the token is not this server\'s' });
    return;
  }
  const args = Array.isArray(request.argv) && request.argv.every((word) => typeof word === 'string') ? parseHandoffArgs(request.argv) : undefined;
  if (!args || typeof request.cwd !== 'string' || typeof request.env !== 'object' || request.env === null) {
    answer({ t: 'declined', reason: 'not a command line the server runs' });
    return;
  }
  if (Object.keys(request.env).some((name) => name.startsWith('OTEL_'))) {
    answer({ t: 'declined', reason: 'OpenTelemetry settings are the caller\'s own' });
    return;
  }
  const out: Array<[1 | 2, string]> = [];
  const writer = (fd: 1 | 2, isTTY: boolean) => ({ isTTY, write: (chunk: string) => out.push([fd, String(chunk)]) });
  const stdin = typeof request.stdin === 'string' ? Object.assign(Readable.from([request.stdin]), { isTTY: false }) : Object.assign(Readable.from([]), { isTTY: true });
  const streams: CliStreams = {
    stdout: { ...writer(1, request.tty?.stdout === true), ...(typeof request.columns === 'number' ? { columns: request.columns } : {}) },
    stderr: writer(2, request.tty?.stderr === true),
    stdin,
    env: request.env,
    cwd: request.cwd,
  };
  const { createLogger } = await import('../core/logger.js');
  const scope: HandoffScope = {
    factory: options.factory,
    store: options.config.store,
    serverEnv: options.serverEnv,
    logger: createLogger({ stream: streams.stderr, processEnv: streams.env, scope: 'af' }),
  };
  const { runCli } = await import('./program.js');
  let status: number;
  try {
    status = await handoffScope.run(scope, () => runCli(request.argv, streams));
  } catch (error) {
    if (!(error instanceof HandoffDeclined)) throw error;
    status = 1;
  }
  if (scope.declined !== undefined) {
    answer({ t: 'declined', reason: scope.declined });
    return;
  }
  answer({ t: 'done', status, out });
  options.log?.(`${new Date().toISOString()} af run ${escapeLine(args.name)} (handed over by pid ${Number(request.pid) || '?'}) exit ${status} ${(performance.now() - started).toFixed(1)} ms run=${scope.runId ?? '-'} tenant=${escapeLine(args.tenant ?? 'default')}`);
}

function readRequest(connection: net.Socket): Promise<HandoffRequest | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (value: HandoffRequest | undefined) => {
      connection.removeAllListeners('data');
      resolve(value);
    };
    connection.on('data', (chunk: Buffer) => {
      const newline = chunk.indexOf(10);
      chunks.push(newline >= 0 ? chunk.subarray(0, newline) : chunk);
      size += chunk.length;
      if (newline >= 0) {
        try {
          done(JSON.parse(Buffer.concat(chunks).toString('utf8')) as HandoffRequest);
        } catch {
          done(undefined);
        }
      } else if (size > MAX_REQUEST_BYTES) done(undefined);
    });
    connection.once('end', () => done(undefined));
    connection.once('error', () => done(undefined));
  });
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // not there
  }
}
