// A fleet on one PostgreSQL store, as real processes: `af serve` queues runs, two `af runner` processes run them, and
// each stops cleanly on SIGTERM with its counts.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../store/postgres/postgres-store.js';
import { runAf } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

const AF = path.resolve(import.meta.dirname, '../../bin/af.js');
const COUNTER = `export default async (input, ctx) => {
  const n = ((await ctx.kv.get('n')) ?? 0) + 1;
  await ctx.kv.set('n', n);
  return { n };
};
`;

let project: TempProject;
let database: TestDatabase;
let apiKey: string;

beforeAll(async () => {
  project = createProject(simpleTemplate('counter', { permissions: { kv: true } }, COUNTER));
  database = await createTestDatabase();
  const created = await runAf(project.root, ['--store', database.url, 'keys', 'api', 'create', '--tenant', 'acme', '--role', 'operator', '--json']);
  expect(created.status).toBe(0);
  apiKey = JSON.parse(created.stdout).key;
});

afterAll(async () => {
  project.remove();
  await database.drop();
});

interface Started {
  child: ChildProcess;
  firstLine: Promise<Record<string, unknown>>;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** `node bin/af.js --store URL <args> --json`, printing one JSON line when ready. */
function start(args: string[]): Started {
  const child = spawn(process.execPath, [AF, '--store', database.url, ...args, '--json'], {
    cwd: project.root,
    env: { PATH: process.env.PATH ?? '', NO_COLOR: '1', AF_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const firstLine = new Promise<Record<string, unknown>>((resolve, reject) => {
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line) as Record<string, unknown>);
    });
    void exited.then(() => reject(new Error(`af ${args[0]} exited before it was ready:\n${stderr}`)));
  });
  return { child, firstLine, stdout: () => stdout, stderr: () => stderr, exited };
}

describe('af serve and af runner on one PostgreSQL store', () => {
  it('serves runs through the queue to two runner processes: each run once, the kv counter exact, clean stops', async () => {
    const runners = [start(['runner', '--concurrency', '2', '--metrics-port', '0']), start(['runner', '--concurrency', '2'])];
    const server = start(['serve', '--port', '0', '--quiet']);
    try {
      const names = await Promise.all(runners.map(async (runner) => (await runner.firstLine).runner));
      expect(new Set(names).size).toBe(2);
      const { url } = (await server.firstLine) as { url: string };
      // Printed just after the JSON line.
      for (let i = 0; i < 100 && !server.stderr().includes('runs are queued'); i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(server.stderr()).toContain('runs are queued in postgres://postgres:***@');
      const responses = await Promise.all(
        Array.from({ length: 24 }, () =>
          fetch(`${url}/v1/agents/counter/runs`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ input: null }) }),
        ),
      );
      const bodies = (await Promise.all(responses.map((response) => response.json()))) as Array<{ runId: string; output: { n: number } }>;
      expect(responses.map((response) => response.status)).toEqual(new Array(24).fill(200));
      expect(bodies.map((body) => body.output.n).sort((a, b) => a - b)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
      // The first runner's metrics: what it did, and the queue's depth read at the scrape.
      const { metrics } = (await runners[0]?.firstLine) as { metrics: string };
      const scraped = await (await fetch(metrics)).text();
      expect(scraped).toMatch(/^af_queue_runs_total\{outcome="completed",otel_scope_name="agent-factory"\} \d+$/m);
      expect(scraped).toContain('af_queue_depth{state="queued",otel_scope_name="agent-factory"} 0');
      expect(scraped).toContain('af_queue_claim_duration_count');
      // The run is readable by its id through the API once it answered.
      const one = await fetch(`${url}/v1/runs/${bodies[0]?.runId}`, { headers: { authorization: `Bearer ${apiKey}` } });
      expect(one.status).toBe(200);
    } finally {
      server.child.kill('SIGTERM');
      for (const runner of runners) runner.child.kill('SIGTERM');
    }
    expect(await server.exited).toBe(0);
    const counts = await Promise.all(
      runners.map(async (runner) => {
        expect(await runner.exited).toBe(0);
        const lines = runner.stdout().trim().split('\n');
        return JSON.parse(lines[lines.length - 1] as string) as { completed: number; fenced: number };
      }),
    );
    expect(counts.reduce((sum, count) => sum + count.completed, 0)).toBe(24);
    const store = await PostgresStore.open({ url: database.url, migrate: false });
    try {
      expect(await store.kv.get({ template: 'counter', tenant: 'acme' }, 'n')).toBe('24');
      expect(await store.queries.count()).toBe(24);
      expect(await store.queue.depth()).toEqual({ queued: 0, running: 0 });
    } finally {
      await store.close();
    }
  });
});
