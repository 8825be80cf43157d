/** @module core/canonical-json — RFC 8785 (JCS) canonical JSON, the byte form that digests and signatures cover. */

/**
 * Serialises `value` as RFC 8785 canonical JSON: object keys sorted by UTF-16 code units,
 * no whitespace, numbers and strings in ECMAScript `JSON.stringify` form (which JCS adopts).
 * @throws TypeError for values JSON cannot represent (NaN, Infinity, functions, cycles).
 * @example canonicalJson({ b: 1, a: [true, 'x'] }) // '{"a":[true,"x"],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  return serialise(value, new Set());
}

function serialise(value: unknown, seen: Set<object>): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: ${value} has no JSON form`);
      // ES Number-to-string is the JCS number form; -0 serialises as 0.
      return JSON.stringify(value);
    case 'object': {
      if (seen.has(value)) throw new TypeError('canonicalJson: cyclic structure');
      seen.add(value);
      let out: string;
      if (Array.isArray(value)) {
        out = `[${value.map((item) => (item === undefined ? 'null' : serialise(item, seen))).join(',')}]`;
      } else {
        const record = value as Record<string, unknown>;
        const keys = Object.keys(record)
          .filter((key) => record[key] !== undefined && typeof record[key] !== 'function')
          .sort();
        out = `{${keys.map((key) => `${JSON.stringify(key)}:${serialise(record[key], seen)}`).join(',')}}`;
      }
      seen.delete(value);
      return out;
    }
    default:
      throw new TypeError(`canonicalJson: a ${typeof value} has no JSON form`);
  }
}

/**
 * Whether two JSON values are equal, whatever the order of their object keys (`undefined` equals only itself).
 * @example sameJson({ a: 1, b: [2] }, { b: [2], a: 1 }) // true
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === undefined || b === undefined) return a === b;
  return canonicalJson(a) === canonicalJson(b);
}
