/** @module tui/components/HelpView — `?`: every key active in this view, the global keys and the `:` commands. */
import { Box } from 'ink';
import { Text } from './Text.js';
import { type BindingInfo, keyLabel } from '../keys.js';
import { COMMANDS } from '../routes.js';

export function HelpView({ title, bindings, globals }: { title: string; bindings: readonly BindingInfo[]; globals: readonly BindingInfo[] }) {
  const row = (binding: BindingInfo, i: number) => (
    <Text key={i}>
      {'  '}
      {binding.keys.map(keyLabel).join(' / ').padEnd(16)} {binding.label}
    </Text>
  );
  return (
    <Box flexDirection="column">
      <Text bold>Keys in {title}</Text>
      {bindings.length === 0 ? <Text dimColor>  (none besides the global keys)</Text> : bindings.map(row)}
      <Text bold>Global keys</Text>
      {globals.map(row)}
      <Text bold>Commands</Text>
      {COMMANDS.map((command) => (
        <Text key={command.usage}>
          {'  '}
          {command.usage.padEnd(16)} {command.description}
        </Text>
      ))}
      <Text dimColor>press ? or esc to close</Text>
    </Box>
  );
}
