// Greets `input.name` and counts greetings per tenant in the template's kv namespace.
interface Input {
  name: string;
}

interface Context {
  log: { info(message: string, fields?: Record<string, unknown>): void };
  kv: { get(key: string): Promise<unknown>; set(key: string, value: unknown): Promise<void> };
}

export default async function run(input: Input, ctx: Context) {
  ctx.log.info('greeting', { name: input.name });
  const n = (((await ctx.kv.get('count')) as number | undefined) ?? 0) + 1;
  await ctx.kv.set('count', n);
  return { greeting: `Hello, ${input.name}`, n };
}
