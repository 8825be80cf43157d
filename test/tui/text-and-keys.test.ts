// The pure parts behind keys that arrive together, wrapping, column fitting and counts.
import { describe, expect, it } from 'vitest';
import type { Key } from 'ink';
import { fitColumns } from '../../tui/components/Table.js';
import { count, wrapLines } from '../../tui/format.js';
import { splitKeys } from '../../tui/key-events.js';

const plain = { upArrow: false, downArrow: false, leftArrow: false, rightArrow: false, pageDown: false, pageUp: false, home: false, end: false, return: false, escape: false, ctrl: false, shift: false, tab: false, backspace: false, delete: false, meta: false } as Key;

describe('splitKeys', () => {
  it('turns one read of several keys into one press each, Enter, Backspace and Ctrl+letter included', () => {
    const presses = splitKeys(':q\r\u007F\u0015j', plain);
    expect(presses.map((press) => press.input)).toEqual([':', 'q', '', '', 'u', 'j']);
    expect(presses[2]?.key.return).toBe(true);
    expect(presses[3]?.key.backspace).toBe(true);
    expect(presses[4]?.key.ctrl).toBe(true);
  });

  it('leaves a key Ink already named alone', () => {
    expect(splitKeys('', { ...plain, downArrow: true })).toHaveLength(1);
    expect(splitKeys('j', plain)).toEqual([{ input: 'j', key: plain }]);
  });
});

describe('wrapLines', () => {
  it('breaks at spaces within the width, keeps short lines, and hangs continuations under the indentation', () => {
    expect(wrapLines('short', 10)).toEqual(['short']);
    const lines = wrapLines('  "message": "one two three four five six"', 20);
    expect(lines.every((line) => line.length <= 20)).toBe(true);
    expect(lines.join(' ').replace(/\s+/g, ' ')).toContain('one two three four five six');
    expect(lines[1]?.startsWith('  ')).toBe(true);
    expect(wrapLines('x'.repeat(25), 10)).toEqual(['x'.repeat(10), 'x'.repeat(10), 'x'.repeat(5)]);
  });
});

describe('fitColumns', () => {
  it('hides columns in drop order, then narrows the widest, to fit the width', () => {
    const columns = [{ title: 'started' }, { title: 'tenant', dropOrder: 1 }, { title: 'outcome' }, { title: 'id' }];
    expect(fitColumns(columns, [19, 10, 15, 8], 80).map((entry) => entry.index)).toEqual([0, 1, 2, 3]);
    expect(fitColumns(columns, [19, 10, 15, 8], 50).map((entry) => entry.index)).toEqual([0, 2, 3]);
    const narrow = fitColumns(columns, [19, 10, 15, 8], 40);
    expect(narrow.map((entry) => entry.index)).toEqual([0, 2, 3]);
    expect(2 + narrow.slice(0, -1).reduce((sum, entry) => sum + entry.width + 2, 0) + 8).toBeLessThanOrEqual(40);
  });
});

describe('count', () => {
  it('puts the noun in the right number', () => {
    expect(count(1, 'run')).toBe('1 run');
    expect(count(0, 'error')).toBe('0 errors');
    expect(count(2, 'entry', 'entries')).toBe('2 entries');
  });
});
