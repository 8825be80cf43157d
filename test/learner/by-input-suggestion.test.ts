// Input-conditional limits end to end: the learner proposes a limits.byInput rule for a template whose CPU follows its
// input, a maintainer accepts it, and from then on a small input runs under a smaller CPU limit than a large one, as the
// run records show.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../core/config.js';
import { acceptSuggestion, learn } from '../../learner/index.js';
import { createFactory } from '../../runtime/index.js';
import { openStore, type Store } from '../../store/index.js';
import { openProjectTrust, signTemplate, TemplateRegistry, writeSignatureFile } from '../../templates/index.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';
import { craftRuns } from './helpers.js';

let project: TempProject;
let store: Store;
let registry: TemplateRegistry;

beforeAll(async () => {
  project = createProject({
    ...simpleTemplate(
      'scaled',
      { limits: { memoryMb: 128, timeoutMs: 5000, cpuMs: 5000 }, input: { type: 'object', properties: { items: { type: 'array', items: { type: 'string' } } } } },
      'export default (input) => ({ n: (input.items ?? []).join("").length });\n',
    ),
  });
  const config = resolveConfig({ root: project.root, processEnv: {} });
  store = openStore({ path: config.dbPath, auditAnchorDir: config.keysDir });
  const trust = openProjectTrust(config, { store: store.trust });
  await trust.keyRing.init();
  registry = new TemplateRegistry({ agentsDir: project.agentsDir, displayRoot: project.root });
  const scaled = await registry.inspect('scaled');
  const signature = signTemplate(scaled, trust.keyRing.signer(), Date.now());
  writeSignatureFile(scaled.dir, signature);
  const manifestFile = readFileSync(path.join(project.agentsDir, 'scaled/agent.json'), 'utf8');
  store.versions.record({ name: 'scaled', version: '1.0.0', digest: scaled.digest, manifest: scaled.inherited, sources: { ...scaled.sources }, bundle: scaled.code, manifestFile, signature });
  // CPU ≈ 5 + size/4 ms for inputs of 20–8,000 bytes, under a flat 5,000 ms limit.
  for (const record of craftRuns({ count: 1200, template: 'scaled', digest: scaled.digest, cpuMs: (size, noise) => 5 + size / 4 + 5 * noise })) store.runs.write(record);
  await store.runs.flush();
});

afterAll(async () => {
  registry.close();
  await store.close();
  project.remove();
});

describe('an input-conditional suggestion', () => {
  it('is proposed for CPU that follows the input; accepted, a small input runs under a smaller limit than a large one', async () => {
    const { created } = await learn({ store, registry, templates: ['scaled'] });
    const cpu = created.find((s) => s.evidence.slot === 'limits.cpuMs');
    expect(cpu?.evidence.method).toBe('conditional');
    expect(cpu?.patch.map((op) => op.path)).toContain('/limits/byInput');

    const keyRing = openProjectTrust(resolveConfig({ root: project.root, processEnv: {} }), { store: store.trust }).keyRing;
    await acceptSuggestion({ store, registry, keyRing }, cpu!.id, { actor: 'ada' });
    const onDisk = JSON.parse(readFileSync(path.join(project.agentsDir, 'scaled/agent.json'), 'utf8'));
    expect(onDisk.version).toBe('1.0.1');
    expect(onDisk.limits.byInput).toMatchObject({ measure: 'inputBytes', cpuMs: { base: expect.any(Number), exponent: expect.any(Number) } });
    expect(onDisk.limits.cpuMs).toBe(5000);

    // In dev the code on disk runs: the accepted version.
    const factory = await createFactory({ root: project.root, store, hosts: 1 });
    const runIds: string[] = [];
    try {
      for (const items of [[], Array.from({ length: 1500 }, () => 'abc')]) {
        const agent = await factory.createAgent('scaled');
        const { runId, version } = await agent.run({ items });
        expect(version).toBe('1.0.1');
        runIds.push(runId);
        await agent.dispose();
      }
    } finally {
      await factory.close();
    }
    await store.runs.flush();
    const [small, large] = runIds.map((id) => store.queries.get(id));
    expect(small?.limits?.measure).toEqual({ name: 'inputBytes', value: small?.inputBytes });
    expect(large?.limits?.measure).toEqual({ name: 'inputBytes', value: large?.inputBytes });
    const rule = onDisk.limits.byInput.cpuMs as { base: number; exponent: number; min: number };
    expect(rule.min).toBe(20);
    const limitOf = (bytes: number) => Math.min(5000, Math.max(rule.min, Math.ceil(rule.base * Math.max(1, bytes) ** rule.exponent)));
    expect(small?.limits?.cpuMs).toBe(limitOf(small!.inputBytes));
    expect(large?.limits?.cpuMs).toBe(limitOf(large!.inputBytes));
    expect(small!.limits!.cpuMs).toBeLessThan(large!.limits!.cpuMs);
    // Wall time has its own rule; memory stays flat (the heap limit belongs to the isolate).
    expect(small?.limits?.memoryMb).toBe(128);
  });
});
