/** @module tui/key-events — splits what one terminal read delivered into single key presses, so keys that arrive together are each handled. */
import type { Key } from 'ink';

export interface KeyPress {
  input: string;
  key: Key;
}

const NO_KEY: Key = {
  upArrow: false,
  downArrow: false,
  leftArrow: false,
  rightArrow: false,
  pageDown: false,
  pageUp: false,
  home: false,
  end: false,
  return: false,
  escape: false,
  ctrl: false,
  shift: false,
  tab: false,
  backspace: false,
  delete: false,
  meta: false,
  super: false,
  hyper: false,
  capsLock: false,
  numLock: false,
};

/**
 * Ink splits a read only at escape sequences: `jjjj` typed fast, `:learn` + Enter, or a paste reaches useInput as one
 * string with no key flags, which no handler matches as `j` or Enter. This turns such a chunk back into the presses
 * it was made of (Enter, Tab, Backspace and Ctrl+letter included); a chunk Ink already named is passed through.
 */
export function splitKeys(input: string, key: Key): KeyPress[] {
  const chars = [...input];
  const isNamed = key.upArrow || key.downArrow || key.leftArrow || key.rightArrow || key.pageDown || key.pageUp || key.home || key.end || key.return || key.escape || key.tab || key.backspace || key.delete || key.ctrl || key.meta;
  if (chars.length <= 1 || isNamed) return [{ input, key }];
  return chars.map(charPress);
}

function charPress(char: string): KeyPress {
  const code = char.codePointAt(0) ?? 0;
  if (char === '\r' || char === '\n') return { input: '', key: { ...NO_KEY, return: true } };
  if (char === '\t') return { input: '', key: { ...NO_KEY, tab: true } };
  if (char === '\u007F' || char === '\b') return { input: '', key: { ...NO_KEY, backspace: true } };
  if (char === '\u001B') return { input: '', key: { ...NO_KEY, escape: true, meta: true } };
  if (code >= 1 && code <= 26) return { input: String.fromCharCode(code + 96), key: { ...NO_KEY, ctrl: true } };
  return { input: char, key: { ...NO_KEY, shift: /[A-Z]/.test(char) } };
}

/** A press that only adds text (no Enter, Esc, arrows or control keys): consecutive ones can go to a text field at once. */
export function isPlainText(press: KeyPress): boolean {
  const { key } = press;
  return press.input !== '' && !key.ctrl && !key.meta && !key.return && !key.escape && !key.tab && !key.backspace && !key.delete;
}
