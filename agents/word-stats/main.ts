// Counts the words of `input.text` and returns the `config.topN` most frequent ones.
import { tokenize } from './tokenize.ts';
import { topCounts } from './rank.ts';

interface Context {
  config: { topN?: number; minLength?: number };
}

export default function run(input: { text: string }, ctx: Context) {
  const words = tokenize(input.text, ctx.config.minLength ?? 1);
  return { words: words.length, top: topCounts(words, ctx.config.topN ?? 5) };
}
