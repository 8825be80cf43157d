// Reduces a log line to its shape: the parts that vary between occurrences of one message (times, ids,
// numbers, addresses, paths, quoted values) become placeholders, so lines of one message share a key.
const RULES: ReadonlyArray<readonly [RegExp, string]> = [
  // Order matters: wider patterns first, so a UUID is not read as hex runs and numbers.
  [/\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?/g, '<time>'],
  [/\b\d{2}:\d{2}:\d{2}(?:[.,]\d+)?\b/g, '<time>'],
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<uuid>'],
  [/\b[a-z]+:\/\/[^\s"')]+/gi, '<url>'],
  [/\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b/g, '<ip>'],
  [/\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b/g, '<email>'],
  [/(?:[A-Za-z]:)?(?:[\\/][\w.@-]+){2,}[\\/]?/g, '<path>'],
  [/\b0x[0-9a-f]+\b/gi, '<hex>'],
  // Hex runs long enough to be hashes or ids, but only when they hold a digit (so words like "deadbeef" or
  // "facade" survive).
  [/\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b/gi, '<hex>'],
  [/"[^"]*"/g, '"<str>"'],
  [/'[^']*'/g, "'<str>'"],
  // Numbers (with a unit) before ids, so "1200ms" reads as a number and "worker-4" as "worker-<n>".
  // No sign: in "worker-4" the dash is part of the name.
  [/\b\d+(?:\.\d+)?(?:ms|s|kb|mb|gb|b)?\b/gi, '<n>'],
  // What is left with both letters and digits is an id ("ada42", "77de").
  [/\b(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[A-Za-z0-9][\w-]*\b/g, '<id>'],
];

export function normalise(line: string): string {
  let shape = line;
  for (const [pattern, placeholder] of RULES) shape = shape.replace(pattern, placeholder);
  return shape.replace(/\s+/g, ' ').trim();
}
