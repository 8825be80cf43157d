/** @module runtime/failure-capture — the bounded copy of a failed run's input, output or error, and logs, kept for templates that opt in. */
import type { RunCapture } from '../core/run-record.js';

/** Each part of a capture is cut to `maxBytes` of UTF-8 and ends with this marker, naming what was cut. */
export function truncationMarker(cutBytes: number): string {
  return `…[truncated: ${cutBytes} more bytes]`;
}

/**
 * Builds the capture of a failed run. Only called on the failure path of a template that opted in, so a successful
 * run never pays for serialising its input.
 */
export function captureFailure(
  parts: { input: unknown; output?: unknown; errorMessage: string; logs: readonly unknown[] },
  maxBytes: number,
): RunCapture {
  const input = bounded(jsonOf(parts.input), maxBytes);
  const output = parts.output === undefined ? undefined : bounded(jsonOf(parts.output), maxBytes);
  const logs = bounded(jsonOf(parts.logs) ?? '[]', maxBytes);
  const message = bounded(parts.errorMessage, maxBytes);
  return {
    ...(input.text !== undefined ? { input: input.text } : {}),
    inputTruncated: input.truncated,
    ...(output?.text !== undefined ? { output: output.text } : {}),
    outputTruncated: output?.truncated ?? false,
    ...(message.text !== undefined ? { errorMessage: message.text } : {}),
    logs: logs.text ?? '[]',
    logsTruncated: logs.truncated,
    maxBytes,
  };
}

function jsonOf(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    // A cycle or a BigInt from a library caller: nothing that could be replayed, so nothing is kept.
    return undefined;
  }
}

/** `text` cut to at most `maxBytes` of UTF-8 (never inside a character), with the marker when cut. */
export function bounded(text: string | undefined, maxBytes: number): { text: string | undefined; truncated: boolean } {
  // A UTF-16 unit is at most 3 bytes of UTF-8: short text needs no count.
  if (text === undefined || text.length * 3 <= maxBytes) return { text, truncated: false };
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return { text, truncated: false };
  let kept = bytes.subarray(0, maxBytes).toString('utf8');
  // A character cut in half decodes as U+FFFD: drop it rather than keep a character that was never there.
  if (kept.endsWith('\uFFFD')) kept = kept.slice(0, -1);
  return { text: `${kept}${truncationMarker(bytes.length - Buffer.byteLength(kept))}`, truncated: true };
}
