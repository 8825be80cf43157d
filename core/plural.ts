/** @module core/plural — "1 run", "2 runs": counts with the right form of their noun, for the CLI and the terminal UI. */

/** `plural(1, 'run')` → `1 run`; `plural(2, 'entry', 'entries')` → `2 entries`. */
export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}
