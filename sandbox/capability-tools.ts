/** @module sandbox/capability-tools — serves the tools that touch the outside world (fetch, files, kv, spawn) for one run, in the calling process: every check against its own record of the run, the caps, grant use and denials. */
import { type FileHandle, readFile } from 'node:fs/promises';
import type { AgentSpec, ListedPermission } from '../core/agent-spec.js';
import { type ErrorCode, isErrorCode } from '../core/errors.js';
import { spawnViaServices } from './calling-side.js';
import type { EngineStats } from './engine.js';
import { type FetchRequest, guardedFetch } from './guarded-fetch.js';
import { openGranted } from './open-granted.js';
import { fileErrorCode, type ResolvedPath, resolveReadPath, resolveWritePath, ToolDenied, ToolError } from './permissions.js';
import { MAX_PENDING_CALLS } from './protocol.js';
import type { KvNamespace, KvStore, ToolServices } from './types.js';

const KV_KEY_MAX = 1024;

export interface CapabilitySettings {
  services: ToolServices;
  fetchMaxBytes: number;
  readMaxBytes: number;
  /** An audit sink (`services.onDenial`) threw: it must not change what the agent sees, but someone should hear of it. */
  onAuditError(error: unknown): void;
}

/**
 * The calling process's record of one run in flight: who it is (from the caller's own options, never from a host),
 * what it used and was denied, and the signal that stops its pending calls when it ends.
 */
export class ServedRun {
  readonly spec: AgentSpec;
  readonly tenant: string;
  readonly env: string;
  readonly depth: number;
  /** Its record id, which its spawns name as their parent. */
  readonly recordId: string | undefined;
  /** This run's own kv, when its caller gave one (else the sandbox's). */
  readonly kv: KvStore | undefined;
  /** Permission keys whose checks passed (`net:api.example.com`, `read:./data`, `kv`, `spawn:leaf`). */
  readonly grantsUsed = new Set<string>();
  readonly denials: Array<{ permission: string; target: string }> = [];
  spawns = 0;
  pending = 0;
  /** Created on first use: most runs never fetch or spawn, and aborting a controller builds a DOMException. */
  #controller: AbortController | undefined;
  #ended = false;

  constructor(spec: AgentSpec, meta: { tenant: string; env: string; depth: number; recordId?: string | undefined; kv?: KvStore | undefined }) {
    this.spec = spec;
    this.tenant = meta.tenant;
    this.env = meta.env;
    this.depth = meta.depth;
    this.recordId = meta.recordId;
    this.kv = meta.kv;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Aborted when the run ends, is cancelled or loses its host: pending fetch and spawn calls stop. */
  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    if (this.#ended && !this.#controller.signal.aborted) this.#controller.abort();
    return this.#controller.signal;
  }

  useGrants(permission: ListedPermission | 'kv', entries: readonly string[] = []): void {
    if (permission === 'kv') this.grantsUsed.add('kv');
    for (const entry of entries) this.grantsUsed.add(`${permission}:${entry}`);
  }

  /** Stops its pending calls; later calls are refused. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#controller?.abort();
  }
}

/**
 * Serves one capability tool call for `run`: `argsJson` is what the agent passed, as the prelude encoded it.
 * @returns the payload the prelude decodes. @throws ToolDenied (recorded and audited here) or ToolError.
 */
export async function serveTool(run: ServedRun, tool: string, argsJson: string, settings: CapabilitySettings): Promise<string> {
  if (run.ended) throw new ToolError('E_DISPOSED', 'the run this call belongs to has ended', 'AbortError');
  if (run.pending >= MAX_PENDING_CALLS) throw new ToolError('E_USAGE', `more than ${MAX_PENDING_CALLS} timers and tool calls pending in one run`, 'RangeError');
  run.pending++;
  try {
    return await dispatch(run, tool, argsJson, settings);
  } catch (error) {
    if (error instanceof ToolDenied) {
      run.denials.push({ permission: error.permission, target: error.target });
      try {
        settings.services.onDenial?.({ template: run.spec.name, tenant: run.tenant, permission: error.permission, target: error.target, grantKey: error.grantKey });
      } catch (auditError) {
        settings.onAuditError(auditError);
      }
      throw error;
    }
    if (error instanceof ToolError) throw error;
    // A store or the file system failing in a way no check foresaw: still a coded error for the agent.
    const e = error as { code?: unknown; message?: unknown; name?: unknown } | null;
    throw new ToolError(unforeseenCode(tool, e?.code), e && typeof e.message === 'string' ? e.message : String(error), e && typeof e.name === 'string' ? e.name : 'Error');
  } finally {
    run.pending--;
  }
}

/** The code of a failure no check foresaw: a documented code as it is, else the store's or the file system's general one. */
function unforeseenCode(tool: string, code: unknown): ErrorCode {
  if (isErrorCode(code)) return code;
  if (tool.startsWith('kv.')) return 'E_STORE';
  if ((tool === 'readTextFile' || tool === 'writeTextFile') && typeof code === 'string') return fileErrorCode(code);
  return 'E_INTERNAL';
}

async function dispatch(run: ServedRun, tool: string, argsJson: string, settings: CapabilitySettings): Promise<string> {
  const { spec } = run;
  let args: unknown;
  try {
    args = JSON.parse(argsJson);
  } catch {
    throw new ToolError('E_USAGE', `${tool}: bad arguments`, 'TypeError');
  }
  switch (tool) {
    case 'kv.get':
    case 'kv.set':
    case 'kv.delete':
    case 'kv.list': {
      if (!spec.permissions.kv) throw new ToolDenied('kv', '');
      run.useGrants('kv');
      const ns: KvNamespace = { template: spec.name, tenant: run.tenant };
      const store = run.kv ?? settings.services.kv;
      if (tool === 'kv.list') {
        const o = (args ?? {}) as { prefix?: unknown; limit?: unknown };
        return runKvCall(store, ns, spec.limits.kvKb, { method: 'list', prefix: typeof o.prefix === 'string' ? o.prefix : '', limit: Number(o.limit) || 0 });
      }
      const [key, json] = stringArgs(args, tool === 'kv.set' ? 2 : 1, tool);
      if (tool === 'kv.set') return runKvCall(store, ns, spec.limits.kvKb, { method: 'set', key, json });
      return runKvCall(store, ns, spec.limits.kvKb, { method: tool === 'kv.get' ? 'get' : 'delete', key });
    }
    case 'fetch':
      if (args === null || typeof args !== 'object') throw new ToolError('E_USAGE', 'fetch: bad arguments', 'TypeError');
      return JSON.stringify(await guardedFetch(args as FetchRequest, { spec, maxBytes: settings.fetchMaxBytes, signal: run.signal, onGrants: (entries) => run.useGrants('net', entries) }));
    case 'readTextFile': {
      const [requested] = stringArgs(args, 1, 'readTextFile');
      const real = await admitted(run, 'read', resolveReadPath(spec.dir, spec.permissions.read, requested));
      return await readCapped(await openGranted('read', real, requested), requested, settings.readMaxBytes);
    }
    case 'writeTextFile': {
      const [requested, data] = stringArgs(args, 2, 'writeTextFile');
      const target = await admitted(run, 'write', resolveWritePath(spec.dir, spec.permissions.write, requested));
      // Opened inside the folder that was checked, never through a link: see openGranted.
      const handle = await openGranted('write', target, requested);
      try {
        await handle.writeFile(data, 'utf8');
      } finally {
        await handle.close();
      }
      return '';
    }
    case 'spawn': {
      const [name, inputJson] = stringArgs(args, 2, 'spawn');
      // Granted is used, even when depth or fan-out then refuse this one spawn.
      if (spec.permissions.spawn.includes(name)) run.useGrants('spawn', [name]);
      const refusal = spawnRefusal(spec, run.depth, run.spawns, name);
      if (refusal) throw refusal;
      run.spawns++;
      return await spawnViaServices(settings.services, { name, inputJson, tenant: run.tenant, env: run.env, depth: run.depth + 1, parentId: run.recordId, kv: run.kv }, run.signal);
    }
    default:
      throw new ToolError('E_INTERNAL', `unknown tool ${tool}`);
  }
}

/** Notes the grants that admitted a path, also when the path then turns out not to exist. */
async function admitted(run: ServedRun, permission: 'read' | 'write', resolving: Promise<ResolvedPath>): Promise<ResolvedPath> {
  try {
    const resolved = await resolving;
    run.useGrants(permission, resolved.grants);
    return resolved;
  } catch (error) {
    const grants = (error as { grants?: unknown }).grants;
    if (Array.isArray(grants)) run.useGrants(permission, grants as string[]);
    throw error;
  }
}

/** Why a spawn may not happen: the name is not in permissions.spawn, or it would pass limits.spawnDepth or limits.spawnFanOut. */
export function spawnRefusal(spec: AgentSpec, depth: number, spawnsSoFar: number, name: string): ToolDenied | ToolError | undefined {
  if (!spec.permissions.spawn.includes(name)) return new ToolDenied('spawn', name);
  if (depth + 1 > spec.limits.spawnDepth) {
    return new ToolError('E_SPAWN_LIMIT', `spawning "${name}" would reach depth ${depth + 1}, over limits.spawnDepth (${spec.limits.spawnDepth}); raise limits.spawnDepth in agent.json`);
  }
  if (spawnsSoFar + 1 > spec.limits.spawnFanOut) {
    return new ToolError('E_SPAWN_LIMIT', `this run already spawned ${spawnsSoFar} agents, the limits.spawnFanOut cap; raise limits.spawnFanOut in agent.json`);
  }
  return undefined;
}

type KvCall = { method: 'get'; key: string } | { method: 'set'; key: string; json: string } | { method: 'delete'; key: string } | { method: 'list'; prefix: string; limit: number };

/**
 * Runs one kv call against the store in `ns` under `quotaBytes` and encodes the reply for the prelude:
 * get → the value's JSON or `''`, delete → `true`/`false`, list → a JSON array, set → `''`.
 */
export async function runKvCall(store: KvStore, ns: KvNamespace, kvKb: number, call: KvCall): Promise<string> {
  if (call.method === 'list') {
    const limit = Math.min(10_000, Math.max(0, Math.floor(Number(call.limit) || 0)));
    return JSON.stringify(await store.list(ns, { prefix: call.prefix, limit }));
  }
  const key = call.key;
  const tool = `kv.${call.method}`;
  if (key.length === 0 || key.length > KV_KEY_MAX) throw new ToolError('E_USAGE', `${tool}: key must be 1-${KV_KEY_MAX} characters`, 'TypeError');
  if (call.method === 'get') return (await store.get(ns, key)) ?? '';
  if (call.method === 'delete') return JSON.stringify(await store.delete(ns, key));
  const result = await store.set(ns, key, call.json, kvKb * 1024);
  if (!result.ok) {
    throw new ToolError(
      'E_KV_QUOTA',
      `kv quota exceeded: the kv data of ${ns.template} for tenant ${ns.tenant} would use more than limits.kvKb (${kvKb} KB, ${result.usedBytes} bytes used); delete keys it no longer needs or raise limits.kvKb in agent.json`,
      'QuotaExceededError',
    );
  }
  return '';
}

function stringArgs(args: unknown, n: number, tool: string): [string, string] {
  if (!Array.isArray(args) || args.length < n || args.slice(0, n).some((a) => typeof a !== 'string')) {
    throw new ToolError('E_USAGE', `${tool}: bad arguments`, 'TypeError');
  }
  return [String(args[0]), n > 1 ? String(args[1]) : ''];
}

async function readCapped(handle: FileHandle, requested: string, max: number): Promise<string> {
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new ToolError('EISDIR', `Not a file: ${requested}`, 'IsADirectory');
    if (info.size > max) throw new ToolError('E_USAGE', `${requested} is ${info.size} bytes; readTextFile reads at most ${max}`, 'RangeError');
    return await readFile(handle, 'utf8');
  } finally {
    await handle.close();
  }
}

/**
 * A run's stats as the caller records them: what the engine counted, with grant use and denials of the capability
 * tools taken from `run` only. The engine decides only `env` (its values are the only capability it holds), so of
 * what it reports only `env` grants and denials are kept: a host cannot claim a grant it was not given, nor hide a
 * denial the calling side made.
 */
export function mergeServed(stats: EngineStats, run: ServedRun): EngineStats {
  const grants = new Set(run.grantsUsed);
  const granted = run.spec.permissions.env;
  for (const key of Array.isArray(stats.grantsUsed) ? stats.grantsUsed : []) {
    // Only a variable the template is granted: a host cannot make the learner keep a grant that does not exist.
    if (typeof key === 'string' && key.startsWith('env:') && granted.includes(key.slice(4))) grants.add(key);
  }
  const hostDenials = Array.isArray(stats.denials) ? stats.denials.filter((d) => d?.permission === 'env') : [];
  return { ...stats, grantsUsed: [...grants].sort(), denials: hostDenials.length === 0 ? run.denials : [...hostDenials, ...run.denials] };
}
