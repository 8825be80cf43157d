// The `af` command line, in-process through runCli and once through the real launcher.
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/index.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';
import { captureStreams } from '../helpers/streams.js';

const REPO = path.resolve(import.meta.dirname, '../..');

async function af(args: string[], cwd: string, env: Record<string, string> = {}) {
  const { streams, printed } = captureStreams({ cwd, env, keepStdinOpen: true });
  const status = await runCli(args, streams);
  return { status, ...printed };
}

describe('af validate', () => {
  let project: TempProject;
  afterEach(() => project.remove());

  it('exits 0 and lists every template when all are valid', async () => {
    project = createProject({ ...simpleTemplate('alpha'), 'agents/base/agent.json': { name: 'base', version: '0.1.0', abstract: true } });
    const result = await af(['validate'], project.root);
    expect(result).toEqual({ status: 0, stdout: '✓ alpha 1.0.0\n✓ base 0.1.0 (abstract)\n\n2 valid, 0 invalid\n', stderr: '' });
  });

  it('exits 1 and prints every problem with file, line and pointer', async () => {
    project = createProject({
      ...simpleTemplate('good'),
      'agents/bad/agent.json': '{\n  "name": "bad",\n  "version": "one",\n  "entry": "main.ts",\n  "limits": { "memoryMb": "x" }\n}\n',
      'agents/bad/main.ts': 'export default () => 1;\n',
    });
    const result = await af(['validate'], project.root);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe(
      [
        '✗ bad E_TEMPLATE_INVALID',
        '    agents/bad/agent.json:3:3 (at /version): must be a semantic version such as "1.4.0", not "one"',
        '    agents/bad/agent.json:5:15 (at /limits/memoryMb): must be an integer, not a string ("x")',
        '✓ good 1.0.0',
        '',
        '1 valid, 1 invalid',
        '',
      ].join('\n'),
    );
  });

  it('validates a single template folder given as a path, with --json', async () => {
    project = createProject({ ...simpleTemplate('one'), ...simpleTemplate('two', {}, "import x from 'left-pad';\nexport default x;\n") });
    const result = await af(['validate', 'agents/two', '--json'], project.root);
    expect(result.status).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report.valid).toBe(false);
    expect(report.templates).toHaveLength(1);
    expect(report.templates[0]).toMatchObject({
      name: 'two',
      valid: false,
      code: 'E_TEMPLATE_IMPORT',
      problems: [{ file: 'agents/two/main.ts', line: 1, column: 15, message: 'import of bare package "left-pad" is not allowed: templates may import only relative files inside their folder' }],
    });
  });

  it('exits 4 when the path holds no templates', async () => {
    project = createProject();
    const result = await af(['validate', 'nowhere'], project.root);
    expect(result.status).toBe(4);
    expect(result.stderr).toContain('error E_TEMPLATE_NOT_FOUND: no templates in');
  });
});

describe('af templates', () => {
  it('lists the bundled agents', async () => {
    const result = await af(['templates', 'list'], REPO);
    expect(result.status).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+VERSION\s+STATUS\s+EXTENDS\s+DESCRIPTION$/);
    expect(lines.find((line) => line.startsWith('hello '))).toMatch(/^hello\s+1\.0\.0\s+valid\s+-\s+Greets/);
    expect(lines.find((line) => line.startsWith('base-worker '))).toMatch(/abstract/);
    expect(lines.find((line) => line.startsWith('word-stats '))).toMatch(/valid\s+base-worker/);
  });

  it('shows the resolved manifest and digest for an environment, as JSON', async () => {
    const result = await af(['templates', 'show', 'word-stats', '--env', 'prod', '--json'], REPO);
    expect(result.status).toBe(0);
    const view = JSON.parse(result.stdout);
    expect(view).toMatchObject({ name: 'word-stats', env: 'prod', chain: ['base-worker', 'word-stats'], abstract: false });
    expect(view.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(view.manifest.limits.timeoutMs).toBe(1000);
    expect(view.manifest.config).toEqual({ topN: 5, minLength: 3 });
    expect(Object.keys(view.sources).sort()).toEqual(['main.ts', 'rank.ts', 'tokenize.ts']);
  });

  it('exits 4 for an unknown template, printing the error as JSON with --json', async () => {
    const result = await af(['templates', 'show', 'nope', '--json'], REPO);
    expect(result.status).toBe(4);
    expect(JSON.parse(result.stdout)).toEqual({
      ok: false,
      error: { code: 'E_TEMPLATE_NOT_FOUND', message: 'no template named "nope" in agents; run `af templates list` to see what is available' },
    });
    expect(result.stderr).toBe('error E_TEMPLATE_NOT_FOUND: no template named "nope" in agents; run `af templates list` to see what is available\n');
  });
});

describe('usage', () => {
  it('exits 2 for an unknown command or option', async () => {
    expect((await af(['frobnicate'], REPO)).status).toBe(2);
    const result = await af(['validate', '--nope'], REPO);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("unknown option '--nope'");
  });

  it('prints help without a TTY', async () => {
    const result = await af([], REPO);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('Usage: af [options] [command]');
  });
});

describe('the af launcher', () => {
  it('runs a real process, started through its shebang or as plain `node bin/af.js` (no re-launch, no flag needed)', () => {
    const viaShebang = execFileSync(path.join(REPO, 'bin/af.js'), ['templates', 'list', '--json'], { cwd: REPO, encoding: 'utf8' });
    expect(JSON.parse(viaShebang).map((t: { name: string }) => t.name)).toEqual(expect.arrayContaining(['base-worker', 'hello', 'word-stats']));
    const viaNode = spawnSync(process.execPath, [path.join(REPO, 'bin/af.js'), 'templates', 'show', 'missing'], { cwd: REPO, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    expect(viaNode.status).toBe(4);
    expect(viaNode.stderr).toContain('E_TEMPLATE_NOT_FOUND');
  });
});
