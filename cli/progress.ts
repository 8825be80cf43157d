/** @module cli/progress — a one-line progress bar on stderr for long work; silent when stderr is not a terminal. */
import { shouldUseColor } from '../core/logger.js';

export interface ProgressBar {
  update(done: number, total: number, label?: string): void;
  done(): void;
}

export function progressBar(stream: { write(chunk: string): unknown; isTTY?: boolean }, title: string, env: Record<string, string | undefined>): ProgressBar {
  if (!stream.isTTY) return { update: () => {}, done: () => {} };
  const color = shouldUseColor(stream, env);
  let shown = false;
  return {
    update(done, total, label) {
      const width = 24;
      const filled = total > 0 ? Math.round((done / total) * width) : 0;
      const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
      stream.write(`\r${title} ${color ? `\u001b[36m${bar}\u001b[0m` : bar} ${done}/${total}${label ? ` ${label}` : ''}\u001b[K`);
      shown = true;
    },
    done() {
      if (shown) stream.write('\r\u001b[K');
    },
  };
}
