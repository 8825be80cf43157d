// What the samples seen at one place in the documents have in common, accumulated one value at a time.
export interface Shape {
  seen: number;
  types: Set<string>;
  /** Per property: its shape and how many object samples had it. */
  properties: Map<string, Shape>;
  objects: number;
  items: Shape | undefined;
  /** String formats every string here matched so far; undefined until the first string. */
  formats: Set<string> | undefined;
  minimum: number;
  maximum: number;
}

const FORMATS: ReadonlyArray<readonly [string, RegExp]> = [
  ['date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/],
  ['date', /^\d{4}-\d{2}-\d{2}$/],
  ['email', /^[^\s@]+@[^\s@]+\.[^\s@]+$/],
  ['uri', /^[a-z][a-z0-9+.-]*:\/\/\S+$/i],
  ['uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i],
];

export function emptyShape(): Shape {
  return { seen: 0, types: new Set(), properties: new Map(), objects: 0, items: undefined, formats: undefined, minimum: Infinity, maximum: -Infinity };
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

export function observe(shape: Shape, value: unknown): void {
  shape.seen++;
  const type = typeOf(value);
  shape.types.add(type);
  if (type === 'object') {
    shape.objects++;
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      let property = shape.properties.get(key);
      if (!property) shape.properties.set(key, (property = emptyShape()));
      observe(property, child);
    }
  } else if (type === 'array') {
    shape.items ??= emptyShape();
    for (const item of value as unknown[]) observe(shape.items, item);
  } else if (type === 'string') {
    const matching = new Set(FORMATS.filter(([, pattern]) => pattern.test(value as string)).map(([name]) => name));
    shape.formats = shape.formats === undefined ? matching : new Set([...shape.formats].filter((format) => matching.has(format)));
  } else if (type === 'integer' || type === 'number') {
    shape.minimum = Math.min(shape.minimum, value as number);
    shape.maximum = Math.max(shape.maximum, value as number);
  }
}

/** The schema of a shape: `required` holds the keys every object sample had. */
export function toSchema(shape: Shape): Record<string, unknown> {
  // An integer seen beside a fractional number is just a number.
  const types = [...shape.types].filter((type) => type !== 'integer' || !shape.types.has('number')).sort();
  const schema: Record<string, unknown> = {};
  if (types.length === 1) schema.type = types[0];
  else if (types.length > 1) schema.type = types;
  if (shape.types.has('object')) {
    const keys = [...shape.properties.keys()].sort();
    schema.properties = Object.fromEntries(keys.map((key) => [key, toSchema(shape.properties.get(key) as Shape)]));
    const required = keys.filter((key) => (shape.properties.get(key) as Shape).seen === shape.objects);
    // An object holds a key at most once, so a key seen as often as there were objects is in every one.
    if (required.length > 0) schema.required = required;
  }
  if (shape.types.has('array')) schema.items = shape.items && shape.items.seen > 0 ? toSchema(shape.items) : {};
  if (shape.types.has('string') && shape.formats && shape.formats.size > 0) schema.format = [...shape.formats][0];
  if ((shape.types.has('integer') || shape.types.has('number')) && Number.isFinite(shape.minimum)) {
    schema.minimum = shape.minimum;
    schema.maximum = shape.maximum;
  }
  return schema;
}
