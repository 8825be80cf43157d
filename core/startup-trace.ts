/** @module core/startup-trace — `AF_STARTUP_TRACE=1`: timed marks of a one-shot `af` process's start-up on stderr, to see where a cold run's time goes. */
import { writeSync } from 'node:fs';

/** Read once: off, each mark costs one comparison. */
const on = process.env.AF_STARTUP_TRACE === '1';
/**
 * A sandbox host's marks are on its caller's clock (AF_STARTUP_TRACE_ORIGIN, the caller's performance.timeOrigin, set
 * by sandbox/prestarted-host), so the caller's and the host's marks read as one timeline from the caller's start.
 */
const origin = Number(process.env.AF_STARTUP_TRACE_ORIGIN) || performance.timeOrigin;
/** Where marks go: stderr, or in a host the caller's stderr passed as another descriptor (the host's own is piped). */
const fd = Number(process.env.AF_STARTUP_TRACE_FD) || 2;

/** Whether marks are printed: the host's fork passes the setting on only then. */
export const startupTraceOn = on;

/**
 * Prints `af-trace <ms since the af process started> <what>` on stderr; `at` is a time of this process's own
 * (performance.now() scale) for a mark after the fact, e.g. 0 for the process's start.
 */
export function traceMark(what: string, at: number = performance.now()): void {
  if (!on) return;
  try {
    // Straight to the descriptor: no stream is created for it (the marks must not change what they measure).
    writeSync(fd, `af-trace ${(performance.timeOrigin + at - origin).toFixed(1)} ${what}\n`);
  } catch {
    // stderr closed or full: a trace is not worth failing for.
  }
}
