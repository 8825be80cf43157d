// Drives the TUI in-process with ink-testing-library: a temp project, a real factory and store, keystrokes, and frames.
import { createElement } from 'react';
import { render } from 'ink-testing-library';
import { App } from '../../tui/index.js';
import { createTuiServices, type TuiServicesOptions } from '../../tui/index.js';

export const KEY = { enter: '\r', esc: '\u001B', down: '\u001B[B', up: '\u001B[A', backspace: '\u007F' } as const;

export type Driven = ReturnType<typeof render> & {
  /** Waits a tick (Ink attaches its input listener after the first render), then writes. */
  type(text: string): Promise<void>;
  /** Polls the last frame until `expected` is in it. */
  waitFor(expected: string | RegExp, timeoutMs?: number): Promise<string>;
  frame(): string;
};

export function tick(ms = 30): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function drive(options: TuiServicesOptions): Driven {
  const instance = render(createElement(App, { services: createTuiServices({ isTTY: false, env: {}, actor: 'ada', ...options }) }));
  // A 40-row terminal, like the tmux test: ink-testing-library's stdout has no rows of its own.
  Object.defineProperty(instance.stdout, 'rows', { value: 40, configurable: true });
  instance.stdout.emit('resize');
  const frame = () => instance.lastFrame() ?? '';
  return Object.assign(instance, {
    frame,
    async type(text: string) {
      await tick();
      instance.stdin.write(text);
      await tick();
    },
    async waitFor(expected: string | RegExp, timeoutMs = 10_000) {
      const started = Date.now();
      for (;;) {
        const current = frame();
        if (typeof expected === 'string' ? current.includes(expected) : expected.test(current)) return current;
        if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${String(expected)}; last frame:\n${current}`);
        await tick(20);
      }
    },
  });
}

/** Types a `:` command and presses Enter. */
export async function command(ui: Driven, text: string): Promise<void> {
  await ui.type(':');
  await ui.type(text);
  await ui.type(KEY.enter);
}
