/** @module sandbox/isolate-library — which isolated-vm build this Node uses, its version, whether it is patched, and the one place that loads it. */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type ivm from 'isolated-vm';
import type { Logger } from '../core/logger.js';
import { traceMark } from '../core/startup-trace.js';

// package.json installs isolated-vm twice, under two npm aliases, both optional: `isolated-vm-patched` (6.2.x,
// engines node >= 22, prebuilt for Node 22 and 24) and `isolated-vm-node20` (5.0.x, the last line that runs on
// Node 20). npm marks an optional package whose `engines` does not match the running Node as inert and never
// extracts it, so Node 20 gets only 5.0.x; on Node 24, 5.0.x fails to compile and npm drops it, as it does any
// failed optional package. The choice here follows the same rule (the running Node's major), so what npm installed
// and what we load always agree.

/** The advisory the 5.0.x line is exposed to: a type confusion in ExternalCopy, fixed in 6.2.0 and 7.0.1. */
export const ISOLATE_ESCAPE_ADVISORY = 'GHSA-864f-rcv7-6rh4';

/** What `af doctor`, start-up warnings and benchmarks report about the isolate library. */
export interface IsolateLibraryInfo {
  /** The npm alias loaded on this Node: `isolated-vm-patched` (Node 22+) or `isolated-vm-node20`. */
  packageName: 'isolated-vm-patched' | 'isolated-vm-node20';
  /** Installed isolated-vm version, from the alias's package.json; undefined when npm did not install it. */
  version: string | undefined;
  /** True when `version` carries the fix for GHSA-864f-rcv7-6rh4 (>= 6.2.0 on the 6.x line, >= 7.0.1 after). */
  patched: boolean;
  /** The running Node's major version, which picked `packageName`. */
  nodeMajor: number;
}

const require = createRequire(import.meta.url);
let info: IsolateLibraryInfo | undefined;
let isolatedVmModule: typeof ivm | undefined;
let warned = false;

/**
 * V8 flags for sandbox host processes on this Node. Node 20's V8 (11.3) can still switch resizable ArrayBuffers off;
 * from Node 22 (V8 12.4) they are shipped, the flag is gone and Node refuses to start with it ("bad option"), so there
 * the prelude's fixed-length constructors (prelude.ts) are the protection on their own.
 */
export const HOST_V8_FLAGS: readonly string[] = Number(process.versions.node.split('.')[0]) < 22 ? ['--no-harmony-rab-gsab'] : [];

/** Which alias this Node major loads. */
export function isolateLibraryFor(nodeMajor: number): IsolateLibraryInfo['packageName'] {
  return nodeMajor >= 22 ? 'isolated-vm-patched' : 'isolated-vm-node20';
}

/** Whether an isolated-vm version has the fix for GHSA-864f-rcv7-6rh4. */
export function isPatchedIsolatedVm(version: string): boolean {
  const [major = 0, minor = 0, patch = 0] = version.split(/[.+-]/, 3).map(Number);
  if (major === 6) return minor >= 2;
  if (major === 7) return minor > 0 || patch >= 1;
  return major > 7;
}

/**
 * The isolate library in use, without loading the native addon (reading it needs no --no-node-snapshot, so `af`
 * and `af doctor` can call it). Read once per process: not for hot paths, and it does not change while running.
 */
export function isolateLibrary(): IsolateLibraryInfo {
  if (info) return info;
  const nodeMajor = Number(process.versions.node.split('.')[0]);
  const packageName = isolateLibraryFor(nodeMajor);
  let version: string | undefined;
  try {
    version = (JSON.parse(readFileSync(require.resolve(`${packageName}/package.json`), 'utf8')) as { version?: string }).version;
  } catch {
    version = undefined;
  }
  return (info = { packageName, version, patched: version !== undefined && isPatchedIsolatedVm(version), nodeMajor });
}

/**
 * Loads isolated-vm on first use. The `af` process imports the sandbox (inline mode, types) but makes every isolate
 * in a host process forked with --no-node-snapshot, which isolated-vm requires on Node 20+; loading lazily keeps `af`
 * itself free of the flag.
 */
export function loadIsolatedVm(): typeof ivm {
  if (isolatedVmModule) return isolatedVmModule;
  const { packageName, nodeMajor } = isolateLibrary();
  try {
    const addon = packageName === 'isolated-vm-patched' ? addonFile(path.dirname(require.resolve(`${packageName}/package.json`))) : undefined;
    isolatedVmModule = (addon !== undefined ? (require(addon) as { ivm: typeof ivm }).ivm : require(packageName)) as typeof ivm;
    traceMark('host: isolated-vm loaded');
    return isolatedVmModule;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'MODULE_NOT_FOUND') throw error;
    throw new Error(
      `isolated-vm is not installed for Node ${nodeMajor} (npm package alias "${packageName}" is missing). ` +
        `Run "npm install" with this Node (optional dependencies must not be omitted).`,
    );
  }
}

/**
 * The native file isolated-vm 6.x's own entry would load, found without it. That entry is
 * `require('node-gyp-build')(__dirname).ivm`, and node-gyp-build is a package of its own, outside the one folder a
 * locked-down host may read (sandbox/lockdown: Node's permission model refuses its package.json and the host dies at
 * start). Its choice is repeated here for the files isolated-vm can hold: a build from source first, else the
 * prebuild for this platform, arch, Node ABI and libc. Undefined when neither is there: the package's own entry then
 * loads it (and says what is missing).
 */
function addonFile(dir: string): string | undefined {
  const built = path.join(dir, 'build', 'Release', 'isolated_vm.node');
  if (exists(built)) return built;
  // node-gyp-build's test for musl; under the permission model /etc is unreadable and glibc is assumed, as it would.
  const libc = process.env.LIBC ?? (process.platform === 'linux' && exists('/etc/alpine-release') ? 'musl' : 'glibc');
  const prebuild = path.join(dir, 'prebuilds', `${process.platform}-${process.arch}`, `isolated-vm.abi${process.versions.modules}.${libc}.node`);
  return exists(prebuild) ? prebuild : undefined;
}

/** existsSync, false where the permission model refuses the path (Node 24 throws there rather than say false). */
function exists(file: string): boolean {
  try {
    return existsSync(file);
  } catch {
    return false;
  }
}

/** The warning for a library with the known isolate escape, or undefined when the library in use is patched. */
export function unpatchedIsolateLibraryWarning(library: IsolateLibraryInfo = isolateLibrary()): string | undefined {
  if (library.patched || library.version === undefined) return undefined;
  return (
    `the sandbox library on this Node (isolated-vm ${library.version} on Node ${library.nodeMajor}) has a known unpatched isolate escape ` +
    `(${ISOLATE_ESCAPE_ADVISORY}); run on Node 22 or 24 for isolated-vm 6.2+`
  );
}

/** Logs the unpatched-library warning once per process (every non-dev factory calls this when it starts). */
export function warnIfIsolateLibraryUnpatched(logger: Logger): void {
  if (warned) return;
  const warning = unpatchedIsolateLibraryWarning();
  if (warning === undefined) return;
  warned = true;
  logger.warn(warning);
}
