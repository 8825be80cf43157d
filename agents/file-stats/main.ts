// Summarises a granted text file; with `input.report`, also writes the summary as JSON to that path.
import { defineAgent } from 'agent-factory/agent';

export default defineAgent(async function run(input: { path: string; report?: string }, ctx) {
  const text = await ctx.readTextFile(input.path);
  const lines = text.split('\n').filter((line, index, all) => line !== '' || index < all.length - 1);
  const summary = {
    path: input.path,
    lines: lines.length,
    words: (text.match(/\S+/g) ?? []).length,
    bytes: new TextEncoder().encode(text).length,
    longestLine: lines.reduce((longest, line) => (line.length > longest.length ? line : longest), ''),
  };
  if (input.report) await ctx.writeTextFile(input.report, `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
});
