// `af init`: from an empty folder to a signed agent that runs in dev and prod, and never overwriting what is there.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runAf } from '../helpers/cli.js';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'af-init-'));
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('af init', () => {
  it('makes a project whose example runs at once, in dev and in prod', async () => {
    const empty = await runAf(dir, ['templates']);
    expect(empty.stderr).toContain('run `af init`');

    const init = await runAf(dir, ['init']);
    expect(init.status).toBe(0);
    expect(init.stderr).toContain('created agents/hello/');
    expect(init.stderr).toContain("next: af run hello --input '{\"name\":\"Ada\"}'");
    expect(readFileSync(path.join(dir, '.gitignore'), 'utf8')).toBe('.af/\n');
    expect(existsSync(path.join(dir, 'agents/hello/agent.sig'))).toBe(true);
    const privateKeys = (await runAf(dir, ['keys', 'list', '--json'])).stdout;
    expect(JSON.parse(privateKeys)).toHaveLength(2);
    expect(statSync(path.join(dir, '.af/keys')).isDirectory()).toBe(true);

    const dev = await runAf(dir, ['run', 'hello', '--input', '{"name":"Ada"}', '--json']);
    expect(JSON.parse(dev.stdout)).toMatchObject({ ok: true, output: { greeting: 'Hello, Ada', n: 1 } });
    const prod = await runAf(dir, ['--env', 'prod', 'run', 'hello', '--input', '{"name":"Ada"}', '--json']);
    expect(prod.status).toBe(0);
    expect(JSON.parse(prod.stdout)).toMatchObject({ ok: true, output: { greeting: 'Hello, Ada', n: 2 } });
  }, 60_000);

  it('creates the project in the folder it is given', async () => {
    const init = await runAf(dir, ['init', 'new-project']);
    expect(init.status).toBe(0);
    expect(init.stderr).toContain('next: cd new-project && af run hello');
    expect(existsSync(path.join(dir, 'new-project/agents/hello/main.ts'))).toBe(true);
    expect(existsSync(path.join(dir, 'new-project/.af/factory.db'))).toBe(true);
  }, 60_000);

  it('run again, it keeps an edited example, its keys and the .gitignore lines', async () => {
    writeFileSync(path.join(dir, '.gitignore'), 'node_modules/');
    expect((await runAf(dir, ['init'])).status).toBe(0);
    const edited = 'export default () => ({ mine: true });\n';
    writeFileSync(path.join(dir, 'agents/hello/main.ts'), edited);
    const keysBefore = (await runAf(dir, ['keys', 'list', '--json'])).stdout;

    const again = await runAf(dir, ['init']);
    expect(again.status).toBe(0);
    expect(again.stderr).toContain('kept agents/hello/agent.json');
    expect(again.stderr).toContain('kept the existing keys');
    expect(readFileSync(path.join(dir, 'agents/hello/main.ts'), 'utf8')).toBe(edited);
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
