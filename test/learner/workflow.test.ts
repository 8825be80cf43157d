// The improvement loop end to end on real files, keys, signatures, runs and a real store: learn, reject, accept, canary, promote, roll back.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptSuggestion, learn, rejectSuggestion, rollback } from '../../learner/index.js';
import { createFactory } from '../../runtime/index.js';
import { openStore, type Store } from '../../store/index.js';
import { openProjectTrust, readSignatureFile, signTemplate, TemplateRegistry, TrustGate, writeSignatureFile } from '../../templates/index.js';
import { resolveConfig } from '../../core/config.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';
import { craftRuns } from './helpers.js';

let project: TempProject;
let store: Store;
let registry: TemplateRegistry;
let originalManifest: string;

beforeAll(async () => {
  project = createProject({
    ...simpleTemplate('sized', { limits: { memoryMb: 256, timeoutMs: 5000, cpuMs: 5000 }, permissions: { kv: true } }, 'export default (input) => ({ n: input.n ?? 0 });\n'),
    ...simpleTemplate('fragile', { limits: { timeoutMs: 2000 } }, 'export default async (input) => { if (input.slow) await new Promise((r) => setTimeout(r, 50)); return 1; };\n'),
  });
  const config = resolveConfig({ root: project.root, processEnv: {} });
  // Sealed version rows, as `af` opens the project store (store/version-seal).
  store = openStore({ path: config.dbPath, auditAnchorDir: config.keysDir });
  const trust = openProjectTrust(config, { store: store.trust });
  await trust.keyRing.init();
  registry = new TemplateRegistry({ agentsDir: project.agentsDir, displayRoot: project.root });
  originalManifest = readFileSync(path.join(project.agentsDir, 'sized/agent.json'), 'utf8');
  const sized = await registry.inspect('sized');
  // Signed, so that its canary can run outside dev (in dev the code on disk always runs).
  const signature = signTemplate(sized, trust.keyRing.signer(), Date.now());
  writeSignatureFile(sized.dir, signature);
  store.versions.record({ name: 'sized', version: '1.0.0', digest: sized.digest, manifest: sized.inherited, sources: { ...sized.sources }, bundle: sized.code, manifestFile: originalManifest, signature });
  for (const record of craftRuns({ count: 1200, template: 'sized', digest: sized.digest })) store.runs.write(record);
  await store.runs.flush();
});

afterAll(async () => {
  registry.close();
  await store.close();
  project.remove();
});

const keyRing = () => openProjectTrust(resolveConfig({ root: project.root, processEnv: {} }), { store: store.trust }).keyRing;

describe('the improvement loop', () => {
  it('learns suggestions from the record, and does not propose a rejected one again while its evidence holds', async () => {
    const first = await learn({ store, registry });
    expect(first).toMatchObject({ runs: 1200, templates: 1 });
    const kinds = first.created.map((s) => `${s.kind}:${s.evidence.slot}`).sort();
    expect(kinds).toEqual(expect.arrayContaining(['least-privilege:permissions.kv', 'right-sizing:limits.memoryMb']));
    const leastPrivilege = first.created.find((s) => s.kind === 'least-privilege') as (typeof first.created)[number];
    await rejectSuggestion({ store }, leastPrivilege.id, { actor: 'ada', reason: 'kv is used by a feature that ships next week' });
    expect(store.audit.list({ type: 'suggestion.rejected' })[0]).toMatchObject({ actor: 'ada', subject: leastPrivilege.id, data: { reason: 'kv is used by a feature that ships next week' } });

    const second = await learn({ store, registry });
    expect(second.created).toEqual([]);
    expect(second.suppressedRejected).toBe(1);
    expect(second.unchanged).toBeGreaterThanOrEqual(1);
    expect(store.models.load('sized', 'memoryMb')?.samples).toBeGreaterThan(100);
  });

  it('accepts: patches agent.json, bumps the version, signs it, records it, and starts a canary', async () => {
    const memory = store.suggestions.list({ template: 'sized', state: 'open' }).find((s) => s.evidence.slot === 'limits.memoryMb');
    expect(memory).toBeDefined();
    const accepted = await acceptSuggestion({ store, registry, keyRing: keyRing() }, memory!.id, { actor: 'ada', canaryWeight: 0.5 });
    expect(accepted).toMatchObject({ state: 'canary', candidateVersion: '1.0.1', decidedBy: 'ada' });

    const onDisk = JSON.parse(readFileSync(path.join(project.agentsDir, 'sized/agent.json'), 'utf8'));
    expect(onDisk.version).toBe('1.0.1');
    expect(onDisk.limits.memoryMb).toBe(memory!.patch[0]?.value);
    // The new version verifies as signed, as prod demands.
    const gate = new TrustGate({ verifier: openProjectTrust(resolveConfig({ root: project.root, processEnv: {} }), { store: store.trust }).verifier, policy: { rules: [], source: 'test' }, devEnvironments: [] });
    const resolved = await new TemplateRegistry({ agentsDir: project.agentsDir, env: 'prod' }).inspect('sized', { env: 'prod' });
    expect(gate.admit(resolved).trust.status).toBe('signed');
    expect(readSignatureFile(resolved.dir, 'agent.sig')?.digest).toBe(resolved.digest);
    expect(store.versions.list('sized').map((v) => [v.version, v.signed])).toEqual([['1.0.0', true], ['1.0.1', true]]);
    expect(store.rollouts.get('sized')).toMatchObject({ stableVersion: '1.0.0', candidateVersion: '1.0.1', weight: 0.5, state: 'canary', suggestionId: memory!.id });
    expect(store.audit.list().map((e) => e.type).slice(0, 2)).toEqual(['rollout.started', 'suggestion.accepted']);
    await expect(acceptSuggestion({ store, registry, keyRing: keyRing() }, memory!.id, { actor: 'ada' })).rejects.toMatchObject({ code: 'E_CONFLICT', message: expect.stringContaining('is canary') });
  });

  it('routes a share of new agents to the candidate, then promotes it on its own when it is no worse', async () => {
    // Canaries route outside dev only: in dev the code on disk always runs.
    const factory = await createFactory({ root: project.root, store, hosts: 1, env: 'staging' });
    try {
      const versions: string[] = [];
      for (let i = 0; i < 700 && store.rollouts.get('sized')?.state === 'canary'; i++) {
        const agent = await factory.createAgent('sized');
        versions.push(agent.version);
        await agent.run({ n: i });
        await agent.dispose();
        if (i % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
      }
      const candidateShare = versions.filter((v) => v === '1.0.1').length / versions.length;
      expect(candidateShare).toBeGreaterThan(0.35);
      expect(candidateShare).toBeLessThan(0.65);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const rollout = store.rollouts.get('sized');
      expect(rollout?.state).toBe('promoted');
      expect(rollout?.decision).toMatchObject({ action: 'promote' });
      expect(store.suggestions.get(rollout!.suggestionId!)?.state).toBe('promoted');
      expect(store.audit.list({ type: 'rollout.promoted' })[0]).toMatchObject({ actor: 'canary', subject: 'sized' });
    } finally {
      await factory.close();
    }
  });

  it('rolls back by hand to the previous version, restoring agent.json exactly', async () => {
    const result = await rollback({ store, registry }, 'sized', { actor: 'ada' });
    expect(result).toEqual({ name: 'sized', from: '1.0.1', version: '1.0.0', digest: expect.any(String), written: ['agent.sig', 'agent.json'], removed: [] });
    expect(readFileSync(path.join(project.agentsDir, 'sized/agent.json'), 'utf8')).toBe(originalManifest);
    expect(store.audit.list({ type: 'rollout.rolled_back' })[0]).toMatchObject({ actor: 'ada', data: { from: '1.0.1', to: '1.0.0', manual: true } });
  });

  it('rolls a worse candidate back on its own and puts the stable version back on disk', { timeout: 120_000 }, async () => {
    const fragile = await registry.inspect('fragile');
    const stableText = readFileSync(path.join(project.agentsDir, 'fragile/agent.json'), 'utf8');
    const signature = signTemplate(fragile, keyRing().signer(), Date.now());
    writeSignatureFile(fragile.dir, signature);
    store.versions.record({ name: 'fragile', version: '1.0.0', digest: fragile.digest, manifest: fragile.inherited, sources: { ...fragile.sources }, bundle: fragile.code, manifestFile: stableText, signature });
    // A suggestion whose patch is bad: a 20 ms timeout for an agent that sometimes needs 50 ms.
    store.suggestions.add({
      id: 'sg_bad', kind: 'right-sizing', template: 'fragile', tenant: '*', baseVersion: '1.0.0', baseDigest: fragile.digest,
      patch: [{ op: 'replace', path: '/limits/timeoutMs', value: 20 }], evidence: { slot: 'limits.timeoutMs' }, expectedImpact: { summary: 'test' },
      confidence: 0.5, state: 'open', createdAt: Date.now(), evidenceKey: 'bad',
    });
    await acceptSuggestion({ store, registry, keyRing: keyRing() }, 'sg_bad', { actor: 'ada', canaryWeight: 0.5 });
    const factory = await createFactory({ root: project.root, store, hosts: 1, env: 'staging' });
    try {
      for (let i = 0; i < 900 && store.rollouts.get('fragile')?.state === 'canary'; i++) {
        await factory.runSettled('fragile', { slow: i % 4 === 0 });
        if (i % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
      const rollout = store.rollouts.get('fragile');
      expect(rollout?.state).toBe('rolled_back');
      expect(String(rollout?.decision?.reason)).toContain('the candidate fails more often');
      expect(store.suggestions.get('sg_bad')?.state).toBe('rolled_back');
      expect(readFileSync(path.join(project.agentsDir, 'fragile/agent.json'), 'utf8')).toBe(stableText);
    } finally {
      await factory.close();
    }
  });
});
