/** @module core/effective-limits — a run's CPU and wall limits from `limits.byInput` and its input: compiled once per template, evaluated per run on the calling side. */
import { BY_INPUT_RESOURCES, type EffectiveLimits, type Limits, type PowerRule } from './agent-spec.js';

/** The measure that counts the UTF-8 bytes of the input's JSON (the run record's `inputBytes`). */
export const INPUT_BYTES_MEASURE = 'inputBytes';

/** Exponents a rule may use: 0 (flat) to 3 (cubic); anything steeper is a typo or a limit nobody can reason about. */
export const MAX_BY_INPUT_EXPONENT = 3;

/**
 * The effective limits of one run. `input` is the caller's own value (never the host's), `inputBytes` the UTF-8 length
 * of its JSON as the calling side encoded it.
 */
export type LimitsFor = (input: unknown, inputBytes: number) => EffectiveLimits;

/**
 * The reference tokens of an RFC 6901 JSON pointer (`""` is the whole document, `"/a~1b/0"` is `["a/b", "0"]`).
 * @returns undefined when `pointer` is not one (it must be empty or start with "/", and "~" must be followed by 0 or 1).
 */
export function parseJsonPointer(pointer: string): string[] | undefined {
  if (pointer === '') return [];
  if (!pointer.startsWith('/') || /~(?![01])/.test(pointer)) return undefined;
  return pointer
    .slice(1)
    .split('/')
    .map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/**
 * Compiles the template's limits into the function a run's limits come from: the measure's pointer is parsed here,
 * once, so a run only walks its tokens. Without a rule every run gets the same frozen flat limits.
 * A rule's limit is min(max, flat, max(min, ceil(base × x^exponent))) for x = max(1, measure): it never exceeds the flat limit,
 * whatever the rule says, so policy maxima on the flat limits bound every run (and a child template that lowers a flat
 * limit below an inherited rule's max lowers the rule with it).
 */
export function compileLimitsFor(limits: Readonly<Limits>): LimitsFor {
  const flat: EffectiveLimits = Object.freeze({ cpuMs: limits.cpuMs, timeoutMs: limits.timeoutMs, memoryMb: limits.memoryMb });
  const rule = limits.byInput;
  if (rule === undefined || rule === null) return () => flat;
  const name = rule.measure;
  const tokens = name === INPUT_BYTES_MEASURE ? undefined : parseJsonPointer(name);
  // Validation refuses both; a spec built by hand that carries one anyway gets the flat limits, never more.
  if (name !== INPUT_BYTES_MEASURE && tokens === undefined) return () => flat;
  const cpu = bounded(rule.cpuMs, limits.cpuMs);
  const wall = bounded(rule.timeoutMs, limits.timeoutMs);
  const { memoryMb } = limits;
  return (input, inputBytes) => {
    const value = Math.max(1, tokens === undefined ? inputBytes : measureAt(input, tokens));
    return { cpuMs: cpu(value), timeoutMs: wall(value), memoryMb, measure: { name, value } };
  };
}

/** Which resources a byInput rule sets (for display: `cpuMs`, `timeoutMs`). */
export function ruledResources(limits: Readonly<Limits>): Array<(typeof BY_INPUT_RESOURCES)[number]> {
  const rule = limits.byInput;
  return rule ? BY_INPUT_RESOURCES.filter((key) => rule[key] !== undefined && rule[key] !== null) : [];
}

function bounded(rule: PowerRule | undefined | null, flat: number): (x: number) => number {
  if (rule === undefined || rule === null) return () => flat;
  const max = Math.min(flat, rule.max ?? flat);
  const min = Math.max(1, rule.min ?? 1);
  const { base, exponent } = rule;
  // ceil keeps whole milliseconds (as the flat limits are); at least 1 so a tiny base never means "no time at all".
  return (x) => Math.min(max, Math.max(min, Math.ceil(base * x ** exponent)));
}

/**
 * The input measure at a pointer: an array's length, a string's length (UTF-16 code units, as JavaScript counts), an
 * object's key count, a non-negative finite number's value; 1 for anything else or nothing there. Own keys only, so
 * `/__proto__` or `/constructor` never reach a prototype.
 */
export function measureAt(input: unknown, tokens: readonly string[]): number {
  let current = input;
  for (const token of tokens) {
    if (Array.isArray(current)) {
      if (!/^(0|[1-9]\d*)$/.test(token)) return 1;
      current = current[Number(token)];
    } else if (typeof current === 'object' && current !== null && Object.hasOwn(current, token)) {
      current = (current as Record<string, unknown>)[token];
    } else {
      return 1;
    }
  }
  if (Array.isArray(current)) return current.length;
  if (typeof current === 'string') return current.length;
  if (typeof current === 'number') return Number.isFinite(current) && current >= 0 ? current : 1;
  if (typeof current === 'object' && current !== null) return Object.keys(current).length;
  return 1;
}
