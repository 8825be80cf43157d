/** @module tui/views/AuditView — the audit log, newest first, under the verdict on its hash chain. */
import { Box } from 'ink';
import { Text } from '../components/Text.js';
import { useState } from 'react';
import { type Cell, Table } from '../components/Table.js';
import { matchesWords } from '../data.js';
import { compactJson, count, formatTime, wrapLines } from '../format.js';
import { useBindings } from '../hooks/use-bindings.js';
import { useRefresh } from '../hooks/use-refresh.js';
import { useSelection } from '../hooks/use-selection.js';
import { useUi } from '../ui-context.js';

export function AuditView() {
  const ui = useUi();
  const { services } = ui;
  const { theme } = services;
  const [isExpanded, setExpanded] = useState(false);
  // Verifying walks the whole chain; every few seconds is plenty for a log that only grows.
  const loaded = useRefresh(async () => ({ verification: await services.store.audit.verify(), entries: await services.store.audit.list({ limit: 500 }) }), [], 3000);
  const words = ui.filter.toLowerCase().split(/\s+/).filter(Boolean);
  const entries = (loaded.data?.entries ?? []).filter((entry) => matchesWords(words, [entry.type, entry.actor, entry.subject, JSON.stringify(entry.data)]));
  const selection = useSelection(entries.length);
  const selected = entries[selection.index];
  useBindings([...selection.bindings, { keys: ['enter'], label: isExpanded ? 'hide data' : 'show data', run: () => setExpanded((value) => !value) }]);
  if (!loaded.data) return <Text dimColor>{loaded.error ?? 'verifying the chain…'}</Text>;
  const { verification } = loaded.data;
  const rows = entries.map((entry): Cell[] => [
    { text: String(entry.seq) },
    { text: formatTime(entry.at) },
    { text: entry.type, ...(entry.type.includes('denied') || entry.type.includes('rejected') ? { color: 'yellow' as const } : {}) },
    { text: entry.actor },
    { text: entry.subject },
    { text: compactJson(entry.data, 200) },
  ]);
  // Wrapped, not cut: "show data" is where a long message is read to its end.
  const detail = isExpanded && selected ? wrapLines(JSON.stringify(selected.data, null, 2) ?? 'null', ui.columns - 4) : [];
  const detailRoom = Math.max(3, ui.bodyRows - 6);
  const isDetailCut = detail.length > detailRoom;
  const detailRows = Math.min(detail.length, detailRoom);
  return (
    <Box flexDirection="column">
      {verification.ok ? (
        <Text color={theme.color('green')}>
          ✓ chain intact: {count(verification.entries, 'entry', 'entries')}, head {verification.head.slice(0, 16)}
          {verification.anchor ? `, anchored at #${verification.anchor.seq}` : ', not anchored'}
        </Text>
      ) : (
        <Text color={theme.color('red')} bold>
          ✗ chain broken at entry {verification.firstBad.seq} ({verification.firstBad.kind}): {verification.firstBad.message} ({count(verification.entries, 'entry', 'entries')})
        </Text>
      )}
      <Table
        columns={[{ title: 'seq', align: 'right' }, { title: 'at (utc)' }, { title: 'type' }, { title: 'actor', dropOrder: 1 }, { title: 'subject', maxWidth: 24 }, { title: 'data' }]}
        rows={rows}
        selected={selection.index}
        height={ui.bodyRows - 1 - detailRows}
        width={ui.columns}
        theme={theme}
        empty="the audit log is empty"
      />
      {detail.slice(0, isDetailCut ? detailRows - 1 : detailRows).map((line, i) => (
        <Text key={i} wrap="truncate">
          {'    '}
          {line}
        </Text>
      ))}
      {isDetailCut ? <Text dimColor>{`    … ${detail.length - detailRows + 1} more lines (af audit --json for all of it)`}</Text> : null}
    </Box>
  );
}
