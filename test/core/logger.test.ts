// core/logger: structured log lines, levels and colour.
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../core/index.js';

describe('createLogger', () => {
  const capture = (env: Record<string, string | undefined>, isTTY: boolean) => {
    const lines: string[] = [];
    const logger = createLogger({ processEnv: env, stream: { write: (line: string) => lines.push(line), isTTY } });
    return { logger, lines };
  };

  it('writes one line per event with fields, at or above its level', () => {
    const { logger, lines } = capture({ AF_LOG_LEVEL: 'warn' }, false);
    logger.info('hidden');
    logger.warn('shown', { template: 'hello' });
    logger.child('registry').error('broken');
    expect(lines).toEqual(['warn shown {"template":"hello"}\n', 'error [registry] broken\n']);
  });

  it('colours only a TTY, and never with NO_COLOR', () => {
    const tty = capture({}, true);
    tty.logger.info('x');
    expect(tty.lines[0]).toBe('\u001b[36minfo\u001b[0m x\n');
    const pipe = capture({}, false);
    pipe.logger.info('x');
    expect(pipe.lines[0]).toBe('info x\n');
    const noColor = capture({ NO_COLOR: '1' }, true);
    noColor.logger.info('x');
    expect(noColor.lines[0]).toBe('info x\n');
  });
});
