/** @module tui/views/RunDetailView — one recorded run: what ran, for whom, its cost, input shape, tools, grants used and denials (the store keeps no inputs or outputs). */
import { Box } from 'ink';
import type { RunRecord } from '../../core/run-record.js';
import { Text } from '../components/Text.js';
import { formatBytes, formatMs, formatTime, wrapLines } from '../format.js';
import { useBindings } from '../hooks/use-bindings.js';
import { useRefresh } from '../hooks/use-refresh.js';
import { useUi } from '../ui-context.js';

/** The run's own heap growth (docs/architecture.md, "Per-run memory"), or why there is none. */
function growthText(run: RunRecord): string {
  if (run.heapGrowthBytes !== undefined) return `heap growth ${formatBytes(run.heapGrowthBytes)}`;
  if (run.censoredBy !== undefined) return `heap growth not measured (stopped by limits.${run.censoredBy})`;
  return 'heap growth not measured';
}

export function RunDetailView({ id }: { id: string }) {
  const ui = useUi();
  const { services } = ui;
  const { theme } = services;
  // A recorded run does not change: read once, when the view opens.
  const loaded = useRefresh(async () => ({ run: await services.store.queries.get(id) }), [id]);
  const run = loaded.data?.run;
  useBindings([{ keys: ['t'], label: 'template', run: () => run && ui.push({ view: 'template', name: run.template }) }]);
  if (!loaded.data) return <Text {...(loaded.error ? { color: theme.color('red') } : { dimColor: true })}>{loaded.error ?? 'loading…'}</Text>;
  if (!run) return <Text color={theme.color('red')}>run {id} is not in the store (pruned?)</Text>;
  // Long values (denials, grants, the input's shape) wrap under themselves rather than run off the screen.
  const field = (label: string, value: string, color?: 'red' | 'green' | 'yellow') => (
    <Box key={label} flexDirection="column">
      {wrapLines(value, Math.max(20, ui.columns - 12)).map((line, i) => (
        <Text key={i} wrap="truncate">
          <Text dimColor>{(i === 0 ? label : '').padEnd(12)}</Text>
          <Text {...(color ? { color: theme.color(color) } : {})}>{line}</Text>
        </Text>
      ))}
    </Box>
  );
  const tools = Object.entries(run.tools);
  return (
    <Box flexDirection="column">
      {field('run', run.id)}
      {field('template', `${run.template} ${run.version} (digest ${run.digest.slice(0, 16)})`)}
      {field('env/tenant', `${run.env} / ${run.tenant}${run.depth > 0 ? ` · spawned at depth ${run.depth} by ${run.parentId ?? '?'}` : ''}`)}
      {field('started', `${formatTime(run.startedAt)} UTC`)}
      {field('outcome', run.outcome === 'ok' ? 'ok' : (run.errorCode ?? 'error'), run.outcome === 'ok' ? 'green' : 'red')}
      {field('time', `run ${formatMs(run.runMs)} · create ${formatMs(run.createMs)} · cpu ${formatMs(run.cpuMs)}`)}
      {field('memory', `${growthText(run)} · heap at end ${formatBytes(run.heapUsedAtEndBytes)} (isolate-wide)`)}
      {run.limits ? field('limits', `cpu ${formatMs(run.limits.cpuMs)} · timeout ${formatMs(run.limits.timeoutMs)} · memory ${run.limits.memoryMb} MB${run.limits.measure ? ` · from ${run.limits.measure.name} = ${run.limits.measure.value}` : ''}`) : null}
      {run.censoredBy ? field('stopped', `by limits.${run.censoredBy}: ${run.censoredBy === 'cpuMs' ? 'cpu and run time are lower bounds' : run.censoredBy === 'timeoutMs' ? 'run time is a lower bound' : 'its memory need is above the limit'}`, 'yellow') : null}
      {field('sizes', `input ${formatBytes(run.inputBytes)} · output ${formatBytes(run.outputBytes)}${run.logsDropped > 0 ? ` · ${run.logsDropped} log entries dropped` : ''}`)}
      {field(
        'input shape',
        run.inputShape
          ? `depth ${run.inputShape.depth}, longest array ${run.inputShape.maxArrayLength}, longest string ${run.inputShape.maxStringLength}, ${run.inputShape.topLevelKeys} keys${run.inputShape.lengths ? ` ${JSON.stringify(run.inputShape.lengths)}` : ''}`
          : 'not recorded',
      )}
      {field('tools', tools.length === 0 ? 'none' : tools.map(([tool, count]) => `${tool} ×${count}`).join(', '))}
      {field('grants used', run.grantsUsed === undefined ? 'not recorded' : run.grantsUsed.length === 0 ? 'none' : run.grantsUsed.join(', '))}
      {field('denials', run.denials.length === 0 ? 'none' : run.denials.map((denial) => `${denial.permission} ${denial.target}`).join(', '), run.denials.length > 0 ? 'yellow' : undefined)}
      <Text> </Text>
      <Text dimColor wrap="wrap">The store keeps no inputs or outputs, only their sizes and the input's shape: run it again from :run to see an output.</Text>
    </Box>
  );
}
