// Infers one JSON Schema that every sample satisfies: the union of the types seen at each place, the keys
// present in every object as `required`, string formats shared by every string, and the numeric range seen.
import { emptyShape, observe, toSchema } from './shape.ts';

interface Input {
  samples: unknown[];
  title?: string;
}

export default function run(input: Input) {
  const root = emptyShape();
  for (const sample of input.samples) observe(root, sample);
  const schema = { $schema: 'https://json-schema.org/draft/2020-12/schema', ...(input.title !== undefined ? { title: input.title } : {}), ...toSchema(root) };
  return { samples: input.samples.length, schema };
}
