/** @module learner/preview — what accepting a suggestion would do to agent.json: the text before and after, and a line diff. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Suggestion } from '../core/suggestion.js';
import { MANIFEST_FILE, type TemplateRegistry } from '../templates/index.js';
import { applyJsonPatch } from './json-patch.js';
import { bumpPatch } from './workflow.js';

export interface DiffLine {
  kind: 'same' | 'added' | 'removed';
  text: string;
}

/** A line diff by longest common subsequence; agent.json files are small, so O(n·m) is fine. */
export function diffLines(before: string, after: string): DiffLine[] {
  const a = before.split('\n');
  const b = after.split('\n');
  const lengths: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      (lengths[i] as number[])[j] = a[i] === b[j] ? ((lengths[i + 1] as number[])[j + 1] as number) + 1 : Math.max((lengths[i + 1] as number[])[j] as number, (lengths[i] as number[])[j + 1] as number);
    }
  }
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      out.push({ kind: 'same', text: a[i] as string });
      i++;
      j++;
    } else if (((lengths[i + 1] as number[])[j] as number) >= ((lengths[i] as number[])[j + 1] as number)) out.push({ kind: 'removed', text: a[i++] as string });
    else out.push({ kind: 'added', text: b[j++] as string });
  }
  while (i < a.length) out.push({ kind: 'removed', text: a[i++] as string });
  while (j < b.length) out.push({ kind: 'added', text: b[j++] as string });
  return out;
}

/**
 * The agent.json a suggestion would produce (patched, version bumped), beside the current one. Both
 * sides are shown in the 2-space layout accepting writes, so the diff shows what changes, not how
 * the file was laid out.
 */
export async function previewSuggestion(registry: TemplateRegistry, suggestion: Suggestion): Promise<{ before: string; after: string; diff: DiffLine[] }> {
  const template = await registry.inspect(suggestion.template);
  const original = JSON.parse(readFileSync(path.join(template.dir, MANIFEST_FILE), 'utf8')) as Record<string, unknown>;
  const before = `${JSON.stringify(original, null, 2)}\n`;
  const patched = applyJsonPatch(original, suggestion.patch);
  patched.version = bumpPatch(String(patched.version ?? template.version));
  const after = `${JSON.stringify(patched, null, 2)}\n`;
  return { before, after, diff: diffLines(before, after) };
}
