/** @module tui/views/TemplatesView — every template: version, signature, pool, runs, error rate and p95; Enter for the manifest, r to run. */
import { Box } from 'ink';
import { Text } from '../components/Text.js';
import { type Cell, Table } from '../components/Table.js';
import { loadTemplateRows, matchesWords, type TemplateRow } from '../data.js';
import { formatMs, formatPercent } from '../format.js';
import { useBindings } from '../hooks/use-bindings.js';
import { useRefresh } from '../hooks/use-refresh.js';
import { useSelection } from '../hooks/use-selection.js';
import { useUi } from '../ui-context.js';

const SIGNATURE_COLOR = { signed: 'green', unsigned: 'yellow', untrusted: 'yellow', invalid: 'red', abstract: 'gray' } as const;

export function TemplatesView() {
  const ui = useUi();
  const { services } = ui;
  // Pools and run counts move while agents run elsewhere; a slow refresh is enough for a table.
  const loaded = useRefresh(() => loadTemplateRows(services), [services], 2000);
  const words = ui.filter.toLowerCase().split(/\s+/).filter(Boolean);
  const rows = (loaded.data ?? []).filter((row) => matchesWords(words, [row.name, row.version, row.signature]));
  const selection = useSelection(rows.length);
  const selected: TemplateRow | undefined = rows[selection.index];
  useBindings([
    ...selection.bindings,
    { keys: ['enter'], label: 'manifest', run: () => selected && ui.push({ view: 'template', name: selected.name }) },
    { keys: ['r'], label: 'run', run: () => selected && selected.signature !== 'abstract' && ui.push({ view: 'run', template: selected.name }) },
    // Reads every template from disk again, whatever the file watcher saw.
    { keys: ['ctrl+r'], label: 'reload', run: () => (services.factory.registry.clear(), loaded.reload()) },
  ]);
  if (!loaded.data) return <Text dimColor>{loaded.error ? `could not list templates: ${loaded.error}` : 'resolving templates…'}</Text>;
  const table = rows.map((row): Cell[] => [
    { text: row.name },
    { text: row.version },
    { text: row.signature, color: SIGNATURE_COLOR[row.signature] },
    { text: row.pool ? `${row.pool.ready} ready ${row.pool.busy} busy` : row.signature === 'abstract' ? '-' : 'cold' },
    { text: String(row.stats?.runs ?? 0) },
    { text: row.stats ? formatPercent(row.stats.errorRate) : '-', ...(row.stats && row.stats.errorRate > 0 ? { color: 'red' as const } : {}) },
    { text: row.stats ? formatMs(row.stats.runMs.p95) : '-' },
    { text: row.reason ?? '' },
  ]);
  return (
    <Box flexDirection="column">
      <Table
        columns={[{ title: 'name' }, { title: 'version' }, { title: 'signature' }, { title: 'pool', dropOrder: 1 }, { title: 'runs', align: 'right' }, { title: 'errors', align: 'right', dropOrder: 3 }, { title: 'p95', align: 'right', dropOrder: 2 }, { title: 'note' }]}
        rows={table}
        selected={selection.index}
        height={ui.bodyRows}
        width={ui.columns}
        theme={services.theme}
        empty={ui.filter ? `no template matches "${ui.filter}"` : `no templates in ${services.factory.config.agentsDir}`}
      />
    </Box>
  );
}
