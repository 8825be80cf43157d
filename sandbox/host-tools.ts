/** @module sandbox/host-tools — the host side of every ctx tool: permission checks on each call, per-run counters and caps. */
import { randomBytes } from 'node:crypto';
import { type FileHandle, readFile } from 'node:fs/promises';
import type { AgentSpec, ListedPermission } from '../core/agent-spec.js';
import { type FetchRequest, guardedFetch } from './guarded-fetch.js';
import { openGranted } from './open-granted.js';
import { type ResolvedPath, resolveReadPath, resolveWritePath, ToolDenied, ToolError } from './permissions.js';
import type { KvCall } from './protocol.js';
import { urlOp } from './url-op.js';
import type { KvNamespace, KvStore, RunLogEntry } from './types.js';

/** The run a kv or spawn call belongs to. In process isolation only `runId` crosses to the calling process, which looks the rest up itself. */
export interface ServiceCaller {
  /** The id the calling process gave the run. */
  readonly runId: number;
  readonly spec: AgentSpec;
  readonly tenant: string;
  readonly env: string;
  readonly depth: number;
}

/** What tools need from outside the isolate; in a host process, kv and spawn are IPC proxies to the calling process. */
export interface EngineServices {
  /**
   * One kv call in the caller's own namespace (its template and tenant) under its limits.kvKb.
   * @returns the payload the prelude decodes (see {@link runKvCall}).
   */
  kv(caller: ServiceCaller, call: KvCall): Promise<string>;
  /** Runs a child template at the caller's depth + 1; resolves with the child's output as JSON text (`''` for undefined). */
  spawn(caller: ServiceCaller, name: string, inputJson: string, signal: AbortSignal): Promise<string>;
  onDenial(denial: { template: string; permission: string; target: string; grantKey: string }): void;
}

export interface ToolSettings {
  fetchMaxBytes: number;
  readMaxBytes: number;
}

/** Allowlisted environment values of one template, captured when it was registered. */
export type EnvValues = Record<string, string>;

const LOG_LEVELS = new Set(['debug', 'info', 'warn', 'error']);
const KV_KEY_MAX = 1024;
const MAX_PENDING_CALLS = 10_000;

/** Everything the host tracks for one run: counters, caps, timers and the signal that ends pending tool work. */
export class RunScope implements ServiceCaller {
  readonly token: number;
  readonly runId: number;
  readonly spec: AgentSpec;
  readonly envValues: EnvValues;
  readonly tenant: string;
  readonly env: string;
  readonly depth: number;
  readonly logs: RunLogEntry[] = [];
  readonly tools: Record<string, number> = {};
  readonly denials: Array<{ permission: string; target: string }> = [];
  /** Permission keys this run used (`env:LOG_LEVEL`, `net:api.example.com`, `read:./data`, `kv`): least privilege reads them. */
  readonly grantsUsed = new Set<string>();
  /** Created on first use: most runs never fetch or spawn, and aborting a controller builds a DOMException. */
  #controller: AbortController | undefined;
  logBytes = 0;
  logsDropped = 0;
  spawns = 0;
  /** Timers and tool calls not yet answered. */
  pending = 0;
  /** Set by the engine: ends the run as timed out (a continuation spun past its deadline). */
  onTimeout: (() => void) | undefined;
  #timers = new Set<NodeJS.Timeout>();
  #ended = false;

  constructor(token: number, spec: AgentSpec, envValues: EnvValues, meta: { runId: number; tenant: string; env: string; depth: number }) {
    this.token = token;
    this.runId = meta.runId;
    this.spec = spec;
    this.envValues = envValues;
    this.tenant = meta.tenant;
    this.env = meta.env;
    this.depth = meta.depth;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Aborted when the run ends: pending fetch and spawn calls stop. */
  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    if (this.#ended && !this.#controller.signal.aborted) this.#controller.abort();
    return this.#controller.signal;
  }

  count(tool: string): void {
    this.tools[tool] = (this.tools[tool] ?? 0) + 1;
  }

  /** Notes that a check passed on these entries of a permission list (`kv` has none). */
  useGrants(permission: ListedPermission | 'kv', entries: readonly string[] = []): void {
    if (permission === 'kv') this.grantsUsed.add('kv');
    for (const entry of entries) this.grantsUsed.add(`${permission}:${entry}`);
  }

  addTimer(ms: number, fire: () => void): void {
    if (this.#ended) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#ended) fire();
    }, ms);
    this.#timers.add(timer);
  }

  /** Ends the run's host-side life: timers cleared, pending fetch/spawn aborted, late calls ignored. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#controller?.abort();
  }
}

/** The sync half of the bridge (`log`, `env.get`, `random`, `url.*`): returns `O<payload>` or `E<error json>`. */
export function syncTool(scope: RunScope | undefined, op: string, a: string, b: string, c: string, services: EngineServices): string {
  if (op === 'random') {
    const n = Math.min(4096, Math.max(1, Number(a) || 0));
    return randomBytes(n).toString('latin1');
  }
  // URL parsing holds no capability and module top-level code may build URLs, so no run is needed.
  if (op.startsWith('url.')) return urlOp(op, a, b, c, scope);
  if (scope === undefined || scope.ended) return errorReply(new ToolError('E_DISPOSED', 'this run has ended'));
  try {
    if (op === 'log') {
      log(scope, a, b, c);
      return 'O';
    }
    if (op === 'env') {
      scope.count('env');
      if (!scope.spec.permissions.env.includes(a)) throw new ToolDenied('env', a);
      scope.useGrants('env', [a]);
      const value = scope.envValues[a];
      return 'O' + (value === undefined ? '' : JSON.stringify(value));
    }
    throw new ToolError('E_INTERNAL', `unknown sync tool ${op}`);
  } catch (error) {
    return errorReply(noteDenial(scope, error, services));
  }
}

function log(scope: RunScope, level: string, message: string, fieldsJson: string): void {
  scope.count('log');
  const bytes = Buffer.byteLength(message) + fieldsJson.length;
  const cap = scope.spec.limits.logKb * 1024;
  if (scope.logBytes + bytes > cap) {
    scope.logsDropped++;
    return;
  }
  scope.logBytes += bytes;
  const entry: RunLogEntry = { level: LOG_LEVELS.has(level) ? level : 'info', message };
  if (fieldsJson !== '') {
    try {
      entry.fields = JSON.parse(fieldsJson);
    } catch {
      entry.fields = fieldsJson;
    }
  }
  scope.logs.push(entry);
}

/** The async half of the bridge: resolves with the payload the prelude decodes, rejects with a denial or tool error. */
export async function callTool(scope: RunScope, tool: string, argsJson: string, services: EngineServices, settings: ToolSettings): Promise<string> {
  // Each pending call (a timer included) holds host memory; a run may not pile up without bound.
  if (scope.pending >= MAX_PENDING_CALLS) {
    throw new ToolError('E_USAGE', `more than ${MAX_PENDING_CALLS} timers and tool calls pending in one run`, 'RangeError');
  }
  scope.pending++;
  try {
    return await dispatchTool(scope, tool, argsJson, services, settings);
  } catch (error) {
    throw noteDenial(scope, error, services);
  } finally {
    scope.pending--;
  }
}

async function dispatchTool(scope: RunScope, tool: string, argsJson: string, services: EngineServices, settings: ToolSettings): Promise<string> {
  const { spec } = scope;
  if (tool === 'timer') {
    await new Promise<void>((resolve) => scope.addTimer(Number(argsJson) || 0, resolve));
    return '';
  }
  const args = JSON.parse(argsJson) as unknown;
  switch (tool) {
    case 'kv.get':
    case 'kv.set':
    case 'kv.delete':
    case 'kv.list':
      return kv(scope, tool, args, services);
    case 'fetch':
      scope.count('fetch');
      return JSON.stringify(await guardedFetch(args as FetchRequest, { spec, maxBytes: settings.fetchMaxBytes, signal: scope.signal, onGrants: (entries) => scope.useGrants('net', entries) }));
    case 'readTextFile': {
      scope.count('readTextFile');
      const [requested] = stringArgs(args, 1, 'readTextFile');
      const real = await admitted(scope, 'read', resolveReadPath(spec.dir, spec.permissions.read, requested));
      return await readCapped(await openGranted('read', real, requested), requested, settings.readMaxBytes);
    }
    case 'writeTextFile': {
      scope.count('writeTextFile');
      const [requested, data] = stringArgs(args, 2, 'writeTextFile');
      const target = await admitted(scope, 'write', resolveWritePath(spec.dir, spec.permissions.write, requested));
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
      scope.count('spawn');
      const [name, inputJson] = stringArgs(args, 2, 'spawn');
      // Granted is used, even when depth or fan-out then refuse this one spawn.
      if (spec.permissions.spawn.includes(name)) scope.useGrants('spawn', [name]);
      const refusal = spawnRefusal(spec, scope.depth, scope.spawns, name);
      if (refusal) throw refusal;
      scope.spawns++;
      return await services.spawn(scope, name, inputJson, scope.signal);
    }
    default:
      throw new ToolError('E_INTERNAL', `unknown tool ${tool}`);
  }
}

/** Notes the grants that admitted a path, also when the path then turns out not to exist. */
async function admitted(scope: RunScope, permission: 'read' | 'write', resolving: Promise<ResolvedPath>): Promise<ResolvedPath> {
  try {
    const resolved = await resolving;
    scope.useGrants(permission, resolved.grants);
    return resolved;
  } catch (error) {
    const grants = (error as { grants?: unknown }).grants;
    if (Array.isArray(grants)) scope.useGrants(permission, grants as string[]);
    throw error;
  }
}

async function kv(scope: RunScope, tool: string, args: unknown, services: EngineServices): Promise<string> {
  scope.count('kv');
  if (!scope.spec.permissions.kv) throw new ToolDenied('kv', '');
  scope.useGrants('kv');
  if (tool === 'kv.list') {
    const o = (args ?? {}) as { prefix?: unknown; limit?: unknown };
    return services.kv(scope, { method: 'list', prefix: typeof o.prefix === 'string' ? o.prefix : '', limit: Number(o.limit) || 0 });
  }
  const [key, json] = stringArgs(args, tool === 'kv.set' ? 2 : 1, tool);
  if (tool === 'kv.get') return services.kv(scope, { method: 'get', key });
  if (tool === 'kv.delete') return services.kv(scope, { method: 'delete', key });
  return services.kv(scope, { method: 'set', key, json });
}

/**
 * Why a spawn may not happen: the name is not in permissions.spawn, or it would pass limits.spawnDepth or
 * limits.spawnFanOut. Checked in the host before the call and again by the calling process from its own record.
 */
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

/**
 * Runs one kv call against the store in `ns` under `quotaBytes` and encodes the reply for the prelude:
 * get → the value's JSON or `''`, delete → `true`/`false`, list → a JSON array, set → `''`.
 * Arguments are checked here because in process isolation they arrive from a host process.
 */
export async function runKvCall(store: KvStore, ns: KvNamespace, kvKb: number, call: KvCall): Promise<string> {
  if (call === null || typeof call !== 'object') throw new ToolError('E_USAGE', 'kv: bad call', 'TypeError');
  if (call.method === 'list') {
    const limit = Math.min(10_000, Math.max(0, Math.floor(Number(call.limit) || 0)));
    return JSON.stringify(await store.list(ns, { prefix: typeof call.prefix === 'string' ? call.prefix : '', limit }));
  }
  const key = call.key;
  const tool = `kv.${String(call.method)}`;
  if (typeof key !== 'string' || key.length === 0 || key.length > KV_KEY_MAX) throw new ToolError('E_USAGE', `${tool}: key must be 1-${KV_KEY_MAX} characters`, 'TypeError');
  if (call.method === 'get') return (await store.get(ns, key)) ?? '';
  if (call.method === 'delete') return JSON.stringify(await store.delete(ns, key));
  if (call.method !== 'set' || typeof call.json !== 'string') throw new ToolError('E_USAGE', `${tool}: bad arguments`, 'TypeError');
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

/** Records a denial in the run and for the audit log; returns the error unchanged for the caller to rethrow. */
function noteDenial(scope: RunScope, error: unknown, services: EngineServices): unknown {
  if (error instanceof ToolDenied) {
    scope.denials.push({ permission: error.permission, target: error.target });
    try {
      services.onDenial({ template: scope.spec.name, permission: error.permission, target: error.target, grantKey: error.grantKey });
    } catch {
      // An audit sink that throws must not change what the agent sees.
    }
  }
  return error;
}

/** The JSON the prelude turns back into an Error with `code`, `name` and `message`. */
export function toolErrorJson(error: unknown): string {
  if (error instanceof ToolDenied) return JSON.stringify({ code: 'E_PERMISSION_DENIED', message: error.message, name: 'NotCapable' });
  if (error instanceof ToolError) return JSON.stringify({ code: error.code, message: error.message, name: error.name });
  const e = error as { code?: unknown; message?: unknown; name?: unknown } | null;
  const code = e && typeof e.code === 'string' ? e.code : 'E_INTERNAL';
  const message = e && typeof e.message === 'string' ? e.message : String(error);
  return JSON.stringify({ code, message, name: e && typeof e.name === 'string' ? e.name : 'Error' });
}

function errorReply(error: unknown): string {
  return 'E' + toolErrorJson(error);
}
