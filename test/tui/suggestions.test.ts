// Reviewing the learner's suggestions in the UI: a real suggestion from learn(), rejected with a reason, another accepted into a signed version on disk.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../core/config.js';
import { learn } from '../../learner/index.js';
import { createFactory, type AgentFactory } from '../../runtime/index.js';
import { openProjectTrust, readSignatureFile, SignatureVerifier } from '../../templates/index.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';
import { craftRuns } from '../learner/helpers.js';
import { drive, KEY } from './helpers.js';

let project: TempProject;
let factory: AgentFactory;

beforeAll(async () => {
  project = createProject(simpleTemplate('sized', { limits: { memoryMb: 256, timeoutMs: 5000, cpuMs: 5000 }, permissions: { kv: true } }, 'export default (input) => ({ n: input.n ?? 0 });\n'));
  factory = await createFactory({ root: project.root, isolation: 'inline' });
  const store = factory.store!;
  await openProjectTrust(resolveConfig({ root: project.root, processEnv: {} }), { store: store.trust }).keyRing.init();
  const sized = await factory.registry.inspect('sized');
  const manifestFile = readFileSync(path.join(project.agentsDir, 'sized/agent.json'), 'utf8');
  store.versions.record({ name: 'sized', version: '1.0.0', digest: sized.digest, manifest: sized.inherited, sources: { ...sized.sources }, bundle: sized.code, manifestFile });
  for (const record of craftRuns({ count: 1200, template: 'sized', digest: sized.digest })) store.runs.write(record);
  await store.runs.flush();
  const result = await learn({ store, registry: factory.registry });
  expect(result.created.map((s) => s.evidence.slot)).toEqual(expect.arrayContaining(['permissions.kv', 'limits.memoryMb']));
});

afterAll(async () => {
  await factory.close();
  project.remove();
});

describe('suggestions view', () => {
  it('rejects a suggestion with a reason typed in the UI, and the reason is recorded', async () => {
    const store = factory.store!;
    const target = store.suggestions.list({ state: 'open' }).find((s) => s.evidence.slot === 'permissions.kv')!;
    const ui = drive({ factory, initialRoute: { view: 'suggestions' } });
    try {
      const list = await ui.waitFor('least-privilege');
      expect(list).toMatch(/right-sizing\s+sized\s+open\s+\d+%/);
      await ui.type('/');
      await ui.type('least');
      await ui.type(KEY.enter);
      await ui.waitFor('/least');
      await ui.type(KEY.enter);
      const detail = await ui.waitFor('agent.json if accepted');
      expect(detail).toContain(target.id);
      expect(detail).toContain('-     "kv": true');
      expect(detail).toContain('"version": "1.0.1"');
      expect(detail).toContain('evidence');

      await ui.type('x');
      await ui.waitFor('reason ›');
      // Keys the app would take (":" "/" "?") go into the reason while it is open.
      await ui.type('kv ships next week: see /roadmap?');
      await ui.type(KEY.enter);
      await ui.waitFor(`rejected ${target.id}`);
      expect(store.suggestions.get(target.id)).toMatchObject({ state: 'rejected', decidedBy: 'ada', reason: 'kv ships next week: see /roadmap?' });
      expect(store.audit.list({ type: 'suggestion.rejected' })[0]).toMatchObject({ actor: 'ada', subject: target.id, data: { reason: 'kv ships next week: see /roadmap?' } });
      await ui.waitFor('rejected by ada: "kv ships');
    } finally {
      ui.unmount();
    }
  });

  it('accepts a suggestion after confirming: a new signed version on disk and a canary whose progress updates live', async () => {
    const store = factory.store!;
    const target = store.suggestions.list({ state: 'open' }).find((s) => s.evidence.slot === 'limits.memoryMb')!;
    const ui = drive({ factory, initialRoute: { view: 'suggestion', id: target.id }, refreshMs: 50 });
    try {
      await ui.waitFor('agent.json if accepted');
      expect(ui.frame()).toMatch(/\+\s+"memoryMb": \d+/);
      await ui.type('a');
      await ui.waitFor('[y/N]');
      await ui.type('n');
      await ui.waitFor('<a> accept');
      expect(store.suggestions.get(target.id)?.state).toBe('open');

      await ui.type('a');
      await ui.type('y');
      const accepted = await ui.waitFor(`accepted ${target.id}: sized 1.0.0 → 1.0.1, signed; canary gets 10% of new agents`);
      expect(accepted).toContain('canary canary');

      const dir = path.join(project.agentsDir, 'sized');
      const onDisk = JSON.parse(readFileSync(path.join(dir, 'agent.json'), 'utf8'));
      expect(onDisk.version).toBe('1.0.1');
      expect(onDisk.limits.memoryMb).toBe(target.patch[0]?.value);
      const resolved = await factory.registry.inspect('sized');
      const signature = readSignatureFile(dir, 'agent.sig')!;
      expect(signature.digest).toBe(resolved.digest);
      expect(new SignatureVerifier(store.trust).verify(resolved.digest, signature).keyId).toBe(signature.keyId);
      expect(store.versions.list('sized').map((v) => [v.version, v.signed])).toEqual([['1.0.0', false], ['1.0.1', true]]);
      expect(store.suggestions.get(target.id)).toMatchObject({ state: 'canary', decidedBy: 'ada', candidateVersion: '1.0.1' });

      // Runs of the candidate show up in the canary progress without leaving the view.
      await ui.waitFor(/1\.0\.1\s+candidate .* 0 runs/);
      for (let i = 0; i < 3; i++) await factory.runSettled('sized', { n: i }, { version: '1.0.1' });
      await store.runs.flush();
      await ui.waitFor(/1\.0\.1\s+candidate .* 3 runs, 0 errors/);
    } finally {
      ui.unmount();
    }
  });
});
