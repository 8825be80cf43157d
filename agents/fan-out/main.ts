// Spawns word-stats once per text (in parallel) and merges their top words into one ranking.
import { defineAgent } from 'agent-factory/agent';

interface WordStats {
  words: number;
  top: Array<{ word: string; count: number }>;
}

export default defineAgent(async function run(input: { texts: string[] }, ctx) {
  const results = (await Promise.all(input.texts.map((text) => ctx.spawn('word-stats', { text })))) as WordStats[];
  const merged = new Map<string, number>();
  for (const result of results) for (const { word, count } of result.top) merged.set(word, (merged.get(word) ?? 0) + count);
  const top = [...merged].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 5).map(([word, count]) => ({ word, count }));
  return { texts: results.length, words: results.reduce((sum, result) => sum + result.words, 0), top };
});
