// `af completion bash|zsh|fish`: scripts generated from the command tree, completing in the real shells.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completionCommand } from '../../cli/commands/completion.js';
import { createCommandContext } from '../../cli/context.js';
import { runAf } from '../helpers/cli.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const has = (shell: string) => spawnSync('sh', ['-c', `command -v ${shell}`]).status === 0;

let dir: string;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'af-completion-'));
  // The real af command on PATH, and a project with two templates to complete.
  mkdirSync(path.join(dir, 'bin'));
  symlinkSync(path.join(REPO, 'bin/af.js'), path.join(dir, 'bin/af'));
  for (const name of ['alpha', 'beta']) {
    mkdirSync(path.join(dir, 'project/agents', name), { recursive: true });
    writeFileSync(path.join(dir, 'project/agents', name, 'agent.json'), '{}');
  }
  env = { ...process.env, PATH: `${path.join(dir, 'bin')}${path.delimiter}${process.env.PATH ?? ''}`, AF_ROOT: '', AF_HOME: '' };
  delete env.AF_ROOT;
  delete env.AF_HOME;
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Completes each line (the words before the cursor, the last one being completed) with _af in a real bash. */
function bashComplete(script: string, lines: string[][]): string[] {
  const calls = lines.map((words) => `COMP_WORDS=(${words.map((word) => `'${word}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _af; echo "\${COMPREPLY[*]}"`).join('\n');
  const result = spawnSync('bash', ['-c', `${script}\n${calls}`], { cwd: path.join(dir, 'project'), env, encoding: 'utf8' });
  expect(result.stderr).toBe('');
  return result.stdout.split('\n').slice(0, lines.length);
}

describe('af completion', () => {
  it('bash: `source <(af completion bash)` registers af, and completes subcommands, options, template names and choices', () => {
    const result = spawnSync('bash', ['-c', 'source <(af completion bash) && complete -p af'], { cwd: path.join(dir, 'project'), env, encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toBe('complete -o default -F _af af\n');

    const completed = bashComplete('source <(af completion bash)', [
      ['af', 'ke'],
      ['af', 'keys', 'r'],
      ['af', 'keys', 'api', 'c'],
      ['af', 'run', '--in'],
      ['af', 'run', ''],
      ['af', '--env', 'prod', 'run', '--input', '{}', 'b'],
      ['af', 'new', 'x', '--from', ''],
      ['af', 'completion', ''],
      ['af', 'run', 'alpha', ''],
    ]);
    expect(completed).toEqual(['keys', 'rotate revoke', 'create', '--input --input-file', 'alpha beta', 'beta', 'alpha beta', 'bash zsh fish', '']);
  });

  it('is derived from the command tree: a command, option or choice added there is completed', async () => {
    const program = new Command('af');
    program.option('--root <dir>', 'project root');
    program.command('zap <name>').option('--zing <level>', 'how much').addOption(program.createOption('--mode <mode>', 'which').choices(['fast', 'slow']));
    let script = '';
    const context = createCommandContext({ stdout: { write: (text: string) => (script += text) }, stderr: { write: () => true }, stdin: process.stdin, env: {}, cwd: dir }, () => ({}));
    expect(await completionCommand(context, program, 'bash')).toBe(0);
    expect(bashComplete(script, [['af', 'z'], ['af', 'zap', '--z'], ['af', 'zap', '--mode', ''], ['af', 'zap', '--zing', '3', 'a'], ['af', 'zap', '--r']])).toEqual([
      'zap',
      '--zing',
      'fast slow',
      'alpha',
      '--root',
    ]);
  });

  it.skipIf(!has('fish'))('fish: completes subcommands with their descriptions, options and template names', () => {
    const complete = (line: string) =>
      spawnSync('fish', ['--no-config', '-c', `af completion fish | source; complete -C '${line}'`], { cwd: path.join(dir, 'project'), env, encoding: 'utf8' });
    const keys = complete('af keys r');
    expect(keys.stderr).toBe('');
    expect(keys.stdout).toBe('revoke\trevoke a key at once, including verifications already cached\nrotate\tissue a new current signer; older ones stay valid until they expire\n');
    expect(complete('af run --in').stdout).toBe('--input\tthe input as JSON\n--input-file\tread the input JSON from a file\n');
    expect(complete('af run ').stdout).toBe('alpha\nbeta\n');
    const elsewhere = spawnSync('fish', ['--no-config', '-c', "af completion fish | source; complete -C 'af --root project run '"], { cwd: dir, env, encoding: 'utf8' });
    expect(elsewhere.stdout).toBe('alpha\nbeta\n');
  });

  it.skipIf(!has('zsh'))('zsh: the script parses and registers af through bashcompinit', () => {
    const result = spawnSync('zsh', ['-f', '-c', 'source <(af completion zsh) && complete -p af'], { cwd: path.join(dir, 'project'), env, encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('complete -o default -F _af af');
  });

  it.skipIf(!has('zsh') || !has('tmux'))('zsh: Tab completes a subcommand and a template name in a real terminal (tmux)', async () => {
    const socket = `af-completion-${process.pid}`;
    const tmux = (...args: string[]) => spawnSync('tmux', ['-L', socket, ...args], { encoding: 'utf8', env });
    const screen = async (expected: string) => {
      for (let tries = 0; tries < 200; tries++) {
        const text = tmux('capture-pane', '-p').stdout;
        if (text.includes(expected)) return text;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`the terminal never showed ${expected}:\n${tmux('capture-pane', '-p').stdout}`);
    };
    try {
      expect(tmux('new-session', '-d', '-x', '120', '-y', '20', '-c', path.join(dir, 'project'), 'env', `PATH=${env.PATH}`, 'PS1=ready> ', 'zsh', '-f').status).toBe(0);
      await screen('ready>');
      tmux('send-keys', '-l', 'source <(af completion zsh) && echo loaded');
      tmux('send-keys', 'Enter');
      await screen('loaded\nready>');
      tmux('send-keys', '-l', 'af keys ro');
      tmux('send-keys', 'Tab');
      await screen('af keys rotate');
      tmux('send-keys', '-l', '; af run al');
      tmux('send-keys', 'Tab');
      // zsh drops the space a completion added when a ';' follows it.
      await screen('af keys rotate; af run alpha');
    } finally {
      tmux('kill-server');
    }
  }, 60_000);

  it('refuses a shell it does not know (exit 2), naming the ones it does', async () => {
    const result = await runAf(dir, ['completion', 'tcsh']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("argument 'shell'. Allowed choices are bash, zsh, fish.");
  });
});
