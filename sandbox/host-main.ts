/** @module sandbox/host-main — entry of a sandbox host process: runs the engine and answers its supervisor over IPC. */
// First: the marks of AF_STARTUP_TRACE=1 (nothing when off); imports are evaluated in order.
import { traceMark } from '../core/startup-trace.js';
import { systemClock } from '../core/clock.js';
import { isErrorCode } from '../core/errors.js';
import { silentLogger } from '../core/logger.js';
import { SandboxEngine } from './engine.js';
import type { EngineServices } from './host-tools.js';
import { ToolError } from './permissions.js';
import { MessageBatcher } from './message-batcher.js';
import type { FromHost, HostSettings, ServiceRequest, ToHost } from './protocol.js';

traceMark('host: node started', 0);
traceMark('host: modules loaded');

if (typeof process.send !== 'function') {
  process.stderr.write('sandbox/host-main must be started by the sandbox supervisor (child_process.fork)\n');
  process.exit(2);
}

const outbox = new MessageBatcher<FromHost>(
  (message) => {
    if (process.connected) process.send?.(message);
  },
  // Capacity rides along with whatever else is written this turn (results, under load), never a write of its own then.
  () => capacityReport(),
);
const send = (message: FromHost): void => outbox.push(message);

interface PendingService {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

const pendingServices = new Map<number, PendingService>();
let serviceSeq = 0;

/**
 * Every capability tool lives in the calling process; each call is a message there and back. The supervisor answers
 * every call, and stops the pending ones of a run itself when the run ends, so nothing here waits on a signal.
 */
function service(request: ServiceRequest): Promise<unknown> {
  const id = ++serviceSeq;
  return new Promise((resolve, reject) => {
    pendingServices.set(id, { resolve, reject });
    // The run waits on the answer: the call goes out this turn, not after the next poll of the event loop.
    outbox.pushNow({ t: 'svc', id, request });
  });
}

// Only the run id says who is calling: the supervisor derives every scope and grant from its own record.
const services: EngineServices = {
  tool: (caller, tool, args) => service({ op: 'tool', run: caller.runId, tool, args }) as Promise<string>,
  onDenial: (denial) => send({ t: 'denial', run: denial.runId, template: denial.template, permission: denial.permission, target: denial.target, grantKey: denial.grantKey }),
};

let engine: SandboxEngine | undefined;
const runs = new Map<number, AbortController>();
const dirty = new Set<string>();
/** The count last reported per template: a count back where it was by the time of a write (a reused context taken and given back) is not sent again. */
const reported = new Map<string, number>();
const CAPACITY_FLUSH_MS = 2;
let capacityTimer: NodeJS.Timeout | undefined;

function capacityReport(): FromHost | undefined {
  if (!engine || dirty.size === 0) return undefined;
  let ready: Record<string, number> | undefined;
  for (const digest of dirty) {
    const count = engine.ready(digest);
    if (reported.get(digest) === count) continue;
    reported.set(digest, count);
    (ready ??= {})[digest] = count;
  }
  dirty.clear();
  return ready === undefined ? undefined : { t: 'capacity', ready };
}

function start(settings: HostSettings): void {
  engine = new SandboxEngine({
    services,
    clock: systemClock,
    logger: silentLogger,
    maxIsolatesPerPool: settings.maxIsolatesPerPool,
    isolateMaxRuns: settings.isolateMaxRuns,
    heapProbeEvery: settings.heapProbeEvery,
    onCatastrophicError(message, runId, loading) {
      // V8 has lost the isolate; nothing in this process can be trusted. The supervisor restarts the host, and
      // needs to know whose run it was (the others in flight are lost through no fault of their own).
      process.stderr.write(`sandbox host: catastrophic isolate error: ${message}\n`);
      const rssMb = Math.round(process.memoryUsage.rss() / 1048576);
      // Loading ahead of demand: no run in flight caused it.
      reportMemoryAndExit({ t: 'memory', rssMb, fatal: true, ...(runId !== undefined ? { culprit: runId } : { noneToBlame: true, ...(loading !== undefined ? { loading } : {}) }) }, true);
    },
    onCapacity(digest) {
      dirty.add(digest);
      if (capacityTimer === undefined) {
        // Coalesced: a report waits up to CAPACITY_FLUSH_MS unless a result is written first and carries it.
        capacityTimer = setTimeout(() => {
          capacityTimer = undefined;
          if (dirty.size > 0) outbox.schedule();
        }, CAPACITY_FLUSH_MS);
      }
    },
  });
  if (settings.hostMemoryMb > 0) watchMemory(settings.hostMemoryMb);
  send({ t: 'ready' });
  traceMark('host: init done, ready sent');
}

const MEMORY_POLL_MS = 50;
/** How long a stopped run's memory gets to go back to the system before the host gives up and exits. */
const SHED_SETTLE_MS = 200;
/** Past this multiple of the cap there is no time to shed: exit at once. */
const HARD_CAP_FACTOR = 1.5;
/**
 * After a run was stopped, memory must come back under this share of the cap, or the host exits: memory that does not
 * come back (WebAssembly memory was measured staying resident after its isolate was disposed) would otherwise push
 * the next innocent run over the cap and get it blamed.
 */
const SHED_LOW_WATER = 0.8;
let exiting = false;

/**
 * The host's resident-memory cap (WebAssembly memory and V8's overshoot of limits.memoryMb are bounded only here).
 * Past it, the run most likely behind the growth is stopped with E_MEMORY_LIMIT and the host keeps serving the
 * others; if memory does not come back, the host exits naming that run, so the supervisor reports the others as
 * lost to another run instead of blaming each of them.
 */
function watchMemory(capMb: number): void {
  const cap = capMb * 1024 * 1024;
  let shedding = false;
  const timer = setInterval(() => {
    if (shedding || exiting || !engine) return;
    const rss = process.memoryUsage.rss();
    if (rss <= cap) return;
    const rssMb = Math.round(rss / 1048576);
    if (rss > cap * HARD_CAP_FACTOR) {
      reportMemoryAndExit({ t: 'memory', rssMb, fatal: false });
      return;
    }
    shedding = true;
    const current = engine;
    void current.heaviestRun().then((culprit) => {
      const stopped =
        culprit !== undefined &&
        current.stopRun(culprit, {
          code: 'E_MEMORY_LIMIT',
          message: `the run took its sandbox host past its memory cap (hostMemoryMb ${capMb} MB, at ${rssMb} MB) and was stopped; WebAssembly and V8's overshoot of limits.memoryMb count here. Use less memory`,
          details: { limit: 'hostMemoryMb', limitMb: capMb, rssMb },
        });
      setTimeout(() => {
        shedding = false;
        const after = process.memoryUsage.rss();
        if (after <= cap * SHED_LOW_WATER) return;
        // A run stopped already answered for the growth: the runs left in flight are not to blame.
        reportMemoryAndExit({ t: 'memory', rssMb: Math.round(after / 1048576), fatal: false, ...(stopped || culprit === undefined ? { noneToBlame: true } : { culprit }) });
      }, stopped ? SHED_SETTLE_MS : 0).unref();
    });
  }, MEMORY_POLL_MS);
  timer.unref();
}

/** Tells the supervisor why this host is going (and whom to blame), then goes. */
function reportMemoryAndExit(message: Extract<FromHost, { t: 'memory' }>, abort = false): void {
  if (exiting) return;
  exiting = true;
  outbox.push(message);
  outbox.flush();
  // The IPC write is asynchronous: give it a moment. The supervisor kills this host when the message arrives.
  setTimeout(() => (abort ? process.abort() : process.exit(70)), 100);
}

process.on('message', (raw: unknown) => {
  const message = raw as ToHost;
  if (message.t === 'batch') for (const one of message.m) onMessage(one);
  else onMessage(message);
});

function onMessage(message: ToHost): void {
  switch (message.t) {
    case 'init':
      start(message.settings);
      break;
    case 'register':
      engine?.register(message.spec, message.ahead === false ? { ahead: false } : {});
      break;
    case 'run': {
      if (!engine) return;
      traceMark('host: run received');
      const controller = new AbortController();
      runs.set(message.id, controller);
      void engine
        .run(message.digest, message.input, { runId: message.id, tenant: message.tenant, env: message.env, depth: message.depth, envValues: message.envValues, limits: message.limits }, controller.signal)
        .then((result) => {
          runs.delete(message.id);
          traceMark('host: result sent');
          send({ t: 'result', id: message.id, result });
        });
      break;
    }
    case 'cancel':
      runs.get(message.id)?.abort();
      break;
    case 'svc-result': {
      const pending = pendingServices.get(message.id);
      if (!pending) return;
      pendingServices.delete(message.id);
      if (message.ok) pending.resolve(message.value);
      else pending.reject(new ToolError(isErrorCode(message.error.code) ? message.error.code : 'E_INTERNAL', message.error.message, message.error.name));
      break;
    }
    case 'close':
      traceMark('host: close received');
      engine?.close();
      traceMark('host: engine closed, exiting');
      process.exit(0);
  }
}

process.on('disconnect', () => {
  // The supervisor is gone: nobody can receive results, so stop at once.
  engine?.close();
  process.exit(0);
});
