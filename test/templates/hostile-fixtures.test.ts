// Every malformed or malicious template under test/fixtures/templates produces exactly the error recorded beside it.
import { cpSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FactoryError } from '../../core/errors.js';
import { resolveTemplate } from '../../templates/index.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/templates');

interface Expected {
  template: string;
  code: string;
  message: string;
  problems: unknown[];
}

async function resolveError(root: string, name: string): Promise<FactoryError> {
  try {
    await resolveTemplate({ agentsDir: path.join(root, 'agents'), displayRoot: root }, name, { env: 'dev' });
  } catch (error) {
    expect(error).toBeInstanceOf(FactoryError);
    return error as FactoryError;
  }
  throw new Error(`template ${name} in ${root} resolved, but it must fail`);
}

describe('hostile and malformed template fixtures', () => {
  const cases = readdirSync(FIXTURES).sort();

  it('has a fixture for every kind of bad input the foundation must reject', () => {
    expect(cases).toEqual(
      expect.arrayContaining([
        'malformed-json', 'schema-violations', 'unknown-key', 'wrong-type', 'missing-entry-file', 'missing-parent',
        'cyclic-extends', 'deep-extends', 'bare-import', 'node-builtin', 'outside-import', 'require-call',
      ]),
    );
  });

  it.each(cases)('%s produces its recorded error', async (fixture) => {
    const root = path.join(FIXTURES, fixture);
    const expected = JSON.parse(readFileSync(path.join(root, 'expected.json'), 'utf8')) as Expected;
    const error = await resolveError(root, expected.template);
    expect({ code: error.code, message: error.message, problems: error.problems }).toEqual({
      code: expected.code,
      message: expected.message,
      problems: expected.problems,
    });
  });

  it('lists every schema violation, each with its pointer and line', async () => {
    const error = await resolveError(path.join(FIXTURES, 'schema-violations'), 'many');
    expect(error.problems.map((problem) => [problem.pointer, problem.line])).toEqual([
      ['/version', 3],
      ['/permissions/net/0', 5],
      ['/permissions/env/0', 5],
      ['/limits/memoryMb', 6],
      ['/limits/timeoutMs', 6],
      ['/pool/prewarm', 7],
    ]);
  });
});

describe('hostile inputs made at test time', () => {
  let project: TempProject | undefined;
  afterEach(() => project?.remove());

  it('refuses a template folder that is a symlink to somewhere outside agents/', async () => {
    project = createProject(simpleTemplate('inside'));
    const outside = path.join(project.root, 'elsewhere', 'evil');
    cpSync(path.join(project.agentsDir, 'inside'), outside, { recursive: true });
    writeFileSync(path.join(outside, 'agent.json'), JSON.stringify({ name: 'evil', version: '1.0.0', entry: 'main.ts' }));
    symlinkSync(outside, path.join(project.agentsDir, 'evil'));
    const error = await resolveError(project.root, 'evil');
    expect(error.code).toBe('E_TEMPLATE_INVALID');
    expect(error.message).toBe(`agents/evil is a symlink to ${outside}, outside agents; copy the template into the folder instead`);
  });

  it('refuses an import that reaches outside the folder through a symlinked file', async () => {
    project = createProject({
      ...simpleTemplate('linked', {}, "import { secret } from './secret.ts';\nexport default () => secret;\n"),
      'outside/secret.ts': "export const secret = 'stolen';\n",
    });
    symlinkSync(path.join(project.root, 'outside/secret.ts'), path.join(project.agentsDir, 'linked/secret.ts'));
    const error = await resolveError(project.root, 'linked');
    expect(error.code).toBe('E_TEMPLATE_IMPORT');
    expect(error.message).toBe(
      `agents/linked/main.ts:1:24: import of "./secret.ts" resolves through a symlink to ${path.join(project.root, 'outside/secret.ts')}, outside the template folder`,
    );
  });

  it('refuses a 10 MB manifest before parsing it', async () => {
    project = createProject();
    mkdirSync(path.join(project.agentsDir, 'huge'), { recursive: true });
    const padding = 'x'.repeat(10 * 1024 * 1024);
    writeFileSync(path.join(project.agentsDir, 'huge/agent.json'), JSON.stringify({ name: 'huge', version: '1.0.0', description: padding }));
    const error = await resolveError(project.root, 'huge');
    expect(error.code).toBe('E_TEMPLATE_INVALID');
    expect(error.message).toBe('agents/huge/agent.json: agent.json is 10.0 MB; a manifest may be at most 256 KB (move data into files the agent reads)');
  });

  it('names a template that does not exist, and refuses names that are paths', async () => {
    project = createProject(simpleTemplate('present'));
    const missing = await resolveError(project.root, 'absent');
    expect(missing.code).toBe('E_TEMPLATE_NOT_FOUND');
    expect(missing.message).toBe('no template named "absent" in agents; run `af templates list` to see what is available');
    const traversal = await resolveError(project.root, '../present');
    expect(traversal.code).toBe('E_TEMPLATE_NOT_FOUND');
    expect(traversal.message).toBe('"../present" is not a template name (lowercase letters, digits and dashes); run `af templates list`');
  });
});
