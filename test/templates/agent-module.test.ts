// `agent-factory/agent` at bundle time: a fixed virtual module, whatever node_modules holds, and the only package an
// agent may import; type-only imports vanish.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defineAgent } from '../../agent/index.js';
import { AGENT_MODULE_SOURCE } from '../../templates/agent-module.js';
import { bundleTemplate } from '../../templates/index.js';
import { runAf } from '../helpers/cli.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

let project: TempProject | undefined;
afterEach(() => project?.remove());

const AGENT = [
  "import { defineAgent, type Context } from 'agent-factory/agent';",
  "import type { Kv } from 'agent-factory/agent';",
  'type Config = { greeting?: string };',
  'const keep = (kv: Kv | undefined) => kv === undefined;',
  'export default defineAgent(async (input: { name?: string }, ctx: Context<Config>) => ({',
  "  text: `${ctx.config.greeting ?? 'Hello'}, ${input.name ?? 'world'}`,",
  '  noKv: keep(undefined),',
  '}));',
  '',
].join('\n');

/** What a hostile or stale install would put where Node resolution looks: it must never reach a bundle. */
const PLANTED = {
  'package.json': { name: 'agent-factory', type: 'module', exports: { './agent': './agent.js' } },
  'agent.js': "export function defineAgent() { return () => 'planted'; }\n",
};

describe('agent-factory/agent in a bundle', () => {
  it('bundles to the fixed one-function module, reading no node_modules, and runs', async () => {
    const planted = Object.fromEntries(
      ['node_modules/agent-factory', 'agents/greet/node_modules/agent-factory'].flatMap((at) => Object.entries(PLANTED).map(([file, content]) => [`${at}/${file}`, content])),
    );
    project = createProject({ ...simpleTemplate('greet', { config: { greeting: 'Hi' } }, AGENT), ...planted });
    const bundle = await bundleTemplate(path.join(project.agentsDir, 'greet'), 'main.ts', project.root);
    expect(bundle.code).toContain('function defineAgent(run) {\n    return run;\n  }');
    expect(bundle.code).not.toContain('planted');
    expect(bundle.code).not.toContain('node_modules');
    expect(Object.keys(bundle.sources)).toEqual(['main.ts']);
    expect(bundle.code.length).toBeLessThan(1500);

    const ran = await runAf(project.root, ['run', 'greet', '--input', '{"name":"Ada"}', '--json']);
    expect(JSON.parse(ran.stdout)).toMatchObject({ ok: true, output: { text: 'Hi, Ada', noKv: true } });
  }, 60_000);

  it('a type-only import bundles to nothing at all', async () => {
    project = createProject(simpleTemplate('typed', {}, "import type { Context } from 'agent-factory/agent';\nexport default (input: unknown, ctx: Context) => ctx.config;\n"));
    const bundle = await bundleTemplate(path.join(project.agentsDir, 'typed'), 'main.ts', project.root);
    expect(bundle.code).not.toContain('agent-factory');
    expect(bundle.code).not.toContain('defineAgent');
  });

  it.each(['agent-factory', 'agent-factory/api', 'agent-factory/agent/index.js', 'agent-factory/package.json'])('refuses any other module of the package: %s', async (specifier) => {
    project = createProject(simpleTemplate('other', {}, `import * as af from '${specifier}';\nexport default () => Object.keys(af);\n`));
    const result = await runAf(project.root, ['validate', '--json']);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain(`import of \\"${specifier}\\" is not allowed: the only module of agent-factory an agent may import is \\"agent-factory/agent\\"`);
  });

  it('the virtual module does what the published one does, and its bytes are pinned', async () => {
    // Its bytes are in every bundle that imports it and in no source hash: changing them must come with a new
    // BUNDLE_FORMAT (templates/bundle.ts), and this line with it.
    expect(AGENT_MODULE_SOURCE).toBe('export function defineAgent(run) {\n  return run;\n}\n');
    const virtual = (await import(`data:text/javascript,${encodeURIComponent(AGENT_MODULE_SOURCE)}`)) as { defineAgent: typeof defineAgent };
    const run = () => 1;
    expect(Object.keys(virtual)).toEqual(['defineAgent']);
    expect(virtual.defineAgent(run)).toBe(run);
    expect(defineAgent(run)).toBe(run);
  });
});
