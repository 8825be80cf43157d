/** @module tui/views/LiveView — the factory at work: runs per second, latency percentiles, errors by code, sparklines per template, pools, dropped telemetry and a bounded history. */
import { Box } from 'ink';
import { memo, useEffect, useRef, useState } from 'react';
import { Text } from '../components/Text.js';
import { liveSnapshot, type LiveSnapshot, SPARK_SECONDS, STATS_WINDOW_MS } from '../data.js';
import { count, formatMs, formatTime, sparkline, truncate } from '../format.js';
import { useBindings } from '../hooks/use-bindings.js';
import { useInterval } from '../hooks/use-interval.js';
import { RingBuffer } from '../ring-buffer.js';
import { describeError } from '../services.js';
import type { Theme } from '../theme.js';
import { useUi } from '../ui-context.js';

/** Seconds of history kept: more than any terminal shows, and the same after an hour as after ten minutes. */
export const HISTORY_SECONDS = 300;

interface HistoryLine {
  second: number;
  text: string;
}

/** The part of a snapshot the screen shows: two snapshots with the same one draw the same frame. */
function shownPart(snapshot: LiveSnapshot): string {
  const { at: _at, ...rest } = snapshot;
  return JSON.stringify(rest);
}

export function LiveView() {
  const ui = useUi();
  const { services } = ui;
  const { theme } = services;
  const [snapshot, setSnapshot] = useState<LiveSnapshot>();
  const [error, setError] = useState<string>();
  const [isPaused, setPaused] = useState(false);
  // History lives in a ring buffer (a ref, not state that grows): the view redraws when a second ends with
  // something new to show, and forgets what is older than HISTORY_SECONDS.
  const history = useRef(new RingBuffer<HistoryLine>(HISTORY_SECONDS));
  const [historyVersion, setHistoryVersion] = useState(0);
  const shown = useRef<string | undefined>(undefined);
  const lastSecond = useRef<number | undefined>(undefined);
  // The store answers asynchronously: one read at a time, and none applied after the view is gone.
  const isReading = useRef(false);
  const isMounted = useRef(true);
  const read = () => {
    if (isReading.current) return;
    isReading.current = true;
    liveSnapshot(services)
      .then(
        (next) => {
          if (!isMounted.current) return;
          setError((previous) => (previous === undefined ? previous : undefined));
          show(next);
        },
        (failure: unknown) => isMounted.current && setError(describeError(failure)),
      )
      .finally(() => (isReading.current = false));
  };
  useEffect(() => {
    isMounted.current = true;
    read();
    return () => {
      isMounted.current = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  useInterval(read, isPaused ? undefined : services.refreshMs);
  function show(next: LiveSnapshot): void {
    const part = shownPart(next);
    // Nothing changed (no runs, same pools): no new state, so no render and nothing written to the terminal.
    if (part !== shown.current) {
      shown.current = part;
      setSnapshot(next);
    }
    const second = Math.floor(next.at / 1000);
    // The first read only sets the clock of the history.
    if (lastSecond.current === undefined) lastSecond.current = second;
    else if (second !== lastSecond.current) {
      lastSecond.current = second;
      const text = `${next.runsPerSecond.toFixed(1)} runs/s  p95 ${formatMs(next.total.runMs.p95)}  ${count(next.total.errors, 'error')}  dropped ${next.dropped}`;
      // A quiet second that reads like the one before adds no line: an idle view stays still.
      if (history.current.last()?.text !== text) {
        history.current.push({ second, text });
        setHistoryVersion((version) => version + 1);
      }
    }
  }
  useBindings([{ keys: ['p'], label: isPaused ? 'resume' : 'pause', run: () => setPaused((paused) => !paused) }]);
  if (!snapshot) return <Text {...(error ? { color: theme.color('red') } : { dimColor: true })}>{error ?? 'reading the run record…'}</Text>;

  const words = ui.filter.toLowerCase();
  const perTemplate = snapshot.perTemplate.filter((entry) => entry.template.toLowerCase().includes(words));
  const pools = snapshot.pools.filter((pool) => pool.template.toLowerCase().includes(words));
  const codes = Object.entries(snapshot.errorsByCode).sort(([, a], [, b]) => b - a);
  // The view must stay within its rows, or Ink clears the screen on every frame.
  const room = Math.max(1, ui.bodyRows - 8 - (error ? 1 : 0));
  const templateRows = Math.min(perTemplate.length, Math.max(1, room - Math.min(pools.length, 3)));
  const poolRows = Math.max(0, Math.min(pools.length, room - templateRows));
  const historyRows = Math.max(0, room - templateRows - poolRows - 1);
  const { total } = snapshot;
  return (
    <Box flexDirection="column">
      {error ? (
        <Text color={theme.color('red')} wrap="truncate">
          {error}
        </Text>
      ) : null}
      <Text wrap="truncate">
        <Text bold color={theme.color('cyan')}>
          {snapshot.runsPerSecond.toFixed(1)} runs/s
        </Text>
        <Text dimColor>
          {'  '}last {STATS_WINDOW_MS / 1000}s: {count(total.runs, 'run')}, {count(total.errors, 'error')}
          {isPaused ? '  (paused)' : ''}
        </Text>
      </Text>
      <Text wrap="truncate">
        run{'    '}p50 {formatMs(total.runMs.p50).padStart(9)}  p95 {formatMs(total.runMs.p95).padStart(9)}  p99 {formatMs(total.runMs.p99).padStart(9)}
      </Text>
      <Text wrap="truncate">
        create p50 {formatMs(total.createMs.p50).padStart(9)}  p95 {formatMs(total.createMs.p95).padStart(9)}  p99 {formatMs(total.createMs.p99).padStart(9)}
      </Text>
      <Text wrap="truncate">
        errors {codes.length === 0 ? <Text dimColor>none</Text> : <Text color={theme.color('red')}>{codes.map(([code, n]) => `${code} ${n}`).join('  ')}</Text>}
      </Text>
      <Text wrap="truncate">
        sandbox {count(snapshot.hosts, 'host')}, {count(snapshot.restarts, 'restart')} · telemetry queue {snapshot.queueDepth}, dropped{' '}
        <Text {...(snapshot.dropped > 0 ? { color: theme.color('red') } : {})}>{snapshot.dropped}</Text>
      </Text>
      <Text bold wrap="truncate">
        runs/s, last {SPARK_SECONDS}s {perTemplate.length === 0 ? <Text dimColor>(no runs in the last minute)</Text> : null}
      </Text>
      {perTemplate.slice(0, templateRows).map((entry) => (
        <TemplateRow key={entry.template} template={entry.template} spark={sparkline(entry.perSecond)} runs={entry.runs} p95={entry.p95} theme={theme} />
      ))}
      <Text bold>pools {pools.length === 0 ? <Text dimColor>(none warm)</Text> : null}</Text>
      {pools.slice(0, poolRows).map((pool, i) => (
        <PoolRow key={`${pool.template}${i}`} template={pool.template} ready={pool.ready} busy={pool.busy} />
      ))}
      {historyRows > 0 ? <History lines={history.current.newest(historyRows)} version={historyVersion} /> : null}
    </Box>
  );
}

// Rows are memoised on what they show: a refresh that changes one template's numbers re-renders that row only.
const TemplateRow = memo(function TemplateRow({ template, spark, runs, p95, theme }: { template: string; spark: string; runs: number; p95: number; theme: Theme }) {
  return (
    <Text wrap="truncate">
      {'  '}
      {truncate(template, 14).padEnd(14)} <Text color={theme.color('green')}>{spark}</Text> {String(runs).padStart(6)} {runs === 1 ? 'run' : 'runs'} p95 {formatMs(p95)}
    </Text>
  );
});

const PoolRow = memo(function PoolRow({ template, ready, busy }: { template: string; ready: number; busy: number }) {
  return (
    <Text wrap="truncate">
      {'  '}
      {truncate(template, 14).padEnd(14)} {String(ready).padStart(3)} ready {String(busy).padStart(3)} busy
    </Text>
  );
});

const History = memo(function History({ lines }: { lines: HistoryLine[]; version: number }) {
  return (
    <Box flexDirection="column">
      <Text bold>history <Text dimColor>(newest first, last {HISTORY_SECONDS / 60} min kept)</Text></Text>
      {lines.map((line) => (
        <Text key={line.second} dimColor wrap="truncate">
          {'  '}
          {formatTime(line.second * 1000)}  {line.text}
        </Text>
      ))}
    </Box>
  );
}, (before, after) => before.version === after.version && before.lines.length === after.lines.length);
