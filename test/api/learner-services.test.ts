// The API's suggestion and rollback routes backed by the real learner: learn from recorded runs, review, accept over HTTP
// (a signed new version on disk and a canary), reject, and roll back.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiServer, createLearnerServices } from '../../api/index.js';
import { learn } from '../../learner/index.js';
import { createFactory, type AgentFactory } from '../../runtime/index.js';
import { openStore, type Store } from '../../store/index.js';
import { readSignatureFile } from '../../templates/index.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';
import { craftRuns } from '../learner/helpers.js';

let project: TempProject;
let store: Store;
let factory: AgentFactory;
let app: ReturnType<typeof createApiServer>;
let maintainer: string;
let admin: string;
let installation: string;
let viewer: string;

beforeAll(async () => {
  project = createProject(simpleTemplate('sized', { limits: { memoryMb: 256, timeoutMs: 5000, cpuMs: 5000 }, permissions: { kv: true } }, 'export default () => 1;\n'));
  // Sealed version rows, as `af serve` opens the project store (store/version-seal).
  store = openStore({ path: path.join(project.root, '.af/factory.db'), auditAnchorDir: path.join(project.root, '.af/keys') });
  factory = await createFactory({ root: project.root, hosts: 1, store });
  await factory.trust.keyRing.init();
  const template = await factory.registry.inspect('sized');
  store.versions.record({ name: 'sized', version: '1.0.0', digest: template.digest, manifest: template.inherited, sources: { ...template.sources }, bundle: template.code });
  for (const record of craftRuns({ count: 1200, template: 'sized', digest: template.digest })) store.runs.write(record);
  await learn({ store, registry: factory.registry });
  maintainer = store.tenants.createApiKey('acme', 'maintainer').key;
  admin = store.tenants.createApiKey('acme', 'admin').key;
  installation = store.tenants.createApiKey('*', 'maintainer').key;
  viewer = store.tenants.createApiKey('acme', 'viewer').key;
  app = createApiServer({ factory, store, ...createLearnerServices(factory, store), rateLimit: false });
  await app.ready();
});

afterAll(async () => {
  await app.close();
  await factory.close();
  await store.close();
  project.remove();
});

const call = (method: 'GET' | 'POST', url: string, key: string, payload?: unknown) =>
  app.inject({ method, url, headers: { authorization: `Bearer ${key}` }, ...(payload !== undefined ? { payload: payload as object } : {}) });

describe('suggestions through the API, backed by the learner', () => {
  it('lists the learner’s suggestions to a maintainer, ranked', async () => {
    const response = await call('GET', '/v1/suggestions?state=open', maintainer);
    expect(response.statusCode).toBe(200);
    const { suggestions } = response.json();
    expect(suggestions.map((s: { kind: string }) => s.kind)).toEqual(expect.arrayContaining(['right-sizing', 'least-privilege']));
  });

  // Accepting rewrites the template every tenant runs, so it takes an installation key; a tenant's admin is refused.
  it('accepts: writes a signed new version and starts a canary; a second accept conflicts', async () => {
    const { suggestions } = (await call('GET', '/v1/suggestions?state=open', maintainer)).json();
    const memory = suggestions.find((s: { evidence: { slot?: string } }) => s.evidence.slot === 'limits.memoryMb');
    expect((await call('POST', `/v1/suggestions/${memory.id}/accept`, viewer, {})).statusCode).toBe(403);
    expect((await call('POST', `/v1/suggestions/${memory.id}/accept`, maintainer, {})).statusCode).toBe(403);
    expect((await call('POST', `/v1/suggestions/${memory.id}/accept`, admin, {})).statusCode).toBe(403);
    const accepted = await call('POST', `/v1/suggestions/${memory.id}/accept`, installation, { reason: 'looks right' });
    expect(accepted.statusCode).toBe(200);
    expect(accepted.json()).toMatchObject({ id: memory.id, state: 'canary', candidateVersion: '1.0.1', reason: 'looks right' });
    const onDisk = JSON.parse(readFileSync(path.join(project.agentsDir, 'sized/agent.json'), 'utf8'));
    expect(onDisk).toMatchObject({ version: '1.0.1', limits: { memoryMb: memory.patch[0].value } });
    expect(readSignatureFile(path.join(project.agentsDir, 'sized'), 'agent.sig')?.keyId).toBe(factory.trust.keyRing.signer().record.id);
    expect(store.rollouts.get('sized')).toMatchObject({ state: 'canary', stableVersion: '1.0.0', candidateVersion: '1.0.1' });
    const again = await call('POST', `/v1/suggestions/${memory.id}/accept`, installation, {});
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('E_CONFLICT');
  });

  it('refuses (409 E_TRUST_STATE) to roll back to a version row forged in the database, lists it as unsealed, and writes nothing', async () => {
    const db = new Database(path.join(project.root, '.af/factory.db'));
    db.prepare("INSERT INTO template_versions SELECT name, '0.9.0', 'f' || substr(digest, 2), manifest, sources, bundle, NULL, recorded_at + 1, manifest_file, source_files, NULL FROM template_versions WHERE name = 'sized' AND version = '1.0.0'").run();
    db.close();
    const before = readFileSync(path.join(project.agentsDir, 'sized/agent.json'), 'utf8');
    const refused = await call('POST', '/v1/templates/sized/rollback', installation, { to: '0.9.0' });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error).toMatchObject({ code: 'E_TRUST_STATE', message: expect.stringContaining('version 0.9.0 of "sized" in the store') });
    expect(readFileSync(path.join(project.agentsDir, 'sized/agent.json'), 'utf8')).toBe(before);
    const shown = (await call('GET', '/v1/templates/sized', maintainer)).json() as { versions: Array<{ version: string; unsealed?: boolean }> };
    expect(shown.versions.filter((v) => v.unsealed).map((v) => v.version)).toEqual(['0.9.0']);
  });

  it('rejects with a reason, and rolls back to the stable version', async () => {
    const { suggestions } = (await call('GET', '/v1/suggestions?state=open', maintainer)).json();
    expect((await call('POST', `/v1/suggestions/${suggestions[0].id}/reject`, admin, { reason: 'not now' })).statusCode).toBe(403);
    const rejected = await call('POST', `/v1/suggestions/${suggestions[0].id}/reject`, installation, { reason: 'not now' });
    expect(rejected.statusCode).toBe(200);
    expect(store.suggestions.get(suggestions[0].id)).toMatchObject({ state: 'rejected', reason: 'not now' });
    expect((await call('POST', '/v1/templates/sized/rollback', maintainer, {})).statusCode).toBe(403);
    const rolledBack = await call('POST', '/v1/templates/sized/rollback', installation, {});
    expect(rolledBack.statusCode).toBe(200);
    expect(rolledBack.json()).toMatchObject({ name: 'sized', version: '1.0.0' });
    expect(JSON.parse(readFileSync(path.join(project.agentsDir, 'sized/agent.json'), 'utf8')).version).toBe('1.0.0');
    expect(store.rollouts.get('sized')?.state).toBe('rolled_back');
  });
});
