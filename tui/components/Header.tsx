/** @module tui/components/Header — the top lines: where you are, the project, and the keys that work here. */
import { Box } from 'ink';
import { Text } from './Text.js';
import { type BindingInfo, keyLabel } from '../keys.js';
import type { Theme } from '../theme.js';

export interface HeaderProps {
  crumbs: readonly string[];
  root: string;
  env: string;
  filter: string;
  bindings: readonly BindingInfo[];
  globals: readonly BindingInfo[];
  width: number;
  theme: Theme;
}

export function Header({ crumbs, root, env, filter, bindings, globals, width, theme }: HeaderProps) {
  const hints = [...bindings, ...globals]
    .filter((binding) => !binding.isHintHidden)
    .map((binding) => `<${binding.keys.map(keyLabel).join('/')}> ${binding.label}`)
    .join('  ');
  return (
    <Box flexDirection="column">
      <Text wrap="truncate">
        <Text bold color={theme.color('cyan')}>
          Agent Factory
        </Text>
        <Text dimColor> {root} · env {env} </Text>
        <Text bold>{crumbs.join(' › ')}</Text>
        {filter ? <Text color={theme.color('yellow')}> /{filter}</Text> : null}
      </Text>
      <Text dimColor wrap="truncate">
        {hints.length > width ? `${hints.slice(0, width - 1)}…` : hints}
      </Text>
    </Box>
  );
}
