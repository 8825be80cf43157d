// `af init`: from an empty folder to an agent that runs at once, keys on request, and never overwriting what is there.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_POLICY } from '../../templates/index.js';
import { runAf } from '../helpers/cli.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'af-init-'));
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('af init', () => {
  it('makes a project whose example runs at once with no input, in dev; unsigned without --keys', async () => {
    const empty = await runAf(dir, ['templates']);
    expect(empty.stderr).toContain('run `af init`');

    const init = await runAf(dir, ['init']);
    expect(init.status).toBe(0);
    expect(init.stderr).toContain('created agents/example/ (agent.json, main.ts)');
    expect(init.stderr).toContain('created policy.json');
    expect(init.stderr).toContain('no signing keys: dev runs unsigned agents (`af init --keys` or `af keys init` makes a key pair)');
    expect(init.stderr).toContain('next: af run example ');
    expect(readFileSync(path.join(dir, '.gitignore'), 'utf8')).toBe('.af/\n');
    expect(JSON.parse(readFileSync(path.join(dir, 'policy.json'), 'utf8'))).toEqual({ rules: DEFAULT_POLICY.rules });
    expect(readFileSync(path.join(dir, 'agents/example/main.ts'), 'utf8')).toContain("import { defineAgent } from 'agent-factory/agent';");
    expect(existsSync(path.join(dir, 'tsconfig.json'))).toBe(true);
    expect(existsSync(path.join(dir, 'agents/example/agent.sig'))).toBe(false);
    expect(JSON.parse((await runAf(dir, ['keys', 'list', '--json'])).stdout)).toEqual([]);
    expect(statSync(path.join(dir, '.af')).isDirectory()).toBe(true);

    const first = await runAf(dir, ['run', 'example', '--json']);
    expect(first.status).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ ok: true, output: { greeting: 'Hello, world', n: 1 } });
    const named = await runAf(dir, ['run', 'example', '--input', '{"name":"Ada"}', '--json']);
    expect(JSON.parse(named.stdout)).toMatchObject({ ok: true, output: { greeting: 'Hello, Ada', n: 2 } });
    const prod = await runAf(dir, ['--env', 'prod', 'run', 'example']);
    expect(prod.status).toBe(3);
    expect(prod.stderr).toContain('E_SIGNATURE_MISSING');
  }, 60_000);

  it('with --keys, makes a key pair and signs the example, so it runs in prod too', async () => {
    const init = await runAf(dir, ['init', '--keys']);
    expect(init.status).toBe(0);
    expect(init.stderr).toContain('created dev keys in .af/keys/');
    expect(existsSync(path.join(dir, 'agents/example/agent.sig'))).toBe(true);
    expect(JSON.parse((await runAf(dir, ['keys', 'list', '--json'])).stdout)).toHaveLength(2);
    const prod = await runAf(dir, ['--env', 'prod', 'run', 'example', '--json']);
    expect(prod.status).toBe(0);
    expect(JSON.parse(prod.stdout)).toMatchObject({ ok: true, output: { greeting: 'Hello, world', n: 1 } });
  }, 60_000);

  it('from an empty folder, `af init && af run example` works with the real af command', () => {
    const bin = path.join(dir, 'bin');
    mkdirSync(bin);
    symlinkSync(path.join(REPO, 'bin/af.js'), path.join(bin, 'af'));
    const project = path.join(dir, 'project');
    mkdirSync(project);
    const shell = spawnSync('sh', ['-c', 'af init && af run example'], {
      cwd: project,
      encoding: 'utf8',
      env: { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}`, NO_COLOR: '1', AF_HOME: '', AF_ROOT: '' },
    });
    expect(shell.stderr).toContain('created agents/example/');
    expect(shell.status).toBe(0);
    expect(JSON.parse(shell.stdout)).toEqual({ greeting: 'Hello, world', n: 1 });
  }, 60_000);

  it('creates the project in the folder it is given', async () => {
    const init = await runAf(dir, ['init', 'new-project']);
    expect(init.status).toBe(0);
    expect(init.stderr).toContain('next: cd new-project && af run example');
    expect(existsSync(path.join(dir, 'new-project/agents/example/main.ts'))).toBe(true);
    expect(existsSync(path.join(dir, 'new-project/policy.json'))).toBe(true);
    expect(existsSync(path.join(dir, 'new-project/.af/factory.db'))).toBe(true);
    expect(existsSync(path.join(dir, 'agents'))).toBe(false);
  }, 60_000);

  it('run again (with --keys), it keeps an edited example, policy, tsconfig, its keys and the .gitignore lines', async () => {
    writeFileSync(path.join(dir, '.gitignore'), 'node_modules/');
    expect((await runAf(dir, ['init', '--keys'])).status).toBe(0);
    const edited = 'export default () => ({ mine: true });\n';
    writeFileSync(path.join(dir, 'agents/example/main.ts'), edited);
    writeFileSync(path.join(dir, 'policy.json'), '{ "rules": [] }\n');
    writeFileSync(path.join(dir, 'tsconfig.json'), '{}\n');
    const signature = readFileSync(path.join(dir, 'agents/example/agent.sig'), 'utf8');
    const keysBefore = (await runAf(dir, ['keys', 'list', '--json'])).stdout;

    const again = await runAf(dir, ['init', '--keys']);
    expect(again.status).toBe(0);
    expect(again.stderr).toContain('kept agents/example/agent.json');
    expect(again.stderr).toContain('kept policy.json');
    expect(again.stderr).toContain('kept tsconfig.json');
    expect(again.stderr).toContain('kept the existing keys');
    expect(readFileSync(path.join(dir, 'agents/example/main.ts'), 'utf8')).toBe(edited);
    expect(readFileSync(path.join(dir, 'agents/example/agent.sig'), 'utf8')).toBe(signature);
    expect(readFileSync(path.join(dir, 'policy.json'), 'utf8')).toBe('{ "rules": [] }\n');
    expect(readFileSync(path.join(dir, 'tsconfig.json'), 'utf8')).toBe('{}\n');
    expect((await runAf(dir, ['keys', 'list', '--json'])).stdout).toBe(keysBefore);
    expect(readFileSync(path.join(dir, '.gitignore'), 'utf8')).toBe('node_modules/\n.af/\n');
  }, 60_000);

  it('refuses a file where the project folder should be, and changes nothing', async () => {
    writeFileSync(path.join(dir, 'taken'), 'mine');
    const init = await runAf(dir, ['init', 'taken']);
    expect(init.status).toBe(2);
    expect(init.stderr).toContain(`E_USAGE`);
    expect(init.stderr).toContain(`${path.join(dir, 'taken')} is a file, not a folder; give af init a folder to make the project in`);
    expect(readFileSync(path.join(dir, 'taken'), 'utf8')).toBe('mine');
  });
});
