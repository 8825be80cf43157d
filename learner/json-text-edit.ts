/** @module learner/json-text-edit — rewrites a JSON file's text from one value to another touching only what changed, so the author's formatting and key order survive and the git diff shows exactly the change. */
import { applyEdits, findNodeAtLocation, type FormattingOptions, type JSONPath, modify, type Node, parse, parseTree } from 'jsonc-parser';
import { sameJson } from '../core/canonical-json.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * The text of `after`, made by editing `text` (which holds `before`) in place: only the values that differ are
 * rewritten, with jsonc-parser's `modify`, in the file's own indentation and line endings. Anything the edit cannot
 * express faithfully falls back to pretty-printed JSON, so the result always parses to `after`.
 * @example editJsonText('{ "a": 1,\n  "b": [1, 2] }', { a: 1, b: [1, 2] }, { a: 1, b: [2] }) // '{ "a": 1,\n  "b": [2] }'
 */
export function editJsonText(text: string, before: unknown, after: unknown): string {
  const formatting = formattingOf(text);
  let edited = text;
  try {
    for (const [path, value] of differences(before as Json, after as Json, [])) {
      if (value === undefined && typeof path[path.length - 1] === 'number') edited = removeArrayItem(edited, path);
      // A removal is left unformatted: formatting would re-indent the whole enclosing object or array.
      else edited = applyEdits(edited, modify(edited, path, value, value === undefined ? {} : { formattingOptions: formatting }));
    }
  } catch {
    edited = '';
  }
  if (edited !== '' && sameJson(parse(edited), after)) return edited;
  const eol = formatting.eol ?? '\n';
  return `${JSON.stringify(after, null, formatting.insertSpaces ? formatting.tabSize : '\t').replace(/\n/g, eol)}${eol}`;
}

/** The edits from `before` to `after`, as (path, new value or undefined to remove), deepest first where it matters. */
function differences(before: Json | undefined, after: Json | undefined, path: JSONPath): Array<[JSONPath, Json | undefined]> {
  if (sameJson(before, after)) return [];
  if (isObject(before) && isObject(after)) {
    const out: Array<[JSONPath, Json | undefined]> = [];
    for (const key of Object.keys(before)) if (!Object.hasOwn(after, key)) out.push([[...path, key], undefined]);
    for (const key of Object.keys(after)) out.push(...differences(Object.hasOwn(before, key) ? before[key] : undefined, after[key], [...path, key]));
    return out;
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    if (before.length === after.length) return before.flatMap((item, index) => differences(item, after[index], [...path, index]));
    // Entries taken out (least privilege): remove them one by one, from the end so earlier indexes stay put.
    const kept = subsequenceIndexes(after, before);
    if (kept) {
      const removed = before.map((_, index) => index).filter((index) => !kept.has(index));
      return removed.reverse().map((index): [JSONPath, undefined] => [[...path, index], undefined]);
    }
  }
  return [[path, after]];
}

/**
 * Removes one array item with the separator beside it, keeping everything else as written. jsonc-parser 3.3's `modify`
 * leaves a stray quote when it removes the last item of an array (`["A", "B"]` → `["A""]`), so this is done here.
 */
function removeArrayItem(text: string, path: JSONPath): string {
  const array = findNodeAtLocation(parseTree(text) as Node, path.slice(0, -1));
  const index = path[path.length - 1] as number;
  const items = array?.type === 'array' ? (array.children ?? []) : [];
  const item = items[index];
  if (!item) throw new Error(`no item at ${path.join('/')}`);
  const previous = items[index - 1];
  const next = items[index + 1];
  // `, X` after a previous item; `X, ` before the next one; `X` alone.
  const [start, end] = previous ? [previous.offset + previous.length, item.offset + item.length] : next ? [item.offset, next.offset] : [item.offset, item.offset + item.length];
  return text.slice(0, start) + text.slice(end);
}

/** Indexes of `whole` that keep `part` in order, when `part` is `whole` with some entries removed; else undefined. */
function subsequenceIndexes(part: readonly Json[], whole: readonly Json[]): Set<number> | undefined {
  const kept = new Set<number>();
  let at = 0;
  for (const item of part) {
    while (at < whole.length && !sameJson(whole[at], item)) at++;
    if (at === whole.length) return undefined;
    kept.add(at++);
  }
  return kept;
}

/** The file's own style: the indentation of its first indented line and its line ending. */
function formattingOf(text: string): FormattingOptions {
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const indent = /\n([ \t]+)\S/.exec(text)?.[1] ?? '  ';
  return indent.startsWith('\t') ? { insertSpaces: false, tabSize: 1, eol } : { insertSpaces: true, tabSize: indent.length, eol };
}

function isObject(value: Json | undefined): value is { [key: string]: Json } {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
