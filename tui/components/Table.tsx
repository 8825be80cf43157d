/** @module tui/components/Table — rows in aligned columns with a highlighted row, showing only the window of rows that fits. */
import { Box } from 'ink';
import { Text } from './Text.js';
import { escapeLine } from '../../core/terminal-text.js';
import { truncate } from '../format.js';
import type { ColorName, Theme } from '../theme.js';

export interface Cell {
  text: string;
  color?: ColorName;
}

export interface Column {
  title: string;
  /** Most characters the column takes; the last column gets what is left. */
  maxWidth?: number;
  align?: 'left' | 'right';
  /** When the rows are wider than the terminal, columns with a drop order are hidden, 1 first, then 2…; the rest stay. */
  dropOrder?: number;
}

export interface TableProps {
  columns: readonly Column[];
  rows: ReadonlyArray<ReadonlyArray<Cell | string>>;
  selected?: number;
  /** Rows available, including the title row. */
  height: number;
  width: number;
  theme: Theme;
  empty?: string;
}

export function Table({ columns, rows, selected, height, width, theme, empty = 'nothing to show' }: TableProps) {
  // Escaped before measuring, so a hostile cell is as wide as what is drawn.
  const escaped = rows.map((row) => row.map((cell) => (typeof cell === 'string' ? { text: escapeLine(cell) } : { ...cell, text: escapeLine(cell.text) })));
  const natural = columns.map((column, i) => Math.min(column.maxWidth ?? 60, Math.max(column.title.length, ...escaped.map((row) => row[i]?.text.length ?? 0))));
  const fit = fitColumns(columns, natural, width);
  const shown = fit.map((entry) => columns[entry.index] as Column);
  const widths = fit.map((entry) => entry.width);
  const cells = escaped.map((row) => fit.map((entry) => row[entry.index] ?? { text: '' }));
  const visible = Math.max(1, height - 1);
  const first = selected === undefined ? 0 : Math.max(0, Math.min(selected - Math.floor(visible / 2), rows.length - visible));
  const line = (row: readonly Cell[], isTitle: boolean, isSelected: boolean, key: string) => {
    let used = 2;
    const parts = row.map((cell, i) => {
      const isLast = i === row.length - 1;
      const column = shown[i] as Column;
      const room = isLast ? Math.max(0, width - used) : (widths[i] as number);
      used += room + 2;
      const text = truncate(cell.text, room);
      const padded = isLast ? text : column.align === 'right' ? text.padStart(room) : text.padEnd(room);
      return (
        <Text key={i} {...(cell.color && !isSelected ? { color: theme.color(cell.color) } : {})}>
          {padded}
          {isLast ? '' : '  '}
        </Text>
      );
    });
    return (
      <Text key={key} bold={isTitle || isSelected} inverse={isSelected && theme.isColor} dimColor={isTitle} wrap="truncate">
        {isSelected ? '› ' : '  '}
        {parts}
      </Text>
    );
  };
  return (
    <Box flexDirection="column">
      {line(shown.map((column) => ({ text: column.title.toUpperCase() })), true, false, 'title')}
      {rows.length === 0 ? <Text dimColor>  {empty}</Text> : null}
      {cells.slice(first, first + visible).map((row, i) => line(row, false, first + i === selected, String(first + i)))}
    </Box>
  );
}

/** The last column gets at least this much (or its whole width when narrower) before other columns are narrowed. */
const LAST_COLUMN_MIN = 12;

/**
 * Which columns to draw, and how wide, so a row fits in `width` (80 columns included): columns are hidden in their
 * drop order, then the widest are narrowed (their cells cut with …) down to their title's width, never below 4.
 */
export function fitColumns(columns: readonly Column[], natural: readonly number[], width: number): Array<{ index: number; width: number }> {
  let entries = columns.map((column, index) => ({ index, width: natural[index] ?? column.title.length, column }));
  const needed = () => {
    const last = entries[entries.length - 1];
    const lastWidth = last ? Math.min(last.width, LAST_COLUMN_MIN) : 0;
    // The selection marker (2), the fixed columns, two spaces after each, and the last column's share.
    return 2 + entries.slice(0, -1).reduce((sum, entry) => sum + entry.width + 2, 0) + lastWidth;
  };
  const droppable = entries.filter((entry) => entry.column.dropOrder !== undefined).sort((a, b) => (a.column.dropOrder as number) - (b.column.dropOrder as number));
  for (const entry of droppable) {
    if (needed() <= width) break;
    entries = entries.filter((candidate) => candidate !== entry);
  }
  while (needed() > width) {
    const fixed = entries.slice(0, -1);
    const widest = fixed.reduce<(typeof fixed)[number] | undefined>((best, entry) => (entry.width > Math.max(4, entry.column.title.length) && (!best || entry.width > best.width) ? entry : best), undefined);
    if (!widest) break;
    widest.width--;
  }
  return entries.map(({ index, width: columnWidth }) => ({ index, width: columnWidth }));
}
