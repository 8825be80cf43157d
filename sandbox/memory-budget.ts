/** @module sandbox/memory-budget — how much of a sandbox host's memory cap a run claims, so runs placed together cannot take their host over it. */
import type { AgentSpec, Limits } from '../core/agent-spec.js';
import { FactoryError } from '../core/errors.js';

/**
 * Resident memory a run may really use per MB of limits.memoryMb. V8 lets an isolate's heap pass its limit before
 * isolated-vm stops it; measured here (Node 20, isolated-vm 5.0.4, growth of the host's RSS until the run was
 * stopped): 1.0-1.1× for ArrayBuffers, 1.4-1.5× for objects and strings, 1.8-2.2× for growing arrays. One huge
 * allocation can reach 2.4-3.6×, or end in V8's fatal out-of-memory: those are left to the host's own cap, which
 * stops the run behind them (see host-main) instead of charging every run for the worst case.
 */
export const HEAP_OVERSHOOT = 2;

/** An isolate and a context beyond the heap itself (measured: about 2 MB per isolate in a warm pool). */
export const RUN_OVERHEAD_MB = 8;

/** A sandbox host's own resident memory with its pools warm (measured: 47 MB idle, about 8 MB more per memory class). */
export const HOST_BASE_MB = 64;

/** What one run in flight claims of its host's budget, in MB. */
export function runChargeMb(limits: Pick<Limits, 'memoryMb'>): number {
  return HEAP_OVERSHOOT * limits.memoryMb + RUN_OVERHEAD_MB;
}

/** What runs in flight on one host may claim together, in MB. */
export function hostBudgetMb(hostMemoryMb: number): number {
  return hostMemoryMb - HOST_BASE_MB;
}

/** The largest limits.memoryMb a run can have and still fit a host alone (476 MB for the default 1024 MB cap). */
export function largestMemoryMb(hostMemoryMb: number): number {
  return Math.max(0, Math.floor((hostBudgetMb(hostMemoryMb) - RUN_OVERHEAD_MB) / HEAP_OVERSHOOT));
}

/** A template no host can run without risking the others on it: refused before it runs, saying what to change. */
export function overBudgetError(spec: AgentSpec, hostMemoryMb: number): FactoryError | undefined {
  if (runChargeMb(spec.limits) <= hostBudgetMb(hostMemoryMb)) return undefined;
  const largest = largestMemoryMb(hostMemoryMb);
  return new FactoryError(
    'E_POLICY_DENIED',
    `template "${spec.name}" asks for limits.memoryMb ${spec.limits.memoryMb}, but a sandbox host capped at hostMemoryMb ${hostMemoryMb} MB can hold runs of at most ${largest} MB (V8 can pass a heap limit ${HEAP_OVERSHOOT}×, and the host needs ${HOST_BASE_MB} MB of its own); lower limits.memoryMb in agent.json to ${largest} or less, or raise hostMemoryMb`,
    { details: { rule: 'sandbox.hostMemoryMb', limit: 'limits.memoryMb', memoryMb: spec.limits.memoryMb, largestMemoryMb: largest, hostMemoryMb } },
  );
}
