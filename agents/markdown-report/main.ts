// Renders metrics as Markdown a person can read in a pull request: each object's scalar fields become one
// two-column table, nested objects become sub-sections, arrays of records become tables with one column per key.
import { defineAgent, type Context } from 'agent-factory/agent';

interface Input {
  title?: string;
  metrics: Record<string, unknown>;
}

type Config = { maxRows?: number; maxDepth?: number };

type Json = Record<string, unknown>;

const isRecord = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const isScalar = (value: unknown) => value === null || ['string', 'number', 'boolean'].includes(typeof value);

/** `requestsPerSecond` and `error_rate` read as "Requests per second" and "Error rate". */
export function humanise(key: string): string {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_-]+/g, ' ')
    .trim()
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Integers get thousands separators; fractions keep two decimals, or three significant digits below 1. */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return String(value);
    if (Number.isInteger(value)) return String(value).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    return String(Math.abs(value) >= 1 ? Math.round(value * 100) / 100 : Number(value.toPrecision(3)));
  }
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

const cell = (value: unknown) => formatValue(value).replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

function table(header: string[], rows: string[][]): string[] {
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((row) => `| ${row.join(' | ')} |`)];
}

export default defineAgent(function run(input: Input, ctx: Context<Config>) {
  const maxRows = ctx.config.maxRows ?? 50;
  const maxDepth = ctx.config.maxDepth ?? 4;
  const out: string[] = [`# ${input.title ?? 'Report'}`];
  let sections = 0;
  let tables = 0;

  const render = (object: Json, level: number) => {
    const entries = Object.entries(object);
    const scalars = entries.filter(([, value]) => isScalar(value));
    if (scalars.length > 0) {
      out.push('', ...table(['Metric', 'Value'], scalars.map(([key, value]) => [humanise(key), cell(value)])));
      tables++;
    }
    for (const [key, value] of entries) {
      if (isScalar(value)) continue;
      sections++;
      // Markdown has six heading levels; deeper sections stay at the sixth.
      out.push('', `${'#'.repeat(Math.min(6, level))} ${humanise(key)}`);
      if (Array.isArray(value)) {
        if (value.length === 0) out.push('', '_none_');
        else if (value.every(isRecord)) {
          const columns = [...new Set(value.flatMap((row) => Object.keys(row)))];
          out.push('', ...table(columns.map(humanise), value.slice(0, maxRows).map((row) => columns.map((column) => cell(row[column])))));
          tables++;
        } else out.push('', ...value.slice(0, maxRows).map((item) => `- ${cell(item)}`));
        if (value.length > maxRows) out.push('', `_${value.length - maxRows} more not shown_`);
      } else if (level - 1 >= maxDepth) out.push('', '```json', JSON.stringify(value, null, 2), '```');
      else render(value as Json, level + 1);
    }
  };
  render(input.metrics, 2);
  const markdown = `${out.join('\n')}\n`;
  return { markdown, sections, tables };
});
