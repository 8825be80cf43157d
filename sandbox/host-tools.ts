/** @module sandbox/host-tools — the engine's side of every ctx tool: the pure ones (log, random, url.*, timers, env.get of the values a run was given), per-run counters and caps; every capability tool is forwarded to the calling side. */
import { randomBytes } from 'node:crypto';
import type { AgentSpec } from '../core/agent-spec.js';
import { isErrorCode } from '../core/errors.js';
import { CAPABILITY_TOOLS, MAX_PENDING_CALLS } from './protocol.js';
import { ToolDenied, ToolError } from './permissions.js';
import { urlOp } from './url-op.js';
import type { RunLogEntry } from './types.js';

/** The run a forwarded call belongs to: only `runId` crosses to the calling process, which looks the rest up itself. */
export interface ServiceCaller {
  /** The id the calling process gave the run. */
  readonly runId: number;
}

/** What the engine needs from outside the isolate. In a host process these are IPC messages to the calling process. */
export interface EngineServices {
  /**
   * A capability tool call (fetch, readTextFile, writeTextFile, kv.*, spawn) with the agent's arguments as the prelude
   * encoded them; the calling side checks it against its own record of the run (sandbox/capability-tools).
   * @returns the payload the prelude decodes.
   */
  tool(caller: ServiceCaller, tool: string, argsJson: string): Promise<string>;
  /** An `env.get` denial, the only one the engine decides. */
  onDenial(denial: { runId: number; template: string; tenant: string; permission: string; target: string; grantKey: string }): void;
}

/** Allowlisted environment values of one run's template, chosen by the calling process and sent with that run only. */
export type EnvValues = Record<string, string>;

const LOG_LEVELS = new Set(['debug', 'info', 'warn', 'error']);
const NO_ENV: EnvValues = Object.freeze({}) as EnvValues;

/** Everything the engine tracks for one run: counters, caps, timers and the env values it was given. */
export class RunScope implements ServiceCaller {
  readonly token: number;
  readonly runId: number;
  readonly spec: AgentSpec;
  /** Dropped when the run ends: a host holds the env values of the runs in flight only. */
  #envValues: EnvValues;
  readonly tenant: string;
  readonly env: string;
  readonly depth: number;
  readonly logs: RunLogEntry[] = [];
  readonly tools: Record<string, number> = {};
  readonly denials: Array<{ permission: string; target: string }> = [];
  /** `env:` keys this run read (the calling side adds the grants its capability tools used): least privilege reads them. */
  readonly grantsUsed = new Set<string>();
  logBytes = 0;
  logsDropped = 0;
  /** Timers and tool calls not yet answered. */
  pending = 0;
  #timers = new Set<NodeJS.Timeout>();
  #ended = false;

  constructor(token: number, spec: AgentSpec, meta: { runId: number; tenant: string; env: string; depth: number; envValues?: EnvValues | undefined }) {
    this.token = token;
    this.runId = meta.runId;
    this.spec = spec;
    this.#envValues = meta.envValues ?? NO_ENV;
    this.tenant = meta.tenant;
    this.env = meta.env;
    this.depth = meta.depth;
  }

  get ended(): boolean {
    return this.#ended;
  }

  envValue(name: string): string | undefined {
    return Object.hasOwn(this.#envValues, name) ? this.#envValues[name] : undefined;
  }

  count(tool: string, calls = 1): void {
    this.tools[tool] = (this.tools[tool] ?? 0) + calls;
  }

  addTimer(ms: number, fire: () => void): void {
    if (this.#ended) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#ended) fire();
    }, ms);
    this.#timers.add(timer);
  }

  /** Ends the run's engine-side life: timers cleared, late answers ignored, its env values dropped with it. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#envValues = NO_ENV;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
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
      scope.grantsUsed.add(`env:${a}`);
      const value = scope.envValue(a);
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
export async function callTool(scope: RunScope, tool: string, argsJson: string, services: EngineServices): Promise<string> {
  // Each pending call (a timer included) holds memory; a run may not pile up without bound.
  if (scope.pending >= MAX_PENDING_CALLS) {
    throw new ToolError('E_USAGE', `more than ${MAX_PENDING_CALLS} timers and tool calls pending in one run`, 'RangeError');
  }
  scope.pending++;
  try {
    if (tool === 'timer') {
      await new Promise<void>((resolve) => scope.addTimer(Number(argsJson) || 0, resolve));
      return '';
    }
    if (!CAPABILITY_TOOLS.has(tool)) throw new ToolError('E_INTERNAL', `unknown tool ${tool}`);
    // Counted here (the run's tool counts are the engine's); checked, served and audited by the calling side only.
    scope.count(tool.startsWith('kv.') ? 'kv' : tool);
    return await services.tool(scope, tool, argsJson);
  } finally {
    scope.pending--;
  }
}

/** Records a denial in the run and for the audit log; returns the error unchanged for the caller to rethrow. */
function noteDenial(scope: RunScope, error: unknown, services: EngineServices): unknown {
  if (error instanceof ToolDenied) {
    scope.denials.push({ permission: error.permission, target: error.target });
    try {
      services.onDenial({ runId: scope.runId, template: scope.spec.name, tenant: scope.tenant, permission: error.permission, target: error.target, grantKey: error.grantKey });
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
  const code = isErrorCode(e?.code) ? e.code : 'E_INTERNAL';
  const message = e && typeof e.message === 'string' ? e.message : String(error);
  return JSON.stringify({ code, message, name: e && typeof e.name === 'string' ? e.name : 'Error' });
}

function errorReply(error: unknown): string {
  return 'E' + toolErrorJson(error);
}
