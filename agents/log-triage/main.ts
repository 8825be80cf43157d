// Finds the error lines of a log, groups them by their normalised shape and returns the largest groups,
// each with its count, the share of error lines, the first and last line numbers, and one example line.
import { defineAgent, type Context } from 'agent-factory/agent';
import { normalise } from './normalise.ts';

interface Input {
  log: string;
  topN?: number;
  levels?: string[];
}

type Config = { topN?: number; levels?: string[] };

interface Group {
  pattern: string;
  count: number;
  example: string;
  firstLine: number;
  lastLine: number;
}

export default defineAgent(function run(input: Input, ctx: Context<Config>) {
  const topN = input.topN ?? ctx.config.topN ?? 5;
  const levels = (input.levels ?? ctx.config.levels ?? ['error']).map((level) => level.toLowerCase());
  // Whole words only: "error" must not match "errorless", nor "err" match "stderr".
  const marker = new RegExp(`\\b(?:${levels.map((level) => level.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})\\b`, 'i');
  const lines = input.log.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  const groups = new Map<string, Group>();
  let errorLines = 0;
  for (const [index, line] of lines.entries()) {
    // The level word is looked for in the normalised line, so "err" inside a path or a quoted value does not count.
    const pattern = normalise(line);
    if (!marker.test(pattern)) continue;
    errorLines++;
    const group = groups.get(pattern);
    if (group) {
      group.count++;
      group.lastLine = index + 1;
    } else {
      groups.set(pattern, { pattern, count: 1, example: line.length > 500 ? `${line.slice(0, 500)}…` : line, firstLine: index + 1, lastLine: index + 1 });
    }
  }
  const ranked = [...groups.values()].sort((a, b) => b.count - a.count || a.firstLine - b.firstLine);
  return {
    lines: lines.length,
    errorLines,
    distinct: groups.size,
    groups: ranked.slice(0, topN).map((group) => ({ ...group, share: Math.round((group.count / errorLines) * 1000) / 1000 })),
  };
});
