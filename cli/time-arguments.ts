/** @module cli/time-arguments — parses `--since` and `--older-than` values: a duration (`30d`, `12h`, `15m`, `90s`) or a date. */
import { FactoryError } from '../core/errors.js';

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `30d` → milliseconds. @throws FactoryError `E_USAGE` naming the option. */
export function parseDuration(value: string, option: string): number {
  const match = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(value.trim());
  if (!match) throw new FactoryError('E_USAGE', `${option} ${JSON.stringify(value)} is not a duration; write a number and a unit: 90s, 15m, 12h, 30d or 2w`);
  return Number(match[1]) * (UNIT_MS[match[2] as string] as number);
}

/** A point in time: a duration ago (`24h`) or a date (`2026-11-01`, ISO 8601). */
export function parseSince(value: string, option: string, now: number): number {
  if (/^\d+(?:\.\d+)?[smhdw]$/.test(value.trim())) return now - parseDuration(value, option);
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed)) throw new FactoryError('E_USAGE', `${option} ${JSON.stringify(value)} is neither a duration (24h, 7d) nor a date (2026-11-01)`);
  return parsed;
}
