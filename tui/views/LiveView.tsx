/** @module tui/views/LiveView — the factory at work: runs per second, latency percentiles, errors by code, sparklines per template, pools and dropped telemetry. */
import { Box, Static } from 'ink';
import { Text } from '../components/Text.js';
import { useRef, useState } from 'react';
import { liveSnapshot, type LiveSnapshot, SPARK_SECONDS, STATS_WINDOW_MS } from '../data.js';
import { formatMs, formatTime, sparkline, truncate } from '../format.js';
import { useBindings } from '../hooks/use-bindings.js';
import { useInterval } from '../hooks/use-interval.js';
import { useUi } from '../ui-context.js';

interface HistoryLine {
  key: string;
  text: string;
}

export function LiveView() {
  const ui = useUi();
  const { services } = ui;
  const { theme } = services;
  const [snapshot, setSnapshot] = useState<LiveSnapshot>(() => liveSnapshot(services));
  const [isPaused, setPaused] = useState(false);
  // Finished seconds go to <Static>: written once above the live area and never redrawn, so a long
  // session keeps its history while the part Ink repaints stays small.
  const [history, setHistory] = useState<HistoryLine[]>([]);
  const lastSecond = useRef(Math.floor(snapshot.at / 1000));
  useInterval(
    () => {
      const next = liveSnapshot(services);
      setSnapshot(next);
      const second = Math.floor(next.at / 1000);
      if (second !== lastSecond.current) {
        lastSecond.current = second;
        setHistory((lines) => [
          ...lines,
          { key: String(second), text: `${formatTime(next.at)}  ${next.runsPerSecond.toFixed(1)} runs/s  p95 ${formatMs(next.total.runMs.p95)}  errors ${next.total.errors}  dropped ${next.dropped}` },
        ]);
      }
    },
    isPaused ? undefined : services.refreshMs,
  );
  useBindings([{ keys: ['p'], label: isPaused ? 'resume' : 'pause', run: () => setPaused((paused) => !paused) }]);

  const words = ui.filter.toLowerCase();
  const perTemplate = snapshot.perTemplate.filter((entry) => entry.template.toLowerCase().includes(words));
  const pools = snapshot.pools.filter((pool) => pool.template.toLowerCase().includes(words));
  const codes = Object.entries(snapshot.errorsByCode).sort(([, a], [, b]) => b - a);
  // The live area must stay shorter than the terminal, or Ink clears the screen on every frame.
  const room = Math.max(1, ui.bodyRows - 8);
  const templateRows = Math.min(perTemplate.length, Math.max(1, room - Math.min(pools.length, 3)));
  const poolRows = Math.max(0, Math.min(pools.length, room - templateRows));
  const { total } = snapshot;
  return (
    <Box flexDirection="column">
      <Static items={history}>
        {(line) => (
          <Text key={line.key} dimColor>
            {line.text}
          </Text>
        )}
      </Static>
      <Text>
        <Text bold color={theme.color('cyan')}>
          {snapshot.runsPerSecond.toFixed(1)} runs/s
        </Text>
        <Text dimColor>
          {'  '}last {STATS_WINDOW_MS / 1000}s: {total.runs} runs, {total.errors} errors{isPaused ? '  (paused)' : ''}
        </Text>
      </Text>
      <Text>
        run{'    '}p50 {formatMs(total.runMs.p50).padStart(9)}  p95 {formatMs(total.runMs.p95).padStart(9)}  p99 {formatMs(total.runMs.p99).padStart(9)}
      </Text>
      <Text>
        create p50 {formatMs(total.createMs.p50).padStart(9)}  p95 {formatMs(total.createMs.p95).padStart(9)}  p99 {formatMs(total.createMs.p99).padStart(9)}
      </Text>
      <Text wrap="truncate">
        errors {codes.length === 0 ? <Text dimColor>none</Text> : <Text color={theme.color('red')}>{codes.map(([code, count]) => `${code} ${count}`).join('  ')}</Text>}
      </Text>
      <Text>
        sandbox {snapshot.hosts} hosts, {snapshot.restarts} restarts · telemetry queue {snapshot.queueDepth}, dropped{' '}
        <Text {...(snapshot.dropped > 0 ? { color: theme.color('red') } : {})}>{snapshot.dropped}</Text>
      </Text>
      <Text bold>
        runs/s, last {SPARK_SECONDS}s {perTemplate.length === 0 ? <Text dimColor>(no runs in the last minute)</Text> : null}
      </Text>
      {perTemplate.slice(0, templateRows).map((entry) => (
        <Text key={entry.template} wrap="truncate">
          {'  '}
          {truncate(entry.template, 14).padEnd(14)} <Text color={theme.color('green')}>{sparkline(entry.perSecond)}</Text> {String(entry.runs).padStart(6)} runs p95 {formatMs(entry.p95)}
        </Text>
      ))}
      <Text bold>pools {pools.length === 0 ? <Text dimColor>(none warm)</Text> : null}</Text>
      {pools.slice(0, poolRows).map((pool, i) => (
        <Text key={`${pool.template}${i}`}>
          {'  '}
          {truncate(pool.template, 14).padEnd(14)} {String(pool.ready).padStart(3)} ready {String(pool.busy).padStart(3)} busy
        </Text>
      ))}
    </Box>
  );
}
