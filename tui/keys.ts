/** @module tui/keys — key bindings as data, so the header hints, the `?` help and the handlers come from one list and cannot disagree. */
import type { Key } from 'ink';

export interface Binding {
  /** Key names: a printable character, or enter, esc, up, down, left, right, pgup, pgdn, home, end, tab. */
  keys: readonly string[];
  label: string;
  /** Left out of the header hints (still listed by `?`): for movement keys every list has. */
  isHintHidden?: boolean;
  /** Absent for keys a text field handles itself; listed so the help stays complete. */
  run?(): void;
}

export type BindingInfo = Omit<Binding, 'run'>;

/** The name of the key Ink reported, in the vocabulary of {@link Binding.keys}. */
export function keyName(input: string, key: Key): string {
  if (key.return) return 'enter';
  if (key.escape) return 'esc';
  if (key.upArrow) return 'up';
  if (key.downArrow) return 'down';
  if (key.leftArrow) return 'left';
  if (key.rightArrow) return 'right';
  if (key.pageUp) return 'pgup';
  if (key.pageDown) return 'pgdn';
  if (key.home) return 'home';
  if (key.end) return 'end';
  if (key.tab) return 'tab';
  if (key.ctrl) return `ctrl+${input}`;
  return input;
}

const LABELS: Record<string, string> = { up: '↑', down: '↓', left: '←', right: '→', pgup: 'PgUp', pgdn: 'PgDn' };

export function keyLabel(name: string): string {
  return LABELS[name] ?? name;
}

/** Keys every view has, handled by the app itself. */
export const GLOBAL_BINDINGS: readonly BindingInfo[] = [
  { keys: [':'], label: 'command' },
  { keys: ['/'], label: 'filter' },
  { keys: ['?'], label: 'help' },
  { keys: ['esc'], label: 'back / clear filter' },
  { keys: ['q', ':q'], label: 'quit' },
  { keys: ['ctrl+c'], label: 'quit', isHintHidden: true },
];
