/** @module sandbox/run-errors — every error the engine ends a run with: each limit's message written once, and how a failed load, a rejected apply and the prelude's error envelope map to one. */
import type { AgentSpec } from '../core/agent-spec.js';
import type { ErrorCode } from '../core/errors.js';
import type { RunError } from './types.js';

/** What these mappings read and mark of the isolate a run was in: V8 losing it means it must not serve again. */
export interface IsolateHealth {
  dead: boolean;
  readonly isolate: { readonly isDisposed: boolean };
}

/** The input measure a `limits.byInput` rule set a run's limit from (absent: the limit is the flat one). */
export type RuleMeasure = { name: string; value: number } | undefined;

export function timeoutError(timeoutMs: number, measure?: RuleMeasure): RunError {
  if (measure) return byInputError('E_TIMEOUT', 'timeoutMs', `${timeoutMs} ms`, timeoutMs, measure, 'make the agent finish sooner');
  return {
    code: 'E_TIMEOUT',
    message: `run exceeded limits.timeoutMs (${timeoutMs} ms); raise limits.timeoutMs in agent.json or make the agent finish sooner`,
    details: { limit: 'limits.timeoutMs', limitMs: timeoutMs },
  };
}

export function cpuError(cpuMs: number, measure?: RuleMeasure): RunError {
  if (measure) return byInputError('E_CPU_LIMIT', 'cpuMs', `${cpuMs} ms of CPU`, cpuMs, measure, 'do less work per run');
  return {
    code: 'E_CPU_LIMIT',
    message: `run exceeded limits.cpuMs (${cpuMs} ms of CPU); raise limits.cpuMs in agent.json or do less work per run`,
    details: { limit: 'limits.cpuMs', limitMs: cpuMs },
  };
}

/** A limit a byInput rule set for this run's input: the message names the effective limit and the measure it came from. */
function byInputError(code: ErrorCode, resource: 'cpuMs' | 'timeoutMs', amount: string, limitMs: number, measure: { name: string; value: number }, otherwise: string): RunError {
  return {
    code,
    message: `run exceeded its effective limits.${resource} (${amount}), set by limits.byInput.${resource} for ${measure.name} = ${measure.value}; raise limits.byInput.${resource} (base, exponent or max) in agent.json or ${otherwise}`,
    details: { limit: `limits.${resource}`, limitMs, byInput: { measure: measure.name, value: measure.value } },
  };
}

export function memoryError(spec: AgentSpec): RunError {
  return {
    code: 'E_MEMORY_LIMIT',
    message: `run exceeded limits.memoryMb (${spec.limits.memoryMb} MB of heap); raise limits.memoryMb in agent.json or use less memory`,
    details: { limit: 'limits.memoryMb', limitMb: spec.limits.memoryMb },
  };
}

export const CANCELLED_ERROR: RunError = { code: 'E_DISPOSED', message: 'the run was cancelled by its caller' };

/** The same limit error, said of the agent's top-level code (`details.phase: 'load'`). */
export function inLoad(error: RunError): RunError {
  return {
    code: error.code,
    message: `loading the agent's module (its top-level code) counts toward the run: ${error.message}`,
    details: { ...error.details, phase: 'load' },
  };
}

/** Maps a rejected `apply` to a run error. */
export function applyError(error: unknown, spec: AgentSpec, iso: IsolateHealth, timeout: RunError): RunError {
  const message = String((error as Error)?.message ?? error);
  if (/memory limit/i.test(message)) {
    iso.dead = true;
    return memoryError(spec);
  }
  if (/timed out/i.test(message)) return timeout;
  if (iso.isolate.isDisposed || /disposed/i.test(message)) {
    iso.dead = true;
    return { code: 'E_SANDBOX_CRASHED', message: `the isolate was lost during the run (${message}); it was replaced` };
  }
  return { code: 'E_AGENT_THREW', message };
}

/** Maps a failure while loading the bundle (the agent's top-level code) to a run error. */
export function loadError(error: unknown, spec: AgentSpec, iso: IsolateHealth, timeoutMs: number, measure?: RuleMeasure): RunError {
  const message = String((error as Error)?.message ?? error);
  if (/memory limit/i.test(message)) {
    iso.dead = true;
    return inLoad(memoryError(spec));
  }
  if (/timed out/i.test(message)) {
    // The run's own (effective) timeout: a byInput rule's is named as such.
    if (measure) return inLoad(timeoutError(timeoutMs, measure));
    return {
      code: 'E_TIMEOUT',
      message: `loading the agent's module (its top-level code) exceeded limits.timeoutMs (${timeoutMs} ms); do less at top level or raise limits.timeoutMs`,
      details: { limit: 'limits.timeoutMs', limitMs: timeoutMs, phase: 'load' },
    };
  }
  return { code: 'E_AGENT_THREW', message: `the agent's module failed to load: ${message}`, details: { phase: 'load' } };
}

const RUN_CODES = new Set<ErrorCode>(['E_AGENT_THREW', 'E_OUTPUT_LIMIT', 'E_PERMISSION_DENIED', 'E_SPAWN_LIMIT']);

/** Decodes the prelude's error envelope. Only codes the prelude may decide on are kept. */
export function agentError(body: string): RunError {
  let parsed: { code?: string; message?: string; name?: string; stack?: string; cause?: string; bytes?: number };
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    return { code: 'E_AGENT_THREW', message: 'the agent threw something that could not be described' };
  }
  const code = RUN_CODES.has(parsed.code as ErrorCode) ? (parsed.code as ErrorCode) : 'E_AGENT_THREW';
  const details: Record<string, unknown> = {};
  if (parsed.name) details.name = parsed.name;
  if (parsed.stack) details.stack = parsed.stack;
  if (parsed.cause) details.cause = parsed.cause;
  if (parsed.bytes !== undefined) details.bytes = parsed.bytes;
  const message = code === 'E_AGENT_THREW' ? `${parsed.name ?? 'Error'}: ${parsed.message ?? ''}` : (parsed.message ?? '');
  return Object.keys(details).length > 0 ? { code, message, details } : { code, message };
}

/** Second line behind the prelude's own output check; unreachable unless that check failed. */
export function outputLimitError(spec: AgentSpec): RunError {
  return { code: 'E_OUTPUT_LIMIT', message: `run output is over limits.outputKb (${spec.limits.outputKb} KB); return less or raise limits.outputKb in agent.json` };
}
