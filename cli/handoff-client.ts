/** @module cli/handoff-client — `af run` hands its command line to a running `af serve` of the same project when there is one, and prints what it answers. */
// Also built on its own as dist/cli-bundle/handoff.cjs (scripts/build-cli-bundle.mjs), which bin/af.js loads before
// anything else of the CLI: keep its imports to Node's modules and these few small ones.
import { lstatSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';
import { resolveConfig } from '../core/config.js';
import { traceMark } from '../core/startup-trace.js';
import { type HandoffArgs, parseHandoffArgs } from './handoff-args.js';
import { HANDOFF_FILE, type HandoffAnswer, type HandoffFile, type HandoffRequest } from './handoff-protocol.js';
import type { CliStreams } from './io.js';

/** How long connecting to a server may take before the run goes on here. */
const CONNECT_TIMEOUT_MS = 1_000;

/**
 * Handed over: the exit status. Not: the streams the local command reads (stdin replayed if it was read here). Lost:
 * sent, and the server (this pid) went away before answering (cli/run-here reports it).
 */
export type HandoffOutcome = { status: number } | { streams: CliStreams } | { lost: number; streams: CliStreams };

/**
 * Runs `af run …` through the project's `af serve` when one is running and the command line is one it runs as this
 * process would (see handoff-args and the checks in commands/run.ts); otherwise leaves it to run here, silently.
 * `AF_NO_HANDOFF=1` always runs here. The output and exit status are the server's run of the same command.
 */
export async function handOff(argv: readonly string[], streams: CliStreams): Promise<HandoffOutcome> {
  const local = { streams };
  const args = parseHandoffArgs(argv);
  if (!args || streams.env.AF_NO_HANDOFF === '1' || Object.keys(streams.env).some((name) => name.startsWith('OTEL_'))) return local;
  const outcome = await tryServer(argv, args, streams);
  traceMark('status' in outcome ? 'cli: answer from af serve' : 'cli: hand-off checked, runs here');
  return outcome;
}

async function tryServer(argv: readonly string[], args: HandoffArgs, streams: CliStreams): Promise<HandoffOutcome> {
  const local = { streams };
  let config;
  try {
    config = resolveConfig({
      root: args.root ?? streams.env.AF_ROOT ?? streams.cwd,
      ...(args.globalEnv !== undefined ? { env: args.globalEnv } : {}),
      ...(args.store !== undefined ? { store: args.store } : {}),
      processEnv: streams.env,
    });
  } catch {
    return local;
  }
  const file = path.join(config.home, HANDOFF_FILE);
  const server = findServer(file);
  if (!server || server.root !== config.root || server.home !== config.home || server.store !== config.store || server.env !== (args.env ?? config.env)) return local;
  // The request carries this process's environment and stdin: it goes only to a socket this user's own server made.
  // A serve.json someone else could have written (a checkout's, a shared folder's), or one naming a socket that is not
  // this user's alone, is not followed.
  const untrusted = notPrivate(file, 'file') ?? notPrivate(server.socket, 'socket');
  if (untrusted !== undefined) {
    if (streams.env.AF_DEBUG) streams.stderr.write(`af: running here, not through af serve: ${untrusted}\n`);
    return local;
  }
  const connection = await connect(server.socket);
  if (!connection) return local;
  let stdin: string | null = null;
  if (args.input === undefined && args.inputFile === undefined && !streams.stdin.isTTY) stdin = await readAll(streams.stdin);
  // A run the server declines runs here, reading the stdin this process already read.
  const replayed: CliStreams = stdin === null ? streams : { ...streams, stdin: Object.assign(Readable.from([stdin]), { isTTY: false }) };
  const request: HandoffRequest = {
    token: server.token,
    pid: process.pid,
    argv: [...argv],
    cwd: streams.cwd,
    env: streams.env,
    stdin,
    tty: { stdout: streams.stdout.isTTY === true, stderr: streams.stderr.isTTY === true },
    ...(streams.stdout.columns !== undefined ? { columns: streams.stdout.columns } : {}),
  };
  const answer = await exchange(connection, request);
  if (answer === undefined) {
    // Sent, and no answer: the server went away during the run, which may have happened. Running it again here could
    // run it twice, so this is reported instead (by the caller: the error printing is the full CLI's).
    return { lost: server.pid, streams };
  }
  if (answer.t !== 'done') {
    if (streams.env.AF_DEBUG) streams.stderr.write(`af: running here, not through af serve (pid ${server.pid}): ${answer.reason}\n`);
    return { streams: replayed };
  }
  for (const [fd, text] of answer.out) (fd === 1 ? streams.stdout : streams.stderr).write(text);
  return { status: answer.status };
}

/** The server `.af/serve.json` names, when it is well formed and its process is alive. */
function findServer(file: string): HandoffFile | undefined {
  let found: HandoffFile;
  try {
    found = JSON.parse(readFileSync(file, 'utf8')) as HandoffFile;
  } catch {
    return undefined;
  }
  if (found?.v !== 1 || !Number.isInteger(found.pid) || typeof found.socket !== 'string' || typeof found.token !== 'string') return undefined;
  try {
    process.kill(found.pid, 0);
  } catch {
    // No such process (a server that did not stop cleanly), or another user's.
    return undefined;
  }
  return found;
}

/**
 * Why `target` is not this user's alone (not a plain file or socket itself — a symlink is not followed —, owned by
 * another user, or open to group or others), or undefined when it is. What `af serve` makes passes: 0600, its own.
 */
function notPrivate(target: string, kind: 'file' | 'socket'): string | undefined {
  let info;
  try {
    info = lstatSync(target);
  } catch {
    return `${target} is missing`;
  }
  if (kind === 'file' ? !info.isFile() : !info.isSocket()) return `${target} is not a ${kind === 'file' ? 'regular file' : 'Unix socket'}`;
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (uid !== undefined && info.uid !== uid) return `${target} belongs to another user (uid ${info.uid})`;
  if ((info.mode & 0o077) !== 0) return `${target} is open to other users (mode ${(info.mode & 0o777).toString(8)}, not 600)`;
  return undefined;
}

function connect(socket: string): Promise<net.Socket | undefined> {
  return new Promise((resolve) => {
    const connection = net.createConnection(socket);
    const timer = setTimeout(() => {
      connection.destroy();
      resolve(undefined);
    }, CONNECT_TIMEOUT_MS);
    connection.once('connect', () => {
      clearTimeout(timer);
      resolve(connection);
    });
    connection.once('error', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
}

function exchange(connection: net.Socket, request: HandoffRequest): Promise<HandoffAnswer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    connection.on('data', (chunk: Buffer) => chunks.push(chunk));
    connection.once('error', () => resolve(undefined));
    connection.once('close', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as HandoffAnswer);
      } catch {
        resolve(undefined);
      }
    });
    connection.end(`${JSON.stringify(request)}\n`);
  });
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}
