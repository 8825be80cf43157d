/** @module tui/react-timings — keeps React's development-build render timings from piling up in Node's performance timeline. */
import { performance, type PerformanceEntry } from 'node:perf_hooks';

/**
 * React's development build records every component render with `performance.measure` (entries tagged
 * `detail.devtools`, for the browser's Performance panel). Node keeps every measure until someone clears it, so a UI
 * that renders a few times a second gains megabytes an hour, more after views with many components (the learner's
 * suggestions). `af` loads the production build; this guards any other caller (the library, tests). Only React's
 * entries are removed: measures the host application makes itself stay.
 * @returns a function that stops the sweeping.
 */
export function sweepReactTimings(everyMs = 2000): () => void {
  const sweep = () => {
    const names = new Set<string>();
    for (const entry of performance.getEntriesByType('measure')) {
      if (isReactEntry(entry)) names.add(entry.name);
    }
    for (const name of names) performance.clearMeasures(name);
  };
  const timer = setInterval(sweep, everyMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    sweep();
  };
}

function isReactEntry(entry: PerformanceEntry): boolean {
  const detail = (entry as PerformanceEntry & { detail?: unknown }).detail;
  return typeof detail === 'object' && detail !== null && 'devtools' in detail;
}
