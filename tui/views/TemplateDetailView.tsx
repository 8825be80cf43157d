/** @module tui/views/TemplateDetailView — one template: the resolved manifest that runs, its digest, and every recorded version. */
import { Box } from 'ink';
import { Text } from '../components/Text.js';
import { useState } from 'react';
import { formatTime, wrapLines } from '../format.js';
import { useBindings } from '../hooks/use-bindings.js';
import { useRefresh } from '../hooks/use-refresh.js';
import { useUi } from '../ui-context.js';

export function TemplateDetailView({ name }: { name: string }) {
  const ui = useUi();
  const { services } = ui;
  const [scroll, setScroll] = useState(0);
  const loaded = useRefresh(
    async () => {
      const template = await services.factory.registry.inspect(name);
      return { template, versions: await services.store.versions.list(name) };
    },
    [name],
  );
  const data = loaded.data;
  const manifestLines = data ? JSON.stringify(data.template.manifest, null, 2).split('\n') : [];
  const matching = ui.filter ? manifestLines.filter((line) => line.toLowerCase().includes(ui.filter.toLowerCase())) : manifestLines;
  // Long lines (descriptions, schemas) wrap; the scroll moves over wrapped lines.
  const filtered = matching.flatMap((line) => wrapLines(line, Math.max(20, ui.columns - 1)));
  const versionRows = Math.min(data?.versions.length ?? 0, 6);
  const room = Math.max(3, ui.bodyRows - 6 - versionRows);
  const maxScroll = Math.max(0, filtered.length - room);
  const top = Math.min(scroll, maxScroll);
  useBindings([
    { keys: ['up', 'k'], label: 'scroll up', isHintHidden: true, run: () => setScroll(Math.max(0, top - 1)) },
    { keys: ['down', 'j'], label: 'scroll down', isHintHidden: true, run: () => setScroll(Math.min(maxScroll, top + 1)) },
    { keys: ['pgdn'], label: 'page down', isHintHidden: true, run: () => setScroll(Math.min(maxScroll, top + room)) },
    { keys: ['pgup'], label: 'page up', isHintHidden: true, run: () => setScroll(Math.max(0, top - room)) },
    { keys: ['r'], label: 'run', run: () => data && !data.template.abstract && ui.push({ view: 'run', template: name }) },
  ]);
  if (!data) return <Text color={services.theme.color('red')}>{loaded.error ?? 'resolving…'}</Text>;
  const { template, versions } = data;
  return (
    <Box flexDirection="column">
      <Text>
        <Text bold>{template.name}</Text> {template.version} <Text dimColor>env {template.env} · chain {template.chain.join(' → ')}</Text>
      </Text>
      <Text wrap="truncate">
        <Text dimColor>digest </Text>
        {template.abstract ? 'abstract (never runs)' : template.digest}
      </Text>
      <Text bold>versions {versions.length === 0 ? <Text dimColor>(none recorded yet: a version is recorded when it first runs or is signed)</Text> : null}</Text>
      {versions.slice(-versionRows).map((version) => (
        <Text key={version.version} wrap="truncate">
          {'  '}
          {version.version.padEnd(10)} {version.digest.slice(0, 16)} {(version.signed ? 'signed' : 'unsigned').padEnd(9)} {formatTime(version.recordedAt)}
          {version.version === template.version ? ' ← on disk' : ''}
        </Text>
      ))}
      <Text bold>
        resolved manifest <Text dimColor>(lines {filtered.length === 0 ? 0 : top + 1}-{Math.min(filtered.length, top + room)} of {filtered.length})</Text>
      </Text>
      {filtered.slice(top, top + room).map((line, i) => (
        <Text key={top + i} wrap="truncate">
          {line}
        </Text>
      ))}
    </Box>
  );
}
