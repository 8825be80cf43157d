/** @module tui/views/SuggestionsView — the learner's suggestions, best first: kind, template, confidence, expected impact; Enter to review. */
import { Box } from 'ink';
import { useState } from 'react';
import { type Cell, Table } from '../components/Table.js';
import { matchesWords } from '../data.js';
import { formatPercent } from '../format.js';
import { useBindings } from '../hooks/use-bindings.js';
import { useRefresh } from '../hooks/use-refresh.js';
import { useSelection } from '../hooks/use-selection.js';
import { useUi } from '../ui-context.js';

const STATE_COLOR = { open: 'cyan', canary: 'yellow', accepted: 'green', promoted: 'green', rejected: 'gray', rolled_back: 'red' } as const;

export function SuggestionsView() {
  const ui = useUi();
  const { services } = ui;
  const [isAll, setAll] = useState(false);
  const loaded = useRefresh(
    async () => {
      const { rankSuggestions } = await services.learner();
      const all = await services.store.suggestions.list();
      // Open ones to review and canaries in flight; decided ones only on request.
      const shown = isAll ? all : all.filter((s) => s.state === 'open' || s.state === 'canary');
      return rankSuggestions(shown, await services.store.suggestions.acceptanceByKind());
    },
    [isAll],
    1000,
  );
  const words = ui.filter.toLowerCase().split(/\s+/).filter(Boolean);
  const suggestions = (loaded.data ?? []).filter((s) => matchesWords(words, [s.id, s.kind, s.template, s.state, s.expectedImpact.summary]));
  const selection = useSelection(suggestions.length);
  const selected = suggestions[selection.index];
  useBindings([
    ...selection.bindings,
    { keys: ['enter'], label: 'review', run: () => selected && ui.push({ view: 'suggestion', id: selected.id }) },
    { keys: ['A'], label: isAll ? 'open only' : 'all states', run: () => setAll((value) => !value) },
  ]);
  const rows = suggestions.map((s): Cell[] => [
    { text: s.id },
    { text: s.kind },
    { text: s.template },
    { text: s.state, color: STATE_COLOR[s.state] },
    { text: formatPercent(s.confidence) },
    { text: s.expectedImpact.summary },
  ]);
  return (
    <Box flexDirection="column">
      <Table
        columns={[{ title: 'id' }, { title: 'kind' }, { title: 'template' }, { title: 'state' }, { title: 'conf', align: 'right' }, { title: 'expected impact' }]}
        rows={rows}
        selected={selection.index}
        height={ui.bodyRows}
        width={ui.columns}
        theme={services.theme}
        empty={loaded.error ?? (loaded.data ? (isAll ? 'no suggestions yet: run :learn' : 'nothing to review (A shows decided ones; :learn proposes more)') : 'loading…')}
      />
    </Box>
  );
}
