// Greets `input.name` and counts greetings per tenant in the template's kv namespace.
import { defineAgent } from 'agent-factory/agent';

interface Input {
  name: string;
}

export default defineAgent(async function run(input: Input, ctx) {
  ctx.log.info('greeting', { name: input.name });
  const n = (((await ctx.kv.get('count')) as number | undefined) ?? 0) + 1;
  await ctx.kv.set('count', n);
  return { greeting: `Hello, ${input.name}`, n };
});
