/** @module cli/process-lifetime — helpers of long-running commands (`af serve`, `af metrics`): integer flags and waiting for a stop. */
import { FactoryError } from '../core/errors.js';

/** Parses an integer flag within bounds. @throws FactoryError `E_USAGE` naming the flag. */
export function parseIntegerFlag(value: number | string, flag: string, min: number, max: number): number {
  const number = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < min || number > max) {
    throw new FactoryError('E_USAGE', `${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return number;
}

/**
 * Resolves with what stopped the command (SIGINT, SIGTERM, SIGHUP or an abort); the listeners are removed so the next
 * command (or test) starts clean. SIGHUP (the terminal closed, or a supervisor's reload) stops gracefully too: Node's
 * default for it would end the process without closing the server or flushing the run records.
 */
export function untilStopped(signal: AbortSignal | undefined): Promise<string> {
  return new Promise((resolve) => {
    const finish = (reason: string) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      process.off('SIGHUP', onHup);
      signal?.removeEventListener('abort', onAbort);
      resolve(reason);
    };
    const onInt = () => finish('SIGINT');
    const onTerm = () => finish('SIGTERM');
    const onHup = () => finish('SIGHUP');
    const onAbort = () => finish('aborted');
    if (signal) {
      if (signal.aborted) return finish('aborted');
      signal.addEventListener('abort', onAbort, { once: true });
    } else {
      process.once('SIGINT', onInt);
      process.once('SIGTERM', onTerm);
      process.once('SIGHUP', onHup);
    }
  });
}
