// Every view of the terminal UI driven with keystrokes against a real factory and store on a temp project.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../core/config.js';
import { createFactory, type AgentFactory } from '../../runtime/index.js';
import { openProjectTrust } from '../../templates/index.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';
import { command, drive, KEY } from './helpers.js';

let project: TempProject;
let factory: AgentFactory;

beforeAll(async () => {
  project = createProject({
    ...simpleTemplate(
      'greet',
      {
        input: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: { type: 'string', minLength: 1 } } },
        limits: { timeoutMs: 2000 },
      },
      "export default (input, ctx) => { ctx.log.info('greeting', { name: input.name }); return { greeting: `Hello, ${input.name}` }; };\n",
    ),
    ...simpleTemplate('echo'),
    ...simpleTemplate('signed-one'),
  });
  factory = await createFactory({ root: project.root, isolation: 'inline' });
  const trust = openProjectTrust(resolveConfig({ root: project.root, processEnv: {} }), { store: factory.store!.trust });
  await trust.keyRing.init();
});

afterAll(async () => {
  await factory.close();
  project.remove();
});

describe('templates view', () => {
  it('lists templates with version and signature state, filters with /, lists keys with ?, drills in with Enter and back with Esc', async () => {
    const ui = drive({ factory });
    try {
      const first = await ui.waitFor('signed-one');
      expect(first).toMatch(/greet\s+1\.0\.0\s+unsigned/);
      expect(first).toContain('Agent Factory');
      expect(first).toContain('<enter> manifest');
      expect(first).toContain('<:> command');

      await ui.type('/');
      await ui.type('gre');
      await ui.type(KEY.enter);
      const filtered = await ui.waitFor('/gre');
      expect(filtered).toContain('greet');
      expect(filtered).not.toContain('echo');

      await ui.type('?');
      const help = await ui.waitFor('Keys in templates');
      for (const text of ['enter', 'manifest', 'run', 'reload', 'command', 'filter', 'back / clear filter', ':suggestions', ':run [NAME]']) expect(help).toContain(text);
      await ui.type(KEY.esc);
      await ui.waitFor('<enter> manifest');

      await ui.type(KEY.enter);
      const detail = await ui.waitFor('resolved manifest');
      expect(detail).toContain('templates › template greet');
      expect(detail).toMatch(/digest [0-9a-f]{64}/);
      expect(detail).toContain('"entry": "main.ts"');

      await ui.type(KEY.esc);
      await ui.waitFor(/NAME\s+VERSION\s+SIGNATURE/);
      expect(ui.frame()).not.toContain('resolved manifest');
      // The filter survives the round trip; the first Esc clears it, like k9s.
      expect(ui.frame()).not.toContain('echo');
      await ui.type(KEY.esc);
      await ui.waitFor('echo');
    } finally {
      ui.unmount();
    }
  });

  it('signs every template from :sign with a progress bar, after which they show as signed', async () => {
    const ui = drive({ factory });
    try {
      await ui.waitFor('signed-one');
      await command(ui, 'sign');
      await ui.waitFor(/signed 3 templates with [0-9a-f]+/);
      await ui.type('\u0012'); // ctrl+r reloads the table now instead of at the next refresh
      await ui.waitFor(/greet\s+1\.0\.0\s+signed/);
    } finally {
      ui.unmount();
    }
  });
});

describe('run view', () => {
  it('validates the input as you type, shows the error code for bad input, the output and logs for good input, and r runs again', async () => {
    const ui = drive({ factory });
    try {
      await command(ui, 'run greet');
      const editor = await ui.waitFor('input › {"name":""}');
      expect(editor).toContain('/name must NOT have fewer than 1 characters');

      await ui.type(KEY.enter);
      const bad = await ui.waitFor('E_INPUT_INVALID');
      expect(bad).toContain('input does not match the input schema of "greet"');

      for (let i = 0; i < 2; i++) await ui.type(KEY.backspace);
      await ui.type('Ada"}');
      await ui.waitFor('✓ matches the input schema');
      await ui.type(KEY.enter);
      const good = await ui.waitFor('"greeting": "Hello, Ada"');
      expect(good).toMatch(/ok\s+run [\d.]+ ms/);
      expect(good).toContain('info  greeting {"name":"Ada"}');

      await ui.type('{');
      await ui.waitFor('✗ not JSON');
      await ui.type(KEY.backspace);
      await ui.type(KEY.esc);
      await ui.waitFor('<r/enter> run again');
      await ui.type('r');
      await ui.waitFor('run #3');
    } finally {
      ui.unmount();
    }
  });

  it('picks a template from a list when :run has no name', async () => {
    const ui = drive({ factory });
    try {
      await command(ui, 'run');
      await ui.waitFor('Pick a template to run');
      await ui.type('/');
      await ui.type('greet');
      await ui.type(KEY.enter);
      await ui.type(KEY.enter);
      await ui.waitFor('input › {"name":""}');
      expect(ui.frame()).toContain('run › run greet');
    } finally {
      ui.unmount();
    }
  });
});

describe('runs view', () => {
  it('lists recorded runs, filters by outcome, and shows one run without pretending to have its input', async () => {
    await factory.runSettled('echo', { hello: 'world' });
    await factory.runSettled('greet', { nope: true });
    await factory.store!.runs.flush();
    const ui = drive({ factory });
    try {
      await command(ui, 'runs');
      const all = await ui.waitFor('E_INPUT_INVALID');
      expect(all).toMatch(/echo\s+1\.0\.0\s+ok/);

      await ui.type('/');
      await ui.type('outcome:error template:greet');
      await ui.type(KEY.enter);
      // The header shows the filter a frame before the filtered rows arrive: wait for the rows too.
      const errors = await ui.waitFor(/outcome error(?![\s\S]*echo\s+1\.0\.0)/);
      expect(errors).toContain('template greet');
      expect(errors).not.toMatch(/echo\s+1\.0\.0/);

      await ui.type(KEY.enter);
      const detail = await ui.waitFor('The store keeps no inputs or outputs');
      expect(detail).toMatch(/outcome\s+E_INPUT_INVALID/);
      expect(detail).toMatch(/input shape\s+depth 1/);
      // Refused before it reached the sandbox: it used no grant.
      expect(detail).toMatch(/grants used\s+none/);
      // Nor did it grow any heap: not measured, never a 0 that reads like a measurement.
      expect(detail).toMatch(/memory\s+heap growth not measured · heap at end 0 B \(isolate-wide\)/);
      expect(detail).not.toMatch(/^\s*stopped/m);
      await ui.type(KEY.esc);
      await ui.waitFor('outcome error');
    } finally {
      ui.unmount();
    }
  });
});

describe('live view', () => {
  it('shows runs per second, percentiles, errors by code, sparklines and pools, refreshed while it is open', async () => {
    const ui = drive({ factory, refreshMs: 50 });
    try {
      await command(ui, 'live');
      await ui.waitFor('runs/s');
      await factory.runSettled('greet', { name: 'Live' });
      await factory.runSettled('greet', {});
      await factory.store!.runs.flush();
      const frame = await ui.waitFor(/greet .*\d+ runs p95/);
      expect(frame).toMatch(/run\s+p50\s+[\d.]+ ms/);
      expect(frame).toMatch(/create p50/);
      expect(frame).toMatch(/errors E_INPUT_INVALID \d/);
      expect(frame).toContain('dropped 0');
      expect(frame).toMatch(/pools/);
    } finally {
      ui.unmount();
    }
  });
});

describe('audit view and commands', () => {
  it('shows the chain status above the log, and says so when a command is unknown', async () => {
    const ui = drive({ factory });
    try {
      await command(ui, 'audit');
      const frame = await ui.waitFor('chain intact');
      expect(frame).toContain('template.signed');
      await ui.type(KEY.enter);
      await ui.waitFor('"keyId"');
      await command(ui, 'nonsense');
      await ui.waitFor('unknown command "nonsense"');
    } finally {
      ui.unmount();
    }
  });
});
