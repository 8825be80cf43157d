// Scenario 6: memory per idle pooled agent. RSS of this process plus every sandbox host process (read from
// /proc/<pid>/status VmRSS; the supervisor does not expose host pids, so hosts are found as descendants of this
// process), before and after creating N agents and leaving them idle. Also what one context kept ready in a
// host's pool costs, since that is where an agent's memory actually lives until it runs.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import { createFactory } from '../dist/index.js';
import { metric, runStandalone, summarise } from './lib/measure.mjs';
import { createBenchProject } from './lib/project.mjs';

const POOLED_TEMPLATES = 6;

export default async function bench({ quick = false } = {}) {
  if (!canReadProc()) {
    return { name: 'memory', title: 'Memory: idle pooled agents', metrics: [], skipped: 'no /proc/<pid>/status here (Linux only)' };
  }
  const agents = quick ? 200 : 1000;
  const rounds = quick ? 1 : 3;
  const templates = { idle: { manifest: { pool: { prewarm: 1 } }, source: 'export default (input) => input;\n' } };
  for (let i = 0; i < POOLED_TEMPLATES; i++) {
    // Distinct sources, so each is its own template with its own pool of ready contexts.
    templates[`pooled-${i}`] = { manifest: { pool: { prewarm: 8 } }, source: `export default (input) => ({ template: ${i}, input });\n` };
  }
  const project = createBenchProject(templates);
  const gc = exposeGc();
  const perAgent = [];
  const perAgentHeap = [];
  const perContext = [];
  const idleTotals = [];
  let hostsSeen = 0;
  let processes = 0;
  try {
    for (let round = 0; round < rounds; round++) {
      const factory = await createFactory({ root: project.root, store: false, prewarm: ['idle'] });
      try {
        await settle(factory, gc);
        const before = footprint();
        processes = before.hosts.length;
        hostsSeen = factory.sandboxStats().hosts;
        idleTotals.push(before.totalKb / 1024);
        const heapBefore = process.memoryUsage().heapUsed;

        const created = [];
        for (let i = 0; i < agents; i++) created.push(await factory.createAgent('idle'));
        await settle(factory, gc);
        const after = footprint();
        perAgent.push((after.totalKb - before.totalKb) / agents);
        perAgentHeap.push((process.memoryUsage().heapUsed - heapBefore) / 1024 / agents);
        for (const agent of created) await agent.dispose();

        // Pooled contexts: register templates that keep 8 contexts ready per host, wait until they are ready.
        await settle(factory, gc);
        const beforePools = footprint();
        const readyBefore = readyContexts(factory);
        for (let i = 0; i < POOLED_TEMPLATES; i++) await (await factory.createAgent(`pooled-${i}`)).dispose();
        await waitForReady(factory, readyBefore + POOLED_TEMPLATES * 8 * factory.sandboxStats().hosts);
        await settle(factory, gc);
        const added = readyContexts(factory) - readyBefore;
        const afterPools = footprint();
        if (added > 0) perContext.push((hostsKb(afterPools) - hostsKb(beforePools)) / added);
      } finally {
        await factory.close();
      }
    }
  } finally {
    rmSync(project.root, { recursive: true, force: true });
  }

  return {
    name: 'memory',
    title: 'Memory: idle pooled agents and ready contexts (process isolation)',
    metrics: [
      metric(`RSS per idle agent (caller + ${processes} child processes, ${agents} agents)`, 'KB', { ...summarise(perAgent), n: perAgent.length }),
      metric('JS heap per idle agent in the caller', 'KB', { ...summarise(perAgentHeap), n: perAgentHeap.length }),
      metric('host RSS per context kept ready in a pool', 'KB', { ...summarise(perContext), n: perContext.length }),
      metric(`idle factory footprint: caller + ${processes} child processes (${hostsSeen} sandbox hosts), one template warm`, 'MB', { ...summarise(idleTotals), n: idleTotals.length }),
    ],
    notes: [
      `Each of ${rounds} round(s) starts a factory (store off), lets it settle, forces a GC, reads VmRSS of this process and of every descendant process, creates ${agents} agents of one template and leaves them idle, and reads again; the figure is the difference ÷ ${agents}. Percentiles are over rounds (median of ${rounds}).`,
      'An idle agent holds a reservation in the caller (no IPC, no context of its own); the context it will run in is one the host keeps ready, so the per-context row is the memory the pool holds per unit of readiness.',
      `Per context: ${POOLED_TEMPLATES} templates with pool.prewarm 8 registered, host RSS difference ÷ the contexts the sandbox reports ready (factory.sandboxStats()).`,
      'Child processes are the sandbox hosts plus any helper the caller started (esbuild\'s service process). The caller figure includes everything else this benchmark process holds; RSS does not shrink when V8 frees memory, so a figure can read low after earlier allocations were returned to the heap.',
    ],
  };
}

function canReadProc() {
  try {
    readFileSync(`/proc/${process.pid}/status`, 'utf8');
    return true;
  } catch {
    return false;
  }
}

function exposeGc() {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc');
}

async function settle(factory, gc) {
  await sleep(300);
  gc();
  await sleep(100);
}

function readyContexts(factory) {
  return factory.sandboxStats().pools.reduce((sum, pool) => sum + pool.ready, 0);
}

async function waitForReady(factory, want) {
  const deadline = performance.now() + 5_000;
  while (readyContexts(factory) < want && performance.now() < deadline) await sleep(50);
}

function rssKb(pid) {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0; // exited between listing and reading
  }
}

/** This process and all its descendants (the sandbox hosts), found by parent pid in /proc/<pid>/stat. */
function footprint() {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Field 4 is the parent pid; field 2 (comm) may contain spaces, so read after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch {
      // gone already
    }
  }
  const hosts = [];
  const queue = [...(children.get(process.pid) ?? [])];
  while (queue.length > 0) {
    const pid = queue.shift();
    hosts.push({ pid, kb: rssKb(pid) });
    queue.push(...(children.get(pid) ?? []));
  }
  const callerKb = rssKb(process.pid);
  return { callerKb, hosts, totalKb: callerKb + hosts.reduce((sum, h) => sum + h.kb, 0) };
}

function hostsKb(snapshot) {
  return snapshot.hosts.reduce((sum, h) => sum + h.kb, 0);
}

await runStandalone(import.meta.url, bench);
