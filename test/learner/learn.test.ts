// One learning pass on real files and a real store: a template that cannot be learned for is skipped with a coded error
// saying why and what to do, and every time the pass records reads the injected clock.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManualClock } from '../../core/clock.js';
import { learn } from '../../learner/index.js';
import { openStore, type Store } from '../../store/index.js';
import { TemplateRegistry } from '../../templates/index.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';
import { craftRuns } from './helpers.js';

let project: TempProject;
let store: Store;
let registry: TemplateRegistry;

beforeAll(async () => {
  project = createProject({
    ...simpleTemplate('sized', { limits: { memoryMb: 256, timeoutMs: 5000, cpuMs: 5000 }, permissions: { kv: true } }),
    // Abstract since its runs were recorded: it can only be extended now.
    'agents/base/agent.json': { name: 'base', version: '1.0.0', abstract: true, limits: { timeoutMs: 2000 } },
  });
  store = openStore({ path: ':memory:' });
  registry = new TemplateRegistry({ agentsDir: project.agentsDir, displayRoot: project.root });
  const sized = await registry.inspect('sized');
  for (const record of craftRuns({ count: 1200, template: 'sized', digest: sized.digest })) store.runs.write(record);
  for (const record of craftRuns({ count: 20, template: 'base' })) store.runs.write({ ...record, id: `base-${record.id}` });
  await store.runs.flush();
});

afterAll(async () => {
  registry.close();
  await store.close();
  project.remove();
});

describe('learn', () => {
  it('skips an abstract template with E_TEMPLATE_INVALID, saying why and what to do, and learns for the rest; its times come from the injected clock', async () => {
    const clock = createManualClock(Date.parse('2031-05-04T03:02:01Z'));
    const result = await learn({ store, registry, clock });

    expect(result.skipped).toEqual([
      {
        template: 'base',
        code: 'E_TEMPLATE_INVALID',
        reason: expect.stringMatching(/template "base" is abstract \(agents\/base\/agent\.json\): it can only be extended, not run.*remove "abstract": true/),
      },
    ]);
    expect(result.templates).toBe(1);
    expect(result.created.length).toBeGreaterThan(0);
    // Decided at the clock's "now", not the machine's: suggestions and the models trained for them.
    for (const suggestion of result.created) expect(suggestion.createdAt).toBe(clock.now());
    expect(store.suggestions.list({ template: 'sized', state: 'open' }).map((s) => s.createdAt)).toEqual(result.created.map(() => clock.now()));
    expect(store.models.load('sized', 'memoryMb')?.trainedAt).toBe(clock.now());
    // The pass's duration is read from the same clock, which did not move.
    expect(result.seconds).toBe(0);
  });
});
