/** @module sandbox/lockdown — what the operating system takes away from a sandbox host process: which layers this machine supports, and the command line that applies them. */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants as fsConstants, existsSync, lstatSync, mkdirSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { isolateLibrary } from './isolate-library.js';

/**
 * The layers, outermost last:
 * - `permission`: the Node permission model — reads only of the runtime's own code and isolated-vm, no writes, no
 *   child processes, no workers; addons allowed (isolated-vm is one).
 * - `network`: an empty network namespace; the host talks to its supervisor only over the inherited IPC pipe. As root,
 *   `unshare --net`; otherwise inside a new user namespace that maps only the current user (see `networkLayer`).
 * - `user`: started as root, the host runs as an unprivileged user, and never gains privileges (`no_new_privs`).
 * - `limits`: resource limits (address space, open files, processes) sized from the host's memory cap.
 */
export const LOCKDOWN_LAYERS = ['permission', 'network', 'user', 'limits'] as const;
export type LockdownLayer = (typeof LOCKDOWN_LAYERS)[number];

export interface LayerSupport {
  layer: LockdownLayer;
  /** Whether this machine can apply it. */
  available: boolean;
  /** Why not, or how it is applied. */
  reason: string;
  /** How the `network` layer gets its namespace: root's own right to make one, or a new user namespace. */
  via?: 'root' | 'user namespace';
  /** The launcher that applies the layer (`network`: the `unshare` command line the probe found working). */
  launcher?: readonly string[];
}

/** The uid and gid a host drops to when started as root: `nobody`. */
const UNPRIVILEGED_ID = 65534;
/**
 * Address space per MB of the host's memory cap. V8 reserves virtual space far beyond what it touches: each
 * WebAssembly memory reserves about 10 GB of guard regions (measured: 16 GB of address space allowed one memory at a
 * time, 64 GB six). The resident cap (hostMemoryMb, watched by the host) bounds real memory; this bounds mappings.
 */
const ADDRESS_SPACE_FACTOR = 256;
const ADDRESS_SPACE_FLOOR_MB = 64 * 1024;
const OPEN_FILES = 1024;
/** Counted per user (threads too): every host of one uid shares it. It bounds a fork bomb, not a host's own threads. */
const PROCESSES = 4096;

let cached: LayerSupport[] | undefined;

/**
 * What this machine supports, learnt once per process (a couple of `spawnSync` probes of a few ms, the first time a
 * supervisor starts; never on a run's path).
 */
export function lockdownSupport(): readonly LayerSupport[] {
  return (cached ??= detect());
}

/**
 * {@link lockdownSupport}, read from `file` when a probe on this very boot, kernel, user, Node and launcher binaries found
 * every layer available; otherwise probed (and written there when every layer is available). It saves a one-shot
 * `af run` the ~70 ms of `spawnSync` probes at each start.
 *
 * Why a cached answer cannot weaken a host: only an all-available answer is ever read back. Such an answer makes the
 * host launch apply every layer; were one no longer possible, its launcher fails and the host does not start (fail
 * closed, never a host with fewer layers). An answer with a layer missing, the only kind that takes a layer away, is
 * always probed afresh. The key (boot id, uid and gid, Node's path and version, PATH, the inode, size and mtime of each
 * launcher binary, the user-namespace sysctls) changes whenever what the probe saw could have changed, so the launcher
 * failing is itself unlikely. The file is only a hint: a forged one can at most claim every layer, which fails closed.
 */
export function cachedLockdownSupport(file: string): readonly LayerSupport[] {
  if (cached) return cached;
  const key = supportKey();
  try {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { key?: unknown; support?: LayerSupport[] };
    if (key !== undefined && saved.key === key && Array.isArray(saved.support) && sameLayers(saved.support)) return (cached = saved.support);
  } catch {
    // No cache yet, or unreadable: probe.
  }
  const support = lockdownSupport();
  if (key !== undefined && support.every((s) => s.available)) {
    try {
      mkdirSync(path.dirname(file), { recursive: true });
      const temp = `${file}.${process.pid}.tmp`;
      writeFileSync(temp, JSON.stringify({ key, support }), { mode: 0o600 });
      renameSync(temp, file);
    } catch {
      // A read-only state folder: the next start probes again.
    }
  }
  return support;
}

/**
 * Every layer, each available, in order, and a network launcher that is one the probe itself would have chosen:
 * the file names a command line that is run, so nothing else in it is ever taken.
 */
function sameLayers(support: readonly LayerSupport[]): boolean {
  if (!(support.length === LOCKDOWN_LAYERS.length && support.every((s, i) => s?.layer === LOCKDOWN_LAYERS[i] && s.available === true && typeof s.reason === 'string'))) return false;
  const launcher = JSON.stringify(support[1]?.launcher ?? null);
  return networkLaunchers().some((known) => JSON.stringify(known) === launcher);
}

/** What the probes depend on, hashed; undefined where there is no boot id to tie it to (not Linux). */
function supportKey(): string | undefined {
  const read = (file: string) => {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch {
      return '';
    }
  };
  const bootId = read('/proc/sys/kernel/random/boot_id');
  if (bootId === '') return undefined;
  const binaries = ['unshare', 'setpriv', 'prlimit'].map((command) => {
    const found = resolveCommand(command);
    try {
      const stat = statSync(found);
      return [found, stat.ino, stat.size, stat.mtimeMs];
    } catch {
      return [found, 'absent'];
    }
  });
  const sysctls = ['/proc/sys/user/max_user_namespaces', '/proc/sys/kernel/unprivileged_userns_clone', '/proc/sys/kernel/apparmor_restrict_unprivileged_userns'].map(read);
  const facts = [1, bootId, read('/proc/sys/kernel/osrelease'), process.getuid?.(), process.getgid?.(), process.execPath, process.versions.node, process.env.PATH ?? '', binaries, sysctls, runtimePaths()];
  return createHash('sha256').update(JSON.stringify(facts)).digest('hex');
}

/** @internal Tests only: forget what was learnt. */
export function resetLockdownSupportForTests(): void {
  cached = undefined;
}

function detect(): LayerSupport[] {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const major = Number(process.versions.node.split('.')[0]);
  const permission: LayerSupport =
    major >= 20
      ? { layer: 'permission', available: true, reason: `${permissionFlag()} with reads of the runtime and isolated-vm only, --allow-addons` }
      : { layer: 'permission', available: false, reason: `Node ${process.versions.node} has no permission model (Node 20+)` };
  const network = networkLayer(isRoot);
  let user: LayerSupport;
  const hasSetpriv = process.platform === 'linux' && probe('setpriv', ['--no-new-privs', 'true']);
  if (!hasSetpriv) user = { layer: 'user', available: false, reason: 'setpriv (util-linux) is not installed' };
  else if (!isRoot) user = { layer: 'user', available: true, reason: 'not root: already unprivileged; no_new_privs via setpriv' };
  else {
    const unreadable = runtimePaths().find((p) => !readableByOthers(p));
    user =
      unreadable === undefined
        ? { layer: 'user', available: true, reason: `setpriv: uid/gid ${UNPRIVILEGED_ID} (nobody), no supplementary groups, no_new_privs` }
        : { layer: 'user', available: false, reason: `the runtime's files are not readable by other users (${unreadable}), so an unprivileged host could not load them` };
  }
  const limits: LayerSupport = probe('prlimit', ['--nofile=64', 'true'])
    ? { layer: 'limits', available: true, reason: `prlimit: address space ${ADDRESS_SPACE_FACTOR}× hostMemoryMb (at least ${ADDRESS_SPACE_FLOOR_MB} MB), ${OPEN_FILES} open files, ${PROCESSES} processes` }
    : { layer: 'limits', available: false, reason: 'prlimit (util-linux) is not installed' };
  return [permission, network, user, limits];
}

/**
 * The empty network namespace. Root makes one directly. Anyone else makes a user namespace first (`unshare --user`),
 * mapping only their own uid and gid to themselves: the host keeps its identity (its files stay its own) and, its
 * uid not being 0 in that namespace, holds no capability there after exec. Mapping root instead would hand the host
 * every capability over what the namespace owns (mounts, its own network stack, nftables): nothing outside, but the
 * kernel code behind those capabilities is where unprivileged-user-namespace exploits live, so it is not done.
 */
function networkLayer(isRoot: boolean): LayerSupport {
  if (process.platform !== 'linux') return { layer: 'network', available: false, reason: 'network namespaces are Linux only' };
  if (isRoot) {
    return probe('unshare', ['--net', 'true'])
      ? { layer: 'network', available: true, via: 'root', launcher: ['unshare', '--net', '--'], reason: 'unshare --net: an empty network namespace' }
      : { layer: 'network', available: false, reason: 'unshare --net failed as root (util-linux missing, or no CAP_SYS_ADMIN in this container)' };
  }
  const uid = process.getuid?.() ?? -1;
  // The first form this util-linux knows (--map-current-user came in 2.38; --map-user before it). Without a map the
  // host shows as nobody inside, but keeps its own uid for every access check: only the owners it sees differ.
  let failure = '';
  for (const launcher of networkLaunchers().slice(1)) {
    const map = launcher.slice(2, -2);
    const outcome = attempt(launcher.slice(0, -1).concat('true'));
    if (outcome.ok) {
      const who = map.length > 0 ? `mapping uid ${uid} alone` : 'mapping no uid (util-linux too old to map one)';
      return { layer: 'network', available: true, via: 'user namespace', launcher, reason: `${launcher.slice(0, -1).join(' ')}: an empty network namespace in a user namespace ${who}, no capabilities` };
    }
    failure ||= outcome.error;
  }
  const why = failure.includes('ENOENT') ? 'unshare (util-linux) is not installed' : (userNamespaceBlocker() ?? `unshare --user --net failed (${failure})`);
  return { layer: 'network', available: false, reason: `not root, and no user namespace for it: ${why}` };
}

/** The network layer's launchers, root's first, then in the order a user tries them. */
function networkLaunchers(): string[][] {
  const uid = process.getuid?.() ?? -1;
  const gid = process.getgid?.() ?? -1;
  return [['unshare', '--net', '--'], ...[['--map-current-user'], [`--map-user=${uid}`, `--map-group=${gid}`], []].map((map) => ['unshare', '--user', ...map, '--net', '--'])];
}

/** Why this kernel refuses unprivileged user namespaces, when a known switch says so. */
function userNamespaceBlocker(): string | undefined {
  const read = (file: string) => {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  if (read('/proc/sys/user/max_user_namespaces') === '0') return 'user namespaces are switched off (sysctl user.max_user_namespaces = 0)';
  if (read('/proc/sys/kernel/unprivileged_userns_clone') === '0') return 'unprivileged user namespaces are switched off (sysctl kernel.unprivileged_userns_clone = 0)';
  if (read('/proc/sys/kernel/apparmor_restrict_unprivileged_userns') === '1') {
    return 'AppArmor restricts unprivileged user namespaces (sysctl kernel.apparmor_restrict_unprivileged_userns = 1; an AppArmor profile for node with "userns," allows them)';
  }
  return undefined;
}

/** Runs a probe command; the first line of its stderr when it fails. */
function attempt(commandLine: string[]): { ok: true } | { ok: false; error: string } {
  const [command, ...args] = commandLine as [string, ...string[]];
  try {
    const result = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: 5_000 });
    if (result.status === 0) return { ok: true };
    const error = result.error?.message ?? result.stderr.trim().split('\n')[0] ?? '';
    return { ok: false, error: error || `exit status ${result.status ?? result.signal}` };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

function probe(command: string, args: string[]): boolean {
  try {
    return spawnSync(command, args, { stdio: 'ignore', timeout: 5_000 }).status === 0;
  } catch {
    return false;
  }
}

/** `--permission` from Node 22 on; `--experimental-permission` before. */
export function permissionFlag(): string {
  return Number(process.versions.node.split('.')[0]) >= 22 ? '--permission' : '--experimental-permission';
}

/** The folders a host reads code from: the compiled runtime (`dist/`) and isolated-vm. */
function runtimePaths(): string[] {
  const here = path.dirname(realpathSync(new URL(import.meta.url)));
  // `dist/sandbox/` when built; under the test runner the sources sit in `sandbox/` beside `dist/`.
  const root = path.dirname(here);
  const dist = path.basename(root) === 'dist' ? root : path.join(root, 'dist');
  return [dist, ...isolatedVmDirs().dirs];
}

/** isolated-vm's folder, and the same through a linked `node_modules` (Node checks the path before it resolves links). */
function isolatedVmDirs(): { dirs: string[]; links: string[] } {
  // The alias this Node loads (isolate-library.ts), not a package called isolated-vm: there is none.
  const { packageName } = isolateLibrary();
  const real = path.dirname(realpathSync(createRequire(import.meta.url).resolve(`${packageName}/package.json`)));
  const dirs = [real];
  const links: string[] = [];
  for (let dir = path.dirname(realpathSync(new URL(import.meta.url))); ; ) {
    const candidate = path.join(dir, 'node_modules', packageName);
    if (existsSync(candidate)) {
      // A linked node_modules (a worktree sharing one) is itself looked at: allowed as that one path. (Node 20 then
      // refuses the folder if a pattern below the link is granted as well, so only one of the two is.)
      const modules = path.dirname(candidate);
      if (lstatSync(modules).isSymbolicLink()) links.push(modules);
      else if (candidate !== real) dirs.push(candidate);
      break;
    }
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return { dirs, links };
}

/** Whether `nobody` could reach and read `target`: every folder on the way searchable by others, the target readable. */
function readableByOthers(target: string): boolean {
  try {
    let dir = target;
    if ((statSync(dir).mode & 0o005) !== 0o005) return false;
    for (;;) {
      const up = path.dirname(dir);
      if (up === dir) return true;
      dir = up;
      if ((statSync(dir).mode & 0o001) === 0) return false;
    }
  } catch {
    return false;
  }
}

/**
 * Every host gets every layer: the tools that touch the outside world (fetch, files, env, kv, spawn) are served by
 * the supervisor (sandbox/capability-tools), so a host needs no file, network or process access for any template.
 */
export interface LaunchOptions {
  /** The script forked: its folder is readable too (a test host lives outside `dist/`). */
  entry: string;
  hostMemoryMb: number;
  /** Node flags the host needs anyway. */
  execArgv: readonly string[];
}

export interface HostLaunch {
  /** What `fork` runs instead of this Node, when a launcher wraps it; it ends by exec'ing Node (same pid). */
  execPath: string;
  execArgv: string[];
  /** The layers applied. */
  layers: LockdownLayer[];
}

/**
 * The command line of a locked-down host: `prlimit … unshare [--user] --net setpriv … node --permission … entry`. Each launcher
 * execs the next, so the host keeps its pid and its IPC descriptor.
 */
export function hostLaunch(options: LaunchOptions, support: readonly LayerSupport[] = lockdownSupport()): HostLaunch {
  const on = (layer: LockdownLayer) => support.some((s) => s.layer === layer && s.available);
  const layers: LockdownLayer[] = [];
  const prefix: string[] = [];
  if (on('limits')) {
    const asMb = Math.max(ADDRESS_SPACE_FLOOR_MB, options.hostMemoryMb * ADDRESS_SPACE_FACTOR);
    prefix.push('prlimit', `--as=${asMb * 1024 * 1024}`, `--nofile=${OPEN_FILES}`, `--nproc=${PROCESSES}`, '--');
    layers.push('limits');
  }
  if (on('network')) {
    prefix.push(...(support.find((s) => s.layer === 'network')?.launcher ?? ['unshare', '--net', '--']));
    layers.push('network');
  }
  if (on('user')) {
    const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    if (isRoot) prefix.push('setpriv', `--reuid=${UNPRIVILEGED_ID}`, `--regid=${UNPRIVILEGED_ID}`, '--clear-groups', '--no-new-privs', '--');
    else prefix.push('setpriv', '--no-new-privs', '--');
    layers.push('user');
  }
  const nodeArgs = [...options.execArgv];
  if (on('permission')) {
    const reads = [...new Set([...runtimePaths(), path.dirname(realpathSync(options.entry))])];
    nodeArgs.push(permissionFlag(), '--allow-addons', ...reads.map((dir) => `--allow-fs-read=${path.join(dir, '*')}`), ...isolatedVmDirs().links.map((link) => `--allow-fs-read=${link}`));
    layers.push('permission');
  }
  if (prefix.length === 0) return { execPath: process.execPath, execArgv: nodeArgs, layers };
  const [launcher, ...rest] = prefix as [string, ...string[]];
  return { execPath: resolveCommand(launcher), execArgv: [...rest, process.execPath, ...nodeArgs], layers };
}

const resolvedCommands = new Map<string, string>();
/** The absolute path of a launcher on PATH (fork needs one). */
function resolveCommand(command: string): string {
  let found = resolvedCommands.get(command);
  if (found === undefined) {
    found = command;
    for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(path.delimiter)) {
      const candidate = path.join(dir, command);
      if (existsSync(candidate)) {
        try {
          accessSync(candidate, fsConstants.X_OK);
          found = candidate;
          break;
        } catch {
          // not executable here; keep looking
        }
      }
    }
    resolvedCommands.set(command, found);
  }
  return found;
}

export interface LayerStatus {
  layer: LockdownLayer;
  /** Applied to every host. */
  active: boolean;
  reason: string;
}

/** What the hosts of a sandbox get, layer by layer, for warnings, `af doctor` and tests. */
export function lockdownReport(mode: 'auto' | 'off' | 'inline', support: readonly LayerSupport[] = mode === 'auto' ? lockdownSupport() : []): LayerStatus[] {
  return LOCKDOWN_LAYERS.map((layer) => {
    if (mode === 'inline') return { layer, active: false, reason: "isolation 'inline': isolates run in the calling process" };
    if (mode === 'off') return { layer, active: false, reason: "switched off (lockdown: 'off')" };
    const s = support.find((one) => one.layer === layer);
    return { layer, active: s?.available === true, reason: s?.reason ?? 'unknown' };
  });
}

/** The start-up warning outside dev for the layers `report` lacks, or undefined when every layer is on. */
export function missingLayersWarning(report: readonly LayerStatus[]): string | undefined {
  const missing = report.filter((layer) => !layer.active);
  if (missing.length === 0) return undefined;
  return `sandbox hosts run without these lockdown layers: ${missing.map((layer) => `${layer.layer} (${layer.reason})`).join('; ')} (\`af doctor\` shows why)`;
}
