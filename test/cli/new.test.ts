// `af new NAME [--from TEMPLATE]`: a new agent that runs at once, a copy that differs only by its name, never an overwrite.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REPO_AGENTS } from '../agents/bundled.js';
import { runAf } from '../helpers/cli.js';
import { createProject, type TempProject } from '../helpers/project.js';

let project: TempProject;

beforeEach(() => {
  project = createProject();
  mkdirSync(project.agentsDir);
});

afterEach(() => project.remove());

const af = (...args: string[]) => runAf(project.root, args);
const read = (relative: string) => readFileSync(path.join(project.root, relative), 'utf8');

describe('af new', () => {
  it('scaffolds agents/NAME with the published agent type, and it runs with no input', async () => {
    const made = await af('new', 'demo');
    expect(made.status).toBe(0);
    expect(made.stderr).toContain('created agents/demo/ (agent.json, main.ts)');
    expect(made.stderr).toContain('next: af run demo');
    expect(JSON.parse(read('agents/demo/agent.json'))).toMatchObject({ name: 'demo', version: '0.1.0', entry: 'main.ts', permissions: {} });
    expect(read('agents/demo/main.ts')).toContain("import { defineAgent } from 'agent-factory/agent';");
    expect(read('agents/demo/main.ts')).not.toContain('interface Context');

    const ran = await af('run', 'demo', '--json');
    expect(ran.status).toBe(0);
    expect(JSON.parse(ran.stdout)).toMatchObject({ ok: true, output: { message: 'Hello from demo, world' } });
    expect((await af('validate', '--json')).status).toBe(0);
  }, 60_000);

  it.each([
    ['Demo', 'e.g. "demo"'],
    ['1st', 'e.g. "st"'],
    ['my_agent', 'e.g. "my-agent"'],
    ['../escape', 'e.g. "escape"'],
    ['a'.repeat(65), 'at most 64 characters'],
  ])('refuses the name %j with E_USAGE (exit 2) and writes nothing', async (name, hint) => {
    const made = await af('new', name);
    expect(made.status).toBe(2);
    expect(made.stderr).toContain('E_USAGE');
    expect(made.stderr).toContain('is not a valid agent name: use lowercase letters, digits and \'-\', starting with a letter');
    expect(made.stderr).toContain(hint);
    expect(readdirSync(project.agentsDir)).toEqual([]);
    expect(existsSync(path.join(project.root, 'escape'))).toBe(false);
  });

  it('never overwrites an existing folder (exit 2, E_CONFLICT), a symlink included', async () => {
    expect((await af('new', 'demo')).status).toBe(0);
    writeFileSync(path.join(project.agentsDir, 'demo/main.ts'), 'export default () => 1;\n');
    const again = await af('new', 'demo');
    expect(again.status).toBe(2);
    expect(again.stderr).toContain('E_CONFLICT');
    expect(again.stderr).toContain('agents/demo already exists; af new never overwrites');
    expect(read('agents/demo/main.ts')).toBe('export default () => 1;\n');

    symlinkSync(path.join(project.root, 'nowhere'), path.join(project.agentsDir, 'dangling'));
    const link = await af('new', 'dangling');
    expect(link.status).toBe(2);
    expect(existsSync(path.join(project.root, 'nowhere'))).toBe(false);
  }, 60_000);

  it('--from copies a template with only its name changed, and leaves its signature behind', async () => {
    for (const name of ['word-stats', 'base-worker']) cpSync(path.join(REPO_AGENTS, name), path.join(project.agentsDir, name), { recursive: true });
    const made = await af('new', 'my-stats', '--from', 'word-stats');
    expect(made.status).toBe(0);
    expect(made.stderr).toContain('created agents/my-stats/ (agent.json, main.ts, rank.ts, tokenize.ts, a copy of word-stats)');
    expect(made.stderr).toContain('not copied: agent.sig');
    expect(existsSync(path.join(project.agentsDir, 'my-stats/agent.sig'))).toBe(false);
    for (const file of ['main.ts', 'rank.ts', 'tokenize.ts']) expect(read(`agents/my-stats/${file}`)).toBe(read(`agents/word-stats/${file}`));
    // The git diff of the copy's agent.json against the original is the name line, nothing else.
    const original = read('agents/word-stats/agent.json').split('\n');
    const copy = read('agents/my-stats/agent.json').split('\n');
    expect(copy.length).toBe(original.length);
    expect(copy.filter((line, index) => line !== original[index])).toEqual(['  "name": "my-stats",']);

    const ran = await af('run', 'my-stats', '--input', '{"text":"the cat and the hat and the bat"}', '--json');
    expect(JSON.parse(ran.stdout)).toMatchObject({ ok: true, output: { words: 8, top: [{ word: 'the', count: 3 }, { word: 'and', count: 2 }, { word: 'bat', count: 1 }, { word: 'cat', count: 1 }, { word: 'hat', count: 1 }] } });
  }, 60_000);

  it('--from an abstract template makes an agent that extends it', async () => {
    cpSync(path.join(REPO_AGENTS, 'base-worker'), path.join(project.agentsDir, 'base-worker'), { recursive: true });
    const made = await af('new', 'worker', '--from', 'base-worker', '--json');
    expect(made.status).toBe(0);
    expect(JSON.parse(made.stdout)).toEqual({ name: 'worker', dir: 'agents/worker', files: ['agent.json', 'main.ts'], from: 'base-worker', how: 'extends', skipped: [] });
    expect(JSON.parse(read('agents/worker/agent.json'))).toMatchObject({ name: 'worker', extends: 'base-worker' });
    const shown = await af('templates', 'show', 'worker', '--json');
    expect(JSON.parse(shown.stdout)).toMatchObject({ manifest: { limits: { memoryMb: 64 }, config: { topN: 5 } } });
  }, 60_000);

  it('--from a template that does not exist: E_TEMPLATE_NOT_FOUND (exit 4), nothing written', async () => {
    const made = await af('new', 'demo', '--from', 'nope');
    expect(made.status).toBe(4);
    expect(made.stderr).toContain('no template "nope" in agents/; `af templates` lists them');
    expect(existsSync(path.join(project.agentsDir, 'demo'))).toBe(false);
  });

  it('outside a project, says to run af init (exit 2)', async () => {
    const outside = createProject();
    try {
      const made = await runAf(outside.root, ['new', 'demo']);
      expect(made.status).toBe(2);
      expect(made.stderr).toContain('does not exist: run `af init` to start a project here');
      expect(readdirSync(outside.root)).toEqual([]);
    } finally {
      outside.remove();
    }
  });
});
