/** @module tui/views/RunView — pick a template, edit its input JSON (checked against the input schema as you type), run it, read logs and output. */
import { Box } from 'ink';
import { Text } from '../components/Text.js';
import { type ReactElement, useState } from 'react';
import type { JsonSchema, ResolvedTemplate } from '../../templates/index.js';
import type { RunReport } from '../../runtime/index.js';
import { Table } from '../components/Table.js';
import { TextField } from '../components/TextField.js';
import { formatBytes, formatMs, truncate } from '../format.js';
import { useBindings } from '../hooks/use-bindings.js';
import { useCapture } from '../hooks/use-capture.js';
import { useRefresh } from '../hooks/use-refresh.js';
import { useSelection } from '../hooks/use-selection.js';
import { describeError } from '../services.js';
import { useUi } from '../ui-context.js';

export function RunView({ template }: { template?: string }) {
  return template ? <RunEditor name={template} /> : <TemplatePicker />;
}

function TemplatePicker() {
  const ui = useUi();
  const names = ui.services.factory.registry.names().filter((name) => name.toLowerCase().includes(ui.filter.toLowerCase()));
  const selection = useSelection(names.length);
  useBindings([
    ...selection.bindings,
    { keys: ['enter'], label: 'pick', run: () => names[selection.index] && ui.push({ view: 'run', template: names[selection.index] as string }) },
  ]);
  return (
    <Box flexDirection="column">
      <Text>Pick a template to run:</Text>
      <Table columns={[{ title: 'template' }]} rows={names.map((name) => [name])} selected={selection.index} height={ui.bodyRows - 1} width={ui.columns} theme={ui.services.theme} />
    </Box>
  );
}

/** A starting input from the schema: each required property with an empty value of its type. */
export function inputSkeleton(schema: JsonSchema | undefined): unknown {
  const s = (schema ?? {}) as { type?: unknown; required?: string[]; properties?: Record<string, { type?: unknown }> };
  if (s.type !== 'object' && !s.properties) return {};
  const out: Record<string, unknown> = {};
  for (const key of s.required ?? []) {
    const type = s.properties?.[key]?.type;
    out[key] = type === 'string' ? '' : type === 'number' || type === 'integer' ? 0 : type === 'boolean' ? false : type === 'array' ? [] : type === 'object' ? {} : null;
  }
  return out;
}

type Check = { kind: 'json'; message: string } | { kind: 'schema'; problems: string[] } | { kind: 'valid' };

function check(template: ResolvedTemplate, text: string): { check: Check; value?: unknown } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { check: { kind: 'json', message: (error as Error).message } };
  }
  const result = template.validateInput(value);
  if (result.valid) return { check: { kind: 'valid' }, value };
  return { check: { kind: 'schema', problems: result.errors.map((problem) => `${problem.pointer || '/'} ${problem.message}`) }, value };
}

function RunEditor({ name }: { name: string }) {
  const ui = useUi();
  const { services } = ui;
  const { theme } = services;
  const loaded = useRefresh(() => services.factory.registry.inspect(name), [name]);
  const template = loaded.data;
  const [text, setText] = useState<string | undefined>();
  const [isEditing, setEditing] = useState(true);
  const [isRunning, setRunning] = useState(false);
  const [report, setReport] = useState<RunReport | { ok: false; error: { code: string; message: string }; stats?: undefined; runId?: undefined } | undefined>();
  const [runs, setRuns] = useState(0);
  const input = text ?? (template ? JSON.stringify(inputSkeleton(template.manifest.input)) : '{}');
  const checked = template ? check(template, input) : undefined;
  useCapture(isEditing && template !== undefined);

  const run = () => {
    if (!template || isRunning) return;
    if (!checked || checked.check.kind === 'json') {
      ui.setStatus({ kind: 'error', text: 'the input is not JSON; fix it before running' });
      return;
    }
    setRunning(true);
    ui.setStatus(undefined);
    // An input the schema rejects still runs: the agent's E_INPUT_INVALID is what a caller would see.
    services.factory
      .runSettled(name, checked.value)
      .then(
        (result) => setReport(result),
        (error: unknown) => setReport({ ok: false, error: { code: (error as { code?: string }).code ?? 'E_INTERNAL', message: describeError(error) } }),
      )
      .finally(() => {
        setRunning(false);
        setRuns((count) => count + 1);
      });
  };

  useBindings(
    isEditing
      ? [
          { keys: ['enter'], label: 'run' },
          { keys: ['esc'], label: 'stop editing' },
          { keys: ['ctrl+u'], label: 'clear input' },
        ]
      : [
          { keys: ['r', 'enter'], label: 'run again', run },
          { keys: ['e'], label: 'edit input', run: () => setEditing(true) },
        ],
  );

  if (!template) return <Text color={theme.color('red')}>{loaded.error ?? `resolving ${name}…`}</Text>;
  const schemaText = template.manifest.input ? truncate(JSON.stringify(template.manifest.input), ui.columns - 8) : 'none: any JSON';
  const lines: ReactElement[] = [];
  let room = ui.bodyRows - 6;
  const add = (element: ReactElement) => {
    if (room-- > 0) lines.push(element);
  };
  if (isRunning) add(<Text key="running">running…</Text>);
  else if (report) {
    const stats = report.stats;
    add(
      <Text key="outcome" wrap="truncate">
        {report.ok ? <Text color={theme.color('green')} bold>ok</Text> : <Text color={theme.color('red')} bold>{report.error.code}</Text>}
        {report.ok ? '' : ` ${report.error.message}`}
        {stats ? <Text dimColor>{`  run ${formatMs(stats.runMs)} · create ${formatMs(stats.createMs)} · cpu ${formatMs(stats.cpuMs)} · heap ${formatBytes(stats.heapUsedAtEndBytes)} · run #${runs}`}</Text> : null}
      </Text>,
    );
    // Which code ran: two edits of one version differ in their digest.
    if ('digest' in report) add(<Text key="origin" dimColor wrap="truncate">{`ran ${report.version} ${report.digest.slice(0, 12)} ${report.source} ${report.signed ? `signed${report.keyId ? ` by ${report.keyId}` : ''}` : 'unsigned'}`}</Text>);
    if (stats) {
      add(<Text key="logs-title" bold>logs {stats.logs.length === 0 ? <Text dimColor>(none)</Text> : null}{stats.logsDropped > 0 ? <Text dimColor> ({stats.logsDropped} dropped)</Text> : null}</Text>);
      for (const [i, entry] of stats.logs.slice(-5).entries()) {
        add(
          <Text key={`log${i}`} wrap="truncate">
            {'  '}
            <Text color={entry.level === 'error' ? theme.color('red') : entry.level === 'warn' ? theme.color('yellow') : undefined}>{entry.level.padEnd(5)}</Text> {entry.message}
            {entry.fields !== undefined ? <Text dimColor> {JSON.stringify(entry.fields)}</Text> : null}
          </Text>,
        );
      }
      if (stats.denials.length > 0) add(<Text key="denials" color={theme.color('yellow')} wrap="truncate">denied: {stats.denials.map((d) => `${d.permission} ${d.target}`).join(', ')}</Text>);
    }
    if (report.ok) {
      add(<Text key="output-title" bold>output</Text>);
      for (const [i, line] of (JSON.stringify(report.output, null, 2) ?? 'undefined').split('\n').entries()) add(<Text key={`out${i}`} wrap="truncate">{`  ${line}`}</Text>);
    }
  }
  return (
    <Box flexDirection="column">
      <Text wrap="truncate">
        <Text bold>{template.name}</Text> {template.version} <Text dimColor>input schema {schemaText}</Text>
      </Text>
      <TextField
        label="input › "
        value={input}
        isActive={isEditing}
        onChange={setText}
        onSubmit={run}
        onCancel={() => setEditing(false)}
      />
      {checked?.check.kind === 'valid' ? (
        <Text color={theme.color('green')}>✓ matches the input schema</Text>
      ) : checked?.check.kind === 'json' ? (
        <Text color={theme.color('red')} wrap="truncate">✗ not JSON: {checked.check.message}</Text>
      ) : (
        <Text color={theme.color('yellow')} wrap="truncate">✗ {checked?.check.kind === 'schema' ? checked.check.problems.join('; ') : ''}</Text>
      )}
      <Text> </Text>
      {lines}
    </Box>
  );
}
