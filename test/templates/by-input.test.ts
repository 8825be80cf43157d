// limits.byInput through extends, environments and policy: a rule is replaced whole, a descendant may lower the flat
// limit under it, and a policy maximum on the flat limit bounds every run's effective limit. (Malformed rules are
// fixtures: test/fixtures/templates/by-input-*.)
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compileLimitsFor } from '../../core/effective-limits.js';
import { FactoryError } from '../../core/errors.js';
import { checkPolicy, mergeManifests, type RawManifest, resolveTemplate } from '../../templates/index.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

const rowsRule = { measure: '/rows', cpuMs: { base: 5, exponent: 1, max: 800 } };
const bytesRule = { measure: 'inputBytes', timeoutMs: { base: 2, exponent: 0.5 } };

describe('mergeManifests on limits.byInput', () => {
  const parent = { name: 'parent', version: '1.0.0', limits: { cpuMs: 1000, byInput: rowsRule } } as RawManifest;
  const child = (extra: Record<string, unknown>) => ({ name: 'child', version: '1.0.0', extends: 'parent', ...extra }) as RawManifest;

  it('replaces an inherited rule whole: no measure or coefficient of the parent survives', () => {
    expect(mergeManifests(parent, child({ limits: { byInput: bytesRule } })).limits).toEqual({ cpuMs: 1000, byInput: bytesRule });
  });

  it('inherits the rule when the child does not write one, and null removes it', () => {
    expect(mergeManifests(parent, child({ limits: { cpuMs: 900 } })).limits).toEqual({ cpuMs: 900, byInput: rowsRule });
    expect(mergeManifests(parent, child({ limits: { byInput: null } })).limits).toEqual({ cpuMs: 1000 });
  });

  it('replaces an inherited environment rule whole too', () => {
    const withEnv = { ...parent, environments: { prod: { limits: { byInput: rowsRule } } } } as RawManifest;
    expect(mergeManifests(withEnv, child({ environments: { prod: { limits: { byInput: bytesRule } } } })).environments).toEqual({ prod: { limits: { byInput: bytesRule } } });
  });
});

describe('resolving templates with limits.byInput', () => {
  let project: TempProject | undefined;
  afterEach(() => project?.remove());

  async function resolve(name: string, env = 'dev') {
    return resolveTemplate({ agentsDir: path.join((project as TempProject).root, 'agents'), displayRoot: (project as TempProject).root }, name, { env });
  }

  it('puts the rule on the spec the sandbox receives', async () => {
    project = createProject(simpleTemplate('sized', { limits: { cpuMs: 1000, byInput: rowsRule } }));
    const template = await resolve('sized');
    expect(template.spec.limits).toMatchObject({ cpuMs: 1000, byInput: rowsRule });
  });

  it('an environment replaces the rule for its runs only', async () => {
    project = createProject(simpleTemplate('sized', { limits: { cpuMs: 1000, byInput: rowsRule }, environments: { prod: { limits: { byInput: bytesRule } } } }));
    expect((await resolve('sized')).manifest.limits.byInput).toEqual(rowsRule);
    expect((await resolve('sized', 'prod')).manifest.limits.byInput).toEqual(bytesRule);
  });

  it('a child that lowers the flat limit below an inherited rule’s max still resolves, and its runs get the lower limit', async () => {
    project = createProject({
      'agents/base/agent.json': { name: 'base', version: '1.0.0', abstract: true, limits: { cpuMs: 1000, byInput: rowsRule } },
      ...simpleTemplate('lean', { extends: 'base', limits: { cpuMs: 300 } }),
    });
    const template = await resolve('lean');
    const limitsFor = compileLimitsFor(template.spec.limits);
    expect(limitsFor({ rows: new Array(20).fill(0) }, 0).cpuMs).toBe(100);
    // The rule alone would give min(800, 5 × 500) = 800: the child's flat limit holds instead.
    expect(limitsFor({ rows: new Array(500).fill(0) }, 0).cpuMs).toBe(300);
  });

  it('refuses a rule whose min is above its max', async () => {
    project = createProject(simpleTemplate('sized', { limits: { cpuMs: 500, byInput: { measure: '/rows', cpuMs: { base: 1, exponent: 1, min: 300, max: 200 } } } }));
    const error = await resolve('sized').catch((e: unknown) => e);
    expect((error as FactoryError).problems).toMatchObject([{ pointer: '/limits/byInput/cpuMs/min', message: expect.stringContaining('is 300, above the rule\'s max (200)') }]);
  });

  it('refuses a rule whose max is above the flat limit where it is written', async () => {
    project = createProject(simpleTemplate('sized', { limits: { cpuMs: 500, byInput: { measure: '/rows', cpuMs: { base: 1, exponent: 1, max: 501 } } } }));
    const error = await resolve('sized').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FactoryError);
    expect((error as FactoryError).problems).toMatchObject([{ pointer: '/limits/byInput/cpuMs/max', message: expect.stringContaining('is 501, above limits.cpuMs (500)') }]);
  });
});

describe('policy maxima and byInput rules', () => {
  let project: TempProject | undefined;
  afterEach(() => project?.remove());
  const policy = { rules: [{ id: 'max-cpu', environments: ['dev'], maxLimits: { cpuMs: 1000 } }], source: 'policy.json' };

  async function resolved(limits: Record<string, unknown>) {
    project = createProject(simpleTemplate('sized', { limits }));
    return resolveTemplate({ agentsDir: path.join(project.root, 'agents'), displayRoot: project.root }, 'sized', { env: 'dev' });
  }

  it('a template within the maximum passes, and no input gives it more than the maximum', async () => {
    // No max on the rule: it defaults to the flat limit, which the policy checked.
    const template = await resolved({ cpuMs: 1000, byInput: { measure: '/n', cpuMs: { base: 10, exponent: 3 } } });
    expect(() => checkPolicy(policy, { name: 'sized', env: 'dev', dir: template.dir, manifest: template.manifest })).not.toThrow();
    const limitsFor = compileLimitsFor(template.spec.limits);
    for (const n of [0, 1, 4, 5, 10, 1e6, 1e300]) expect(limitsFor({ n }, 10).cpuMs).toBeLessThanOrEqual(1000);
    expect(limitsFor({ n: 4 }, 10).cpuMs).toBe(640);
  });

  it('a flat limit above the maximum is denied, however low its rule keeps small inputs', async () => {
    const template = await resolved({ cpuMs: 2000, byInput: { measure: '/n', cpuMs: { base: 1, exponent: 1, max: 900 } } });
    let error: unknown;
    try {
      checkPolicy(policy, { name: 'sized', env: 'dev', dir: template.dir, manifest: template.manifest });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(FactoryError);
    expect((error as FactoryError).message).toContain('limits.cpuMs is 2000, above the maximum 1000');
  });
});
