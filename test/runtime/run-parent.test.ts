// A spawned run names the run that spawned it, in both isolation modes: `af runs show` builds the spawn tree from it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../core/run-record.js';
import { createFactory } from '../../runtime/index.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

let project: TempProject;

beforeAll(() => {
  project = createProject({
    ...simpleTemplate('child', {}, 'export default (input) => ({ doubled: input.n * 2 });\n'),
    ...simpleTemplate('parent', { permissions: { spawn: ['child'] } }, "export default async (input, ctx) => ({ a: await ctx.spawn('child', input), b: await ctx.spawn('child', input) });\n"),
  });
});
afterAll(() => project.remove());

describe.each(['process', 'inline'] as const)('spawned runs in %s isolation', (isolation) => {
  it('record their parent run id, and runs started by a caller record none', async () => {
    const records: RunRecord[] = [];
    const runSink = { write: (record: RunRecord) => void records.push(record), flush: async () => {}, close: async () => {} };
    const factory = await createFactory({ root: project.root, isolation, hosts: 1, store: false, runSink });
    try {
      const { runId, output } = await factory.run('parent', { n: 2 });
      expect(output).toEqual({ a: { doubled: 4 }, b: { doubled: 4 } });
      const parent = records.find((record) => record.id === runId);
      expect(parent?.parentId).toBeUndefined();
      const children = records.filter((record) => record.template === 'child');
      expect(children).toHaveLength(2);
      for (const child of children) expect(child).toMatchObject({ parentId: runId, depth: 1 });
    } finally {
      await factory.close();
    }
  });
});
