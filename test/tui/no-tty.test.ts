// Without a terminal the UI refuses before touching raw mode: pipes and CI get help, never a hung raw-mode stdin.
import { PassThrough } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { tuiCommand } from '../../cli/commands/tui.js';
import { createCommandContext } from '../../cli/context.js';
import { runTui } from '../../tui/index.js';
import { createTheme } from '../../tui/index.js';
import { parseCommand } from '../../tui/index.js';
import type { AgentFactory } from '../../runtime/index.js';

describe('without a TTY', () => {
  it('tuiCommand exits 2 with a pointer to --help and never calls setRawMode', async () => {
    const stdin = Object.assign(new PassThrough(), { isTTY: false, setRawMode: vi.fn() });
    let err = '';
    const context = createCommandContext({ stdin, stdout: { write: () => true, isTTY: true }, stderr: { write: (chunk: string) => (err += chunk) }, env: {}, cwd: process.cwd() }, () => ({}));
    expect(await tuiCommand(context)).toBe(2);
    expect(err).toContain('needs an interactive terminal');
    expect(stdin.setRawMode).not.toHaveBeenCalled();
  });

  it('runTui throws E_USAGE when stdout is a pipe', async () => {
    const stdin = Object.assign(new PassThrough(), { isTTY: true, setRawMode: vi.fn() }) as unknown as NodeJS.ReadStream;
    const stdout = Object.assign(new PassThrough(), { isTTY: false }) as unknown as NodeJS.WriteStream;
    await expect(runTui({ factory: {} as AgentFactory, stdin, stdout })).rejects.toMatchObject({ code: 'E_USAGE' });
    expect((stdin as unknown as { setRawMode: ReturnType<typeof vi.fn> }).setRawMode).not.toHaveBeenCalled();
  });
});

describe('colours and commands', () => {
  it('turns colour off for NO_COLOR even on a terminal, and on for FORCE_COLOR without one', () => {
    expect(createTheme({ isTTY: true }, { NO_COLOR: '1' }).color('red')).toBeUndefined();
    expect(createTheme({ isTTY: true }, {}).color('red')).toBe('red');
    expect(createTheme({ isTTY: false }, { FORCE_COLOR: '1' }).isColor).toBe(true);
  });

  it('parses : commands and their aliases', () => {
    expect(parseCommand('run hello')).toEqual({ kind: 'go', route: { view: 'run', template: 'hello' } });
    expect(parseCommand(':sg')).toEqual({ kind: 'go', route: { view: 'suggestions' } });
    expect(parseCommand('runs outcome:error')).toEqual({ kind: 'go', route: { view: 'runs', filter: 'outcome:error' } });
    expect(parseCommand('q')).toEqual({ kind: 'quit' });
    expect(parseCommand('learn')).toEqual({ kind: 'task', task: 'learn' });
    expect(parseCommand('bogus')).toMatchObject({ kind: 'unknown' });
  });
});
