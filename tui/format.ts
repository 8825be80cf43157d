/** @module tui/format — turning numbers, times and JSON into the short strings the views show. */

const SPARK = '▁▂▃▄▅▆▇█';

/** Milliseconds with a precision that suits their size: 0.04 ms, 3.2 ms, 120 ms, 4.1 s. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 100) return `${Math.round(ms)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

export function formatPercent(share: number): string {
  return `${(share * 100).toFixed(share > 0 && share < 0.1 ? 1 : 0)}%`;
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${bytes} B`;
}

/** UTC, to the second: the same on every machine, which keeps captures and tests stable. */
export function formatTime(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 19).replace('T', ' ');
}

/** One block character per value, scaled to the largest value (or `max`). */
export function sparkline(values: readonly number[], max = Math.max(0, ...values)): string {
  return values.map((value) => (max <= 0 || value <= 0 ? ' ' : (SPARK[Math.min(SPARK.length - 1, Math.ceil((value / max) * SPARK.length) - 1)] as string))).join('');
}

/** A text progress bar; text, not colour, so it reads the same under NO_COLOR. */
export function bar(done: number, total: number, width = 24): string {
  const filled = total > 0 ? Math.max(0, Math.min(width, Math.round((done / total) * width))) : 0;
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
}

export function truncate(text: string, width: number): string {
  if (width <= 0) return '';
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

/** JSON on one line, cut to `width`. */
export function compactJson(value: unknown, width = 80): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? 'undefined';
  } catch {
    text = String(value);
  }
  return truncate(text, width);
}

/** Parses `30s`, `15m`, `24h`, `7d` into milliseconds; undefined when it is not a duration. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(text.trim());
  if (!match) return undefined;
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

/** `1 run`, `2 runs`, `0 errors`: a count with its noun in the right number; the CLI's helper, named for the views. */
export { plural as count } from '../core/plural.js';

/**
 * Breaks text into lines of at most `width` characters, at spaces where it can and mid-word where it must, keeping
 * each line's leading indentation on its continuations: for detail views, where cutting a message hides its end.
 */
export function wrapLines(text: string, width: number): string[] {
  const room = Math.max(1, width);
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (line.length <= room) {
      out.push(line);
      continue;
    }
    const indent = /^\s*/.exec(line)?.[0] ?? '';
    const hang = indent.length < room / 2 ? indent : '';
    let rest = line;
    let first = true;
    while (rest.length > 0) {
      const prefix = first ? '' : hang;
      const space = room - prefix.length;
      if (rest.length <= space) {
        out.push(prefix + rest);
        break;
      }
      const cut = rest.lastIndexOf(' ', space);
      const at = cut > 0 ? cut : space;
      out.push(prefix + rest.slice(0, at));
      rest = rest.slice(at).replace(/^ /, '');
      first = false;
    }
  }
  return out;
}
