/** @module sandbox — the public surface of the sandbox: isolated-vm isolates in host processes, deny-by-default tools, enforced limits. */
import { InlineSandbox } from './inline-sandbox.js';
import { resolveSandboxOptions } from './options.js';
import { Supervisor } from './supervisor.js';
import type { Sandbox, SandboxOptions } from './types.js';

export { ISOLATE_ESCAPE_ADVISORY, isolateLibrary, type IsolateLibraryInfo, unpatchedIsolateLibraryWarning, warnIfIsolateLibraryUnpatched } from './isolate-library.js';
export { type LayerStatus, type LayerSupport, lockdownReport, lockdownSupport, missingLayersWarning } from './lockdown.js';
export { createMemoryKvStore } from './memory-kv.js';
export { netGrantMatches } from './permissions.js';
export type {
  DenialEvent,
  KvNamespace,
  KvSetResult,
  KvStore,
  Reservation,
  RunError,
  RunLogEntry,
  RunOptions,
  RunStats,
  Sandbox,
  SandboxRunStats,
  SandboxOptions,
  SandboxRunResult,
  SandboxStats,
  SpawnRequest,
  ToolServices,
} from './types.js';

/**
 * Creates a sandbox. With `isolation: 'process'` (the default) isolates live in `hosts` child processes, so a V8
 * fatal error or a memory blow-up ends one host, not the caller; `inline` keeps them in this process.
 * @throws TypeError when an option is malformed.
 * @example
 * const sandbox = createSandbox({ services: { kv: createMemoryKvStore(), spawn: async () => undefined } });
 * const slot = sandbox.reserve(spec);
 * const result = await sandbox.run(slot, { name: 'Ada' }, { tenant: 'acme', env: 'dev' });
 * sandbox.release(slot);
 * await sandbox.close();
 */
export function createSandbox(options: SandboxOptions): Sandbox {
  const resolved = resolveSandboxOptions(options);
  return resolved.isolation === 'inline' ? new InlineSandbox(resolved) : new Supervisor(resolved);
}
