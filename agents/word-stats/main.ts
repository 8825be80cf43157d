// Counts the words of `input.text` and returns the `config.topN` most frequent ones.
import { defineAgent, type Context } from 'agent-factory/agent';
import { tokenize } from './tokenize.ts';
import { topCounts } from './rank.ts';

type Config = { topN?: number; minLength?: number };

export default defineAgent(function run(input: { text: string }, ctx: Context<Config>) {
  const words = tokenize(input.text, ctx.config.minLength ?? 1);
  return { words: words.length, top: topCounts(words, ctx.config.topN ?? 5) };
});
