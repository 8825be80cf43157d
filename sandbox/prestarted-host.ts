/** @module sandbox/prestarted-host — how a sandbox host is forked, and one host forked before its supervisor exists (a one-shot `af run` starts it first), adopted by the supervisor whose launch is the same. */
import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startupTraceOn, traceMark } from '../core/startup-trace.js';
import { hostLaunch, type LayerSupport, type LockdownLayer } from './lockdown.js';
import { HOST_V8_FLAGS } from './isolate-library.js';

/**
 * Where the compiled host entry is: beside this module when running from `dist/`, else
 * `<package root>/dist/sandbox/host-main.js` (tests run the TypeScript sources; `npm test` builds first). Its bundle,
 * `bundle/host-main.js` there (scripts/build-cli-bundle.mjs), when it was built: the same code, faster to start.
 */
export function locateHostEntry(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const sibling of [path.join(here, 'bundle', 'host-main.js'), path.join(here, 'host-main.js')]) if (existsSync(sibling)) return sibling;
  let dir = here;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('sandbox: cannot find package.json above ' + here + ' to locate dist/sandbox/host-main.js');
    dir = up;
  }
  const bundled = path.join(dir, 'dist', 'sandbox', 'bundle', 'host-main.js');
  if (existsSync(bundled)) return bundled;
  const built = path.join(dir, 'dist', 'sandbox', 'host-main.js');
  if (!existsSync(built)) throw new Error(`sandbox: ${built} is missing; run \`node scripts/build.mjs\` first`);
  return built;
}

/** Everything a host's fork depends on. */
export interface HostForkPlan {
  entry: string;
  execPath: string;
  execArgv: string[];
  env: Record<string, string>;
  layers: LockdownLayer[];
}

/** The host's descriptor for the marks of AF_STARTUP_TRACE=1 (0-3 are stdin, stdout, stderr, IPC). */
const TRACE_FD = 4;

/** The fork of a host, locked down as `support` allows (lockdown `auto`) or not at all (`off`). */
export function hostForkPlan(entry: string, hostMemoryMb: number, lockdown: 'auto' | 'off', support: readonly LayerSupport[]): HostForkPlan {
  // --no-harmony-rab-gsab where V8 still has it: resizable ArrayBuffers are allocated outside isolated-vm's memory limit (prelude.ts).
  const execArgv = ['--no-node-snapshot', ...HOST_V8_FLAGS];
  const launch = lockdown === 'auto' ? hostLaunch({ entry, hostMemoryMb, execArgv }, support) : { execPath: process.execPath, execArgv, layers: [] };
  // Hosts see no secrets: allowlisted env values reach them with the runs of templates granted them, and no others.
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', TZ: process.env.TZ ?? '', LANG: process.env.LANG ?? '' };
  // AF_STARTUP_TRACE=1 (core/startup-trace): the host marks its start-up too, on this process's clock.
  if (startupTraceOn) Object.assign(env, { AF_STARTUP_TRACE: '1', AF_STARTUP_TRACE_ORIGIN: String(performance.timeOrigin), AF_STARTUP_TRACE_FD: String(TRACE_FD) });
  return { entry, execPath: launch.execPath, execArgv: launch.execArgv, env, layers: launch.layers };
}

export function forkHost(plan: HostForkPlan): ChildProcess {
  traceMark('cli: host forked');
  return fork(plan.entry, [], {
    execPath: plan.execPath,
    execArgv: plan.execArgv,
    // JSON, not 'advanced': every message is plain data, and for these small messages JSON costs the caller and
    // the host less CPU per run (measured: reused-context runs 47-68 µs vs 96-114 µs in the caller).
    serialization: 'json',
    // Traced, the host writes its marks to this process's stderr, passed as its descriptor 4 (its own stderr stays
    // the supervisor's, for crash reports).
    stdio: ['ignore', 'ignore', 'pipe', 'ipc', ...(plan.env.AF_STARTUP_TRACE === '1' ? [2] : [])],
    env: plan.env,
  });
}

/**
 * The host forked and not yet adopted, kept on the process (not in this module): bin/af.js forks it from its own
 * CommonJS build of this module (dist/cli-bundle/prestart.cjs), before the bundled CLI that adopts it is loaded.
 */
const SLOT = Symbol.for('agent-factory.prestarted-host');
type Slot = { waiting?: { key: string; child: ChildProcess } };
const slot: Slot = ((globalThis as Record<symbol, Slot | undefined>)[SLOT] ??= {});

const keyOf = (plan: HostForkPlan): string => JSON.stringify([plan.entry, plan.execPath, plan.execArgv, plan.env, plan.layers]);

/**
 * Forks a host now, for the next supervisor to adopt: its Node and isolated-vm then start while the caller still
 * opens the store and resolves the template (the host's start is most of a one-shot run's time). The host waits for
 * its `init` like any other; it holds nothing of the caller's. Not adopted, it is killed by {@link discardPrestartedHost}
 * (and exits by itself when this process goes: its IPC channel closes).
 */
export function prestartHost(plan: HostForkPlan): void {
  // Already forked this way (the CLI's entry forks before its command code runs, which asks again): keep it.
  const { waiting } = slot;
  if (waiting && waiting.key === keyOf(plan) && waiting.child.exitCode === null && waiting.child.signalCode === null) return;
  discardPrestartedHost();
  const child = forkHost(plan);
  // Until adopted, it must not keep this process alive.
  child.unref();
  child.channel?.unref();
  (child.stderr as { unref?: () => void } | null)?.unref?.();
  slot.waiting = { key: keyOf(plan), child };
}

/** The prestarted host when it was forked exactly as `plan` says and is still alive; otherwise undefined (and it is killed). */
export function adoptPrestartedHost(plan: HostForkPlan): ChildProcess | undefined {
  const candidate = slot.waiting;
  slot.waiting = undefined;
  if (!candidate) return undefined;
  const { child } = candidate;
  if (candidate.key === keyOf(plan) && child.exitCode === null && child.signalCode === null && child.connected) {
    child.ref();
    child.channel?.ref();
    (child.stderr as { ref?: () => void } | null)?.ref?.();
    return child;
  }
  child.kill('SIGKILL');
  return undefined;
}

/** Kills a prestarted host no supervisor adopted. */
export function discardPrestartedHost(): void {
  const candidate = slot.waiting;
  slot.waiting = undefined;
  candidate?.child.kill('SIGKILL');
}
