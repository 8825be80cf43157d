// The smaller findings of the everyday loop, each through the real CLI: usage mistakes exit 2 and say what and where,
// "not found" errors carry their own codes, the environment is checked, and files land where the user expects.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { httpStatusFor } from '../../api/errors.js';
import { exitStatusFor } from '../../cli/exit-status.js';
import { plural } from '../../core/plural.js';
import { readExport } from '../../store/data-ops.js';
import { runAf } from '../helpers/cli.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

let project: TempProject;
beforeEach(() => {
  project = createProject({
    ...simpleTemplate('echo', { description: 'returns its input', environments: { qa: { limits: { timeoutMs: 1000 } } } }),
    'policy.json': { environments: ['staging'], rules: [{ id: 'eu-rule', environments: ['eu-prod'], deny: ['wasm'] }] },
  });
});
afterEach(() => project.remove());

const af = (args: string[], env: Record<string, string> = {}) => runAf(project.root, args, env);

describe('not found, with a code of its own', () => {
  it('no suggestion: E_SUGGESTION_NOT_FOUND, exit 4, HTTP 404', async () => {
    for (const args of [['suggestions', 'show', 'nope'], ['suggestions', 'reject', 'nope', '--reason', 'x']]) {
      const result = await af(args);
      expect(result.status).toBe(4);
      expect(result.stderr).toContain('E_SUGGESTION_NOT_FOUND: no suggestion nope');
    }
    expect(httpStatusFor('E_SUGGESTION_NOT_FOUND')).toBe(404);
    expect(exitStatusFor('E_SUGGESTION_NOT_FOUND')).toBe(4);
  });

  it('no key: E_KEY_NOT_FOUND, exit 4, HTTP 404', async () => {
    const signing = await af(['keys', 'revoke', 'deadbeef00000000']);
    expect(signing.status).toBe(4);
    expect(signing.stderr).toContain('E_KEY_NOT_FOUND');
    const api = await af(['keys', 'api', 'revoke', 'deadbeef0000']);
    expect(api.status).toBe(4);
    expect(api.stderr).toContain('E_KEY_NOT_FOUND: no API key with id deadbeef0000');
    expect(httpStatusFor('E_KEY_NOT_FOUND')).toBe(404);
  });
});

describe('numeric options', () => {
  it.each([
    [['runs', '--limit', 'abc']],
    [['runs', '--limit', '0']],
    [['audit-log', 'list', '--limit', '12abc']],
  ])('%j exits 2 naming the option', async (args) => {
    const result = await af(args);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/E_USAGE: --limit must be an integer from 1 to 1000000, got "/);
  });
});

describe('environments the project does not know', () => {
  it('--env stagign exits 2, naming the known environments and the nearest', async () => {
    const result = await af(['run', 'echo', '--env', 'stagign']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('E_USAGE: --env stagign: this project knows no environment "stagign"; did you mean "staging"?');
    // Known: dev and prod, policy.json's list and rules, the template overlays.
    expect(result.stderr).toContain('known: dev, eu-prod, prod, qa, staging');
  });

  it('checks the global --env and AF_ENV too', async () => {
    expect((await af(['--env', 'prdo', 'templates', 'show', 'echo'])).stderr).toContain('did you mean "prod"?');
    const fromVariable = await af(['templates', 'show', 'echo'], { AF_ENV: 'qaa' });
    expect(fromVariable.status).toBe(2);
    expect(fromVariable.stderr).toContain('AF_ENV qaa: this project knows no environment "qaa"; did you mean "qa"?');
  });

  it('accepts every known environment', async () => {
    for (const env of ['dev', 'prod', 'staging', 'qa', 'eu-prod']) {
      const result = await af(['templates', 'show', 'echo', '--env', env, '--json']);
      expect(result.stderr).not.toContain('E_USAGE');
      expect(result.status).toBe(0);
    }
  });
});

describe('af verify in dev', () => {
  it('says dev runs an unsigned template anyway, instead of claiming it runs only signed ones', async () => {
    const result = await af(['verify', 'echo']);
    expect(result.status).toBe(3);
    expect(result.stdout).not.toContain('dev runs only signed templates');
    expect(result.stdout).toContain('template "echo" is not signed; dev runs it anyway (with a warning), every other environment refuses it; sign it with `af sign echo`');
  });
});

describe('af store export', () => {
  it('refuses a .json name with a hint, writes plain .jsonl and zstd .jsonl.zst', async () => {
    expect((await af(['run', 'echo', '--input', '{"a":1}'])).status).toBe(0);
    const refused = await af(['store', 'export', 'x.json']);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('name it x.jsonl (plain) or x.jsonl.zst (zstd-compressed)');
    expect(existsSync(path.join(project.root, 'x.json'))).toBe(false);

    const plain = await af(['store', 'export', 'x.jsonl']);
    expect(plain.status).toBe(0);
    expect(plain.stdout).toContain('exported 1 run and');
    const lines = readFileSync(path.join(project.root, 'x.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.filter((line) => line.kind === 'run')).toHaveLength(1);

    expect((await af(['store', 'export', 'x.jsonl.zst'])).status).toBe(0);
    expect((await readExport(path.join(project.root, 'x.jsonl.zst'))).filter((line) => line.kind === 'run')).toHaveLength(1);
  });
});

describe('af audit DIR', () => {
  it('writes the SBOM into DIR, not into the state folder', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'af-audit-dir-'));
    const home = mkdtempSync(path.join(os.tmpdir(), 'af-audit-home-'));
    try {
      writeFileSync(path.join(dir, 'package.json'), '{"name":"tiny","version":"1.0.0"}\n');
      writeFileSync(path.join(dir, 'package-lock.json'), '{"name":"tiny","version":"1.0.0","lockfileVersion":3,"requires":true,"packages":{"":{"name":"tiny","version":"1.0.0"}}}\n');
      const result = await af(['audit', dir, '--skip-npm-audit', '--min-score', '0', '--json'], {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        AF_HOME: home,
        npm_config_registry: 'http://127.0.0.1:9/',
        npm_config_fetch_retries: '0',
      });
      expect(result.status).toBe(0);
      expect(JSON.parse(result.stdout).sbom.file).toBe(path.join(dir, 'sbom.cdx.json'));
      expect(existsSync(path.join(dir, 'sbom.cdx.json'))).toBe(true);
      expect(existsSync(path.join(home, 'sbom.cdx.json'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('a damaged store', () => {
  it('says so and names `af store restore` with the backup found beside it', async () => {
    mkdirSync(path.join(project.root, '.af'), { recursive: true });
    writeFileSync(path.join(project.root, '.af', 'factory.db'), Buffer.alloc(8192, 7));
    const without = await af(['runs']);
    expect(without.stderr).toContain('is damaged (file is not a database); restore a backup with `af store restore FILE`');

    const backup = path.join(project.root, '.af', 'monday.bak');
    writeFileSync(backup, 'x');
    const withBackup = await af(['runs']);
    expect(withBackup.stderr).toContain(`restore a backup with \`af store restore ${backup}\``);
  });
});

describe('af learn with too few runs', () => {
  it('says how many runs it needs and how many each template has, in the singular where it is one', async () => {
    expect((await af(['run', 'echo', '--input', '{}'])).status).toBe(0);
    const result = await af(['learn']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('learned from 1 run of 1 template in');
    expect(result.stdout).toContain('0 new suggestions');
    expect(result.stderr).toContain('too few runs: the learner needs at least 100 runs of a template to suggest a change (300 to drop a permission); echo has 1 (99 to go)');
  });

  it('says so when there are no runs at all', async () => {
    const result = await af(['learn']);
    expect(result.stderr).toContain('no runs recorded yet: the learner needs at least 100 runs of a template');
  });
});

describe('plurals', () => {
  it('one run, two runs, one entry', () => {
    expect([plural(1, 'run'), plural(2, 'run'), plural(0, 'error'), plural(1, 'entry', 'entries')]).toEqual(['1 run', '2 runs', '0 errors', '1 entry']);
  });
});
