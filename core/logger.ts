/** @module core/logger — a small leveled logger that writes one line per event to stderr and respects NO_COLOR. */
import { escapeLine } from './terminal-text.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };
const LEVEL_COLOR: Record<Exclude<LogLevel, 'silent'>, string> = { debug: '90', info: '36', warn: '33', error: '31' };

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  child(scope: string): Logger;
}

export interface LoggerOptions {
  /** Lowest level written. @default $AF_LOG_LEVEL, else 'info' */
  level?: LogLevel;
  /** Where lines go. @default process.stderr */
  stream?: { write(chunk: string): unknown; isTTY?: boolean };
  /** Colour the level. @default stream is a TTY and NO_COLOR is unset */
  color?: boolean;
  /** Prefix shown before each message. */
  scope?: string;
  processEnv?: Record<string, string | undefined>;
}

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && value in LEVEL_RANK;
}

/** True when colour output is allowed for `stream` (NO_COLOR unset, FORCE_COLOR or a TTY). */
export function shouldUseColor(stream: { isTTY?: boolean }, processEnv: Record<string, string | undefined> = process.env): boolean {
  if (processEnv.NO_COLOR !== undefined && processEnv.NO_COLOR !== '') return false;
  if (processEnv.FORCE_COLOR !== undefined && processEnv.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const processEnv = options.processEnv ?? process.env;
  const stream = options.stream ?? process.stderr;
  const envLevel = processEnv.AF_LOG_LEVEL;
  const level = options.level ?? (isLogLevel(envLevel) ? envLevel : 'info');
  const color = options.color ?? shouldUseColor(stream, processEnv);
  const threshold = LEVEL_RANK[level];

  const make = (scope: string | undefined): Logger => {
    const write = (lvl: Exclude<LogLevel, 'silent'>, message: string, fields?: Record<string, unknown>) => {
      if (LEVEL_RANK[lvl] < threshold) return;
      const tag = color ? `\u001b[${LEVEL_COLOR[lvl]}m${lvl}\u001b[0m` : lvl;
      const extra = fields && Object.keys(fields).length > 0 ? ` ${safeJson(fields)}` : '';
      // One line per event, whatever the message quotes (a denied path, a request URL, a host's stderr).
      stream.write(`${tag}${scope ? ` [${escapeLine(scope)}]` : ''} ${escapeLine(message)}${escapeLine(extra)}\n`);
    };
    return {
      debug: (m, f) => write('debug', m, f),
      info: (m, f) => write('info', m, f),
      warn: (m, f) => write('warn', m, f),
      error: (m, f) => write('error', m, f),
      child: (childScope) => make(scope ? `${scope}:${childScope}` : childScope),
    };
  };
  return make(options.scope);
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return '[unserialisable]';
  }
}

/** A logger that drops everything; the default for library use. */
export const silentLogger: Logger = createLogger({ level: 'silent', stream: { write: () => true } });
