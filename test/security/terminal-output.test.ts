// What an agent prints never reaches the operator's terminal as control characters (security finding 10): logs,
// outputs, thrown messages and denial targets go out with ESC, BEL, CR, C1 controls and bidi overrides escaped,
// in the CLI (runCli in-process, captured streams) and in the TUI (ink-testing-library frames).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAf } from '../helpers/cli.js';
import { escapeControl, escapeLine, terminalSafeJson } from '../../core/terminal-text.js';
import { createFactory, type AgentFactory } from '../../runtime/index.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';
import { command, drive, KEY } from '../tui/helpers.js';

// The agent's source spells the controls as JS escapes; at run time they are the raw characters.
const EVIL = String.raw`export default async (input, ctx) => {
  ctx.log.info('\u001b]0;pwned\u0007title');
  ctx.log.warn('\u001b[2Jcleared');
  ctx.log.info('fine\r\u001b[32mok run\u001b[0m 0.01 ms');
  ctx.log.info('two\nok run 0.01 ms · create 0.01 ms');
  ctx.log.info('c1 \u009b31m red \u202egnp.exe', { field: '\u009b2J\u202e\u0007' });
  try { await ctx.readTextFile('\u001b]0;denied\u0007'); } catch (e) { ctx.log.error(e.message); }
  return { text: '\u009b2J \u202e \u001b[2J \u2028' };
};
`;
const THROWER = String.raw`export default () => { throw new Error('\u001b]0;pwned\u0007boom\r\nok run 0.01 ms\u009b2J'); };
`;

/** Raw bytes a terminal acts on; none may appear in what is printed (NO_COLOR: the CLI paints nothing itself). */
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]/;

let project: TempProject;

beforeAll(() => {
  project = createProject({
    ...simpleTemplate('evil', { description: 'looks \u001b[8mhidden\u001b[0m' }, EVIL),
    ...simpleTemplate('thrower', {}, THROWER),
  });
});
afterAll(() => project.remove());

async function af(args: string[]) {
  return runAf(project.root, args);
}

describe('escapeControl / escapeLine', () => {
  it('turns every control a terminal acts on into visible text, and keeps ordinary text', () => {
    expect(escapeControl('\u001b]0;pwned\u0007')).toBe('\\x1b]0;pwned\\x07');
    expect(escapeControl('a\u009bb\u007fc\u202ed\u2066e')).toBe('a\\x9bb\\x7fc\\u202ed\\u2066e');
    expect(escapeControl('line\r\u001b[2K')).toBe('line\\r\\x1b[2K');
    expect(escapeControl('tab\tand\nnewline\r\n')).toBe('tab\tand\nnewline\r\n');
    expect(escapeLine('one\ntwo\r\nthree\u2028')).toBe('one\\ntwo\\r\\nthree\\u2028');
    expect(escapeLine('héllo wörld ✓ 日本')).toBe('héllo wörld ✓ 日本');
    const json = terminalSafeJson(JSON.stringify({ t: '\u009b2J\u202e\u2028' }));
    expect(json).not.toMatch(RAW_CONTROL);
    expect(JSON.parse(json)).toEqual({ t: '\u009b2J\u202e\u2028' });
  });
});

describe('af run', () => {
  it('prints logs, output and denial targets as text: no escape sequence, no forged line', async () => {
    const result = await af(['run', 'evil']);
    expect(result.status).toBe(0);
    expect(result.stderr).not.toMatch(RAW_CONTROL);
    expect(result.stdout).not.toMatch(RAW_CONTROL);
    expect(result.stderr).toContain('[evil] info \\x1b]0;pwned\\x07title');
    expect(result.stderr).toContain('[evil] warn \\x1b[2Jcleared');
    expect(result.stderr).toContain('[evil] info fine\\r\\x1b[32mok run\\x1b[0m 0.01 ms');
    expect(result.stderr).toContain('[evil] info two\\nok run 0.01 ms');
    expect(result.stderr).toContain('[evil] info c1 \\x9b31m red \\u202egnp.exe {"field":"\\x9b2J\\u202e\\u0007"}');
    // The denial the runtime logs names the agent's path as the agent wrote it, escaped.
    expect(result.stderr).toMatch(/permission denied: evil wanted read \S*\\x1b\]0;denied\\x07/);
    // Exactly one line says ok: the real one.
    expect(result.stderr.split('\n').filter((line) => /^ok\b/.test(line))).toHaveLength(1);
    // The output is still JSON that parses back to what the agent returned.
    expect(JSON.parse(result.stdout)).toEqual({ text: '\u009b2J \u202e \u001b[2J \u2028' });
  });

  it('prints a thrown message on one escaped line, in human and --json mode', async () => {
    const human = await af(['run', 'thrower']);
    expect(human.status).toBe(1);
    expect(human.stderr).not.toMatch(RAW_CONTROL);
    expect(human.stderr).toContain('error E_AGENT_THREW: Error: \\x1b]0;pwned\\x07boom\\r\\nok run 0.01 ms\\x9b2J');
    expect(human.stderr.split('\n').some((line) => line.startsWith('ok run'))).toBe(false);

    const json = await af(['run', 'thrower', '--json']);
    expect(json.stdout).not.toMatch(RAW_CONTROL);
    expect(json.stderr).not.toMatch(RAW_CONTROL);
    expect(JSON.parse(json.stdout).error.message).toBe('Error: \u001b]0;pwned\u0007boom\r\nok run 0.01 ms\u009b2J');
  });

  it('lists runs, audit entries and templates without raw controls', async () => {
    await af(['run', 'evil']);
    for (const args of [['runs'], ['audit-log', 'list'], ['templates', 'list'], ['audit-log', 'list', '--json'], ['templates', 'show', 'evil']]) {
      const result = await af(args);
      expect(result.status, args.join(' ')).toBe(0);
      expect(result.stdout, args.join(' ')).not.toMatch(RAW_CONTROL);
      expect(result.stderr, args.join(' ')).not.toMatch(RAW_CONTROL);
    }
    const audit = JSON.parse((await af(['audit-log', 'list', '--json', '--type', 'permission.denied'])).stdout) as Array<{ data: { target: string } }>;
    expect(audit[0]?.data.target).toMatch(/\u001b\]0;denied\u0007$/);
    expect((await af(['templates', 'list'])).stdout).toContain('looks \\x1b[8mhidden\\x1b[0m');
  });
});

describe('the TUI', () => {
  let factory: AgentFactory;
  beforeAll(async () => {
    factory = await createFactory({ root: project.root, isolation: 'inline' });
  });
  afterAll(() => factory.close());

  it('shows logs, denials and output of a run as text', async () => {
    const ui = drive({ factory });
    try {
      await command(ui, 'run evil');
      await ui.waitFor('input › {}');
      await ui.type(KEY.enter);
      const frame = await ui.waitFor('output');
      expect(frame).not.toMatch(RAW_CONTROL);
      // The view shows the last five log entries.
      expect(frame).toContain('\\x1b[2Jcleared');
      expect(frame).toContain('fine\\r\\x1b[32mok run\\x1b[0m');
      expect(frame).toContain('two\\nok run');
      expect(frame).toMatch(/denied: read \S*\\x1b\]0;denied\\x07/);
      expect(frame).toContain('"text": "\\x9b2J \\u202e \\u001b[2J \\u2028"');
    } finally {
      ui.unmount();
    }
  });

  it('shows a thrown message and a recorded run’s denials as text', async () => {
    await factory.runSettled('evil', {});
    await factory.store!.runs.flush();
    const ui = drive({ factory });
    try {
      await command(ui, 'run thrower');
      await ui.waitFor('input › {}');
      await ui.type(KEY.enter);
      const thrown = await ui.waitFor('E_AGENT_THREW');
      expect(thrown).not.toMatch(RAW_CONTROL);
      expect(thrown).toContain('\\x1b]0;pwned\\x07boom\\r\\nok run');
      await ui.type(KEY.esc);
      await ui.waitFor('<r/enter> run again');

      await command(ui, 'runs');
      await ui.waitFor('evil');
      await ui.type('/');
      await ui.type('template:evil');
      await ui.type(KEY.enter);
      await ui.waitFor('template evil');
      await ui.type(KEY.enter);
      const detail = await ui.waitFor('denials');
      expect(detail).not.toMatch(RAW_CONTROL);
      expect(detail).toMatch(/denials\s+read \S*\\x1b\]0;denied\\x07/);
    } finally {
      ui.unmount();
    }
  });
});
