/** @module tui/views/RunsView — run history, newest first, filtered by `/template:NAME outcome:error since:1h` and free words; Enter for one run. */
import { Box } from 'ink';
import { Text } from '../components/Text.js';
import { type Cell, Table } from '../components/Table.js';
import { matchesWords, parseRunFilter } from '../data.js';
import { formatMs, formatTime, parseDuration } from '../format.js';
import { useBindings } from '../hooks/use-bindings.js';
import { useRefresh } from '../hooks/use-refresh.js';
import { useSelection } from '../hooks/use-selection.js';
import { useUi } from '../ui-context.js';

const LIMIT = 500;

export function RunsView() {
  const ui = useUi();
  const { services } = ui;
  const parsed = parseRunFilter(ui.filter, services.now(), parseDuration);
  const loaded = useRefresh(
    () =>
      services.store.queries.list({
        ...(parsed.template ? { template: parsed.template } : {}),
        ...(parsed.outcome ? { outcome: parsed.outcome } : {}),
        ...(parsed.since !== undefined ? { since: parsed.since } : {}),
        limit: LIMIT,
      }),
    [ui.filter],
    1000,
  );
  const runs = (loaded.data ?? []).filter((run) => matchesWords(parsed.words, [run.id, run.template, run.version, run.errorCode, run.tenant, run.outcome]));
  const selection = useSelection(runs.length);
  const selected = runs[selection.index];
  useBindings([...selection.bindings, { keys: ['enter'], label: 'details', run: () => selected && ui.push({ view: 'run-detail', id: selected.id }) }]);
  const rows = runs.map((run): Cell[] => [
    { text: formatTime(run.startedAt) },
    { text: run.template },
    { text: run.version },
    run.outcome === 'ok' ? { text: 'ok', color: 'green' } : { text: run.errorCode ?? 'error', color: 'red' },
    { text: formatMs(run.runMs) },
    { text: formatMs(run.createMs) },
    { text: run.tenant },
    { text: run.id.slice(-8) },
  ]);
  const summary = [
    parsed.template ? `template ${parsed.template}` : undefined,
    parsed.outcome ? `outcome ${parsed.outcome}` : undefined,
    parsed.since !== undefined ? `since ${formatTime(parsed.since)}` : undefined,
    parsed.words.length > 0 ? `matching "${parsed.words.join(' ')}"` : undefined,
  ].filter(Boolean);
  return (
    <Box flexDirection="column">
      <Text wrap="truncate">
        <Text dimColor>
          {runs.length}
          {loaded.data?.length === LIMIT ? '+' : ''} {runs.length === 1 && loaded.data?.length !== LIMIT ? 'run' : 'runs'}
          {summary.length > 0 ? `, ${summary.join(', ')}` : ' (filter with / template:NAME outcome:error since:1h)'}
        </Text>
        {parsed.problems.length > 0 ? <Text color={services.theme.color('red')}> {parsed.problems.join('; ')}</Text> : null}
      </Text>
      <Table
        columns={[{ title: 'started (utc)' }, { title: 'template' }, { title: 'version', dropOrder: 3 }, { title: 'outcome' }, { title: 'run', align: 'right' }, { title: 'create', align: 'right', dropOrder: 1 }, { title: 'tenant', dropOrder: 2 }, { title: 'id' }]}
        rows={rows}
        selected={selection.index}
        height={ui.bodyRows - 1}
        width={ui.columns}
        theme={services.theme}
        empty={loaded.data ? 'no runs recorded match' : 'loading…'}
      />
    </Box>
  );
}
