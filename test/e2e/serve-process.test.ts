// `af serve` as a real process started the way pm2, systemd or a shell script start it (`node bin/af.js serve`),
// stopped with a real `kill PID`: the port must close and no process (launcher, server, sandbox host) may be left.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAf } from '../helpers/cli.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

const AF = path.resolve(import.meta.dirname, '../../bin/af.js');

let project: TempProject;
let apiKey: string;

beforeAll(async () => {
  project = createProject(simpleTemplate('echo', { description: 'returns its input' }));
  const created = await runAf(project.root, ['keys', 'api', 'create', '--tenant', 'acme', '--role', 'operator', '--json']);
  expect(created.status).toBe(0);
  apiKey = JSON.parse(created.stdout).key;
});
afterAll(() => project.remove());

interface Served {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `node bin/af.js serve --port 0 --json ...extra`, without --no-node-snapshot, as `npm start`, pm2 or a unit file would. */
async function serve(extra: string[] = []): Promise<Served> {
  const child = spawn(process.execPath, [AF, 'serve', '--port', '0', '--json', ...extra], {
    cwd: project.root,
    env: { PATH: process.env.PATH ?? '', NO_COLOR: '1', AF_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line).url);
    });
    void exited.then(() => reject(new Error(`af serve exited before listening:\n${stderr}`)));
  });
  return { child, url, stderr: () => stderr, exited };
}

/** Every live descendant of `pid` (from /proc), so the test sees the sandbox hosts a server started. */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces): state, ppid, ...
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state !== 'Z') parentOf.set(Number(entry), Number(ppid));
    } catch {
      // The process ended while we looked.
    }
  }
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const [child, ppid] of parentOf) {
      if (ppid !== parent) continue;
      found.push(child);
      walk(child);
    }
  };
  walk(pid);
  return found;
}

function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function portAcceptsConnections(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function runEcho(url: string, query = ''): Promise<Response> {
  return fetch(`${url}/v1/agents/echo/runs${query}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ input: { hi: 1 } }),
  });
}

describe('af serve started as `node bin/af.js serve`, stopped by PID', () => {
  it.each(['SIGTERM', 'SIGINT', 'SIGHUP'] as const)('kill -%s PID closes the port and leaves no process behind', async (signal) => {
    const served = await serve();
    // A run starts the sandbox hosts, so there are child processes that must go too.
    expect((await runEcho(served.url)).status).toBe(200);
    const family = [served.child.pid as number, ...descendants(served.child.pid as number)];
    expect(family.length).toBeGreaterThan(1);

    process.kill(served.child.pid as number, signal);
    expect(await served.exited).toEqual({ code: 0, signal: null });
    expect(served.stderr()).toContain(`${signal}: stopping`);
    expect(served.stderr()).toContain(`${signal}: stopped`);
    expect(await portAcceptsConnections(served.url)).toBe(false);
    expect(family.filter(isAlive)).toEqual([]);
  });
});

describe('af serve request log', () => {
  it('prints one line per request (method, path, status, ms, tenant) and never the API key', async () => {
    const served = await serve();
    expect((await runEcho(served.url, `?api_key=${apiKey}`)).status).toBe(200);
    expect((await fetch(`${served.url}/v1/runs`, { headers: { authorization: 'Bearer afk_wrong_key' } })).status).toBe(401);
    process.kill(served.child.pid as number, 'SIGTERM');
    await served.exited;
    const lines = served.stderr().split('\n');
    expect(lines.find((l) => l.includes(' POST /v1/agents/echo/runs '))).toMatch(/^\d{4}-\d\d-\d\dT\S+Z POST \/v1\/agents\/echo\/runs 200 \d+\.\d ms tenant=acme$/);
    expect(lines.find((l) => l.includes(' GET /v1/runs '))).toMatch(/ GET \/v1\/runs 401 \d+\.\d ms tenant=-$/);
    expect(served.stderr()).not.toContain(apiKey);
    expect(served.stderr()).not.toContain('afk_wrong_key');
  });

  it('--quiet prints no request lines, but still the start and the stop', async () => {
    const served = await serve(['--quiet']);
    expect((await runEcho(served.url)).status).toBe(200);
    process.kill(served.child.pid as number, 'SIGTERM');
    await served.exited;
    expect(served.stderr()).toContain('serving the API on');
    expect(served.stderr()).toContain('SIGTERM: stopped');
    expect(served.stderr()).not.toContain('/v1/agents/echo/runs 200');
  });
});
