/** @module tui/theme — the UI's colours, switched off as a whole by NO_COLOR so every component asks here instead of naming colours. */
import { shouldUseColor } from '../core/logger.js';

export type ColorName = 'red' | 'green' | 'yellow' | 'cyan' | 'blue' | 'magenta' | 'gray';

export interface Theme {
  readonly isColor: boolean;
  /** The colour to pass to Ink's `<Text color>`, or `undefined` when colour is off. */
  color(name: ColorName): ColorName | undefined;
}

/** Colour is on unless NO_COLOR is set; FORCE_COLOR turns it on without a TTY (tests, captures). */
export function createTheme(stream: { isTTY?: boolean }, env: Record<string, string | undefined>): Theme {
  const isColor = shouldUseColor(stream, env);
  return { isColor, color: (name) => (isColor ? name : undefined) };
}
