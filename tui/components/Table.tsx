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
  const cells = rows.map((row) => row.map((cell) => (typeof cell === 'string' ? { text: escapeLine(cell) } : { ...cell, text: escapeLine(cell.text) })));
  const widths = columns.map((column, i) => Math.min(column.maxWidth ?? 60, Math.max(column.title.length, ...cells.map((row) => row[i]?.text.length ?? 0))));
  const visible = Math.max(1, height - 1);
  const first = selected === undefined ? 0 : Math.max(0, Math.min(selected - Math.floor(visible / 2), rows.length - visible));
  const line = (row: readonly Cell[], isTitle: boolean, isSelected: boolean, key: string) => {
    let used = 2;
    const parts = row.map((cell, i) => {
      const isLast = i === row.length - 1;
      const column = columns[i] as Column;
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
      {line(columns.map((column) => ({ text: column.title.toUpperCase() })), true, false, 'title')}
      {rows.length === 0 ? <Text dimColor>  {empty}</Text> : null}
      {cells.slice(first, first + visible).map((row, i) => line(row, false, first + i === selected, String(first + i)))}
    </Box>
  );
}
