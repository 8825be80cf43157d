// Finding 6: installation-wide actions (rollback, accept, retire, the audit log) need an installation key, never a
// tenant's role; and a version can be retired so that it is refused outside dev from then on — on a cold resolve, on a
// registry cache hit in a running factory, through rollback and through a canary. Real project, real keys and
// signatures, real store file, real sandbox hosts, the real learner workflow behind the API, `af` driven in-process.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiServer, createLearnerServices } from '../../api/index.js';
import { runAf } from '../helpers/cli.js';
import { type AgentFactory, createFactory } from '../../runtime/index.js';
import { openStore, type Store } from '../../store/index.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

let project: TempProject;
let store: Store;
let factory: AgentFactory;
let app: FastifyInstance;
const keys = {} as Record<'tenantMaintainer' | 'tenantAdmin' | 'otherAdmin' | 'installationOperator' | 'installationMaintainer' | 'installationAdmin', string>;

async function af(...args: string[]) {
  return runAf(project.root, args, { AF_LOG_LEVEL: 'warn', AF_ACTOR: 'ops' });
}

const manifestPath = (name: string) => path.join(project.agentsDir, name, 'agent.json');
const setVersion = (name: string, version: string) => {
  const manifest = JSON.parse(readFileSync(manifestPath(name), 'utf8'));
  writeFileSync(manifestPath(name), `${JSON.stringify({ ...manifest, version }, null, 2)}\n`);
};
/** Signs the version on disk and runs it once in prod, which records it (with its agent.json) for rollback. */
async function release(name: string, version: string) {
  setVersion(name, version);
  expect((await af('sign', name)).status).toBe(0);
  const run = await af('--env', 'prod', 'run', name, '--input', '{}');
  expect([run.status, run.stderr]).toEqual([0, expect.any(String)]);
}

const json = (response: { body: string }) => JSON.parse(response.body);
const call = (method: 'GET' | 'POST', url: string, key: string, payload?: object) =>
  app.inject({ method, url, headers: { authorization: `Bearer ${key}` }, ...(payload ? { payload } : method === 'POST' ? { payload: {} } : {}) });

beforeAll(async () => {
  project = createProject({
    ...simpleTemplate('svc', {}, 'export default () => ({ ok: true });\n'),
    ...simpleTemplate('tool', {}, 'export default () => ({ tool: true });\n'),
    ...simpleTemplate('canaried', {}, 'export default () => ({ canaried: true });\n'),
  });
  expect((await af('keys', 'init')).status).toBe(0);
  for (const name of ['svc', 'tool', 'canaried']) await release(name, '1.0.0');
  for (const name of ['svc', 'tool', 'canaried']) await release(name, '1.1.0');
  store = openStore({ path: path.join(project.root, '.af', 'factory.db') });
  factory = await createFactory({ root: project.root, env: 'prod', hosts: 1, store });
  keys.tenantMaintainer = store.tenants.createApiKey('acme', 'maintainer').key;
  keys.tenantAdmin = store.tenants.createApiKey('acme', 'admin').key;
  keys.otherAdmin = store.tenants.createApiKey('globex', 'admin').key;
  keys.installationOperator = store.tenants.createApiKey('*', 'operator').key;
  keys.installationMaintainer = store.tenants.createApiKey('*', 'maintainer').key;
  keys.installationAdmin = store.tenants.createApiKey('*', 'admin').key;
  app = createApiServer({ factory, ...createLearnerServices(factory, store), telemetry: false, rateLimit: false });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await factory?.close();
  await store?.close();
  project?.remove();
});

describe('installation-wide actions need an installation key', () => {
  it('a tenant maintainer or admin cannot roll back a template every tenant runs (403, agent.json untouched)', async () => {
    const before = readFileSync(manifestPath('svc'), 'utf8');
    for (const key of [keys.tenantMaintainer, keys.tenantAdmin, keys.otherAdmin, keys.installationOperator]) {
      const response = await call('POST', '/v1/templates/svc/rollback', key, { to: '1.0.0' });
      expect([response.statusCode, json(response).error.code]).toEqual([403, 'E_FORBIDDEN']);
      expect(json(response).error.message).toContain('installation key');
    }
    expect(readFileSync(manifestPath('svc'), 'utf8')).toBe(before);
    expect(store.audit.list({ type: 'rollout.rolled_back', limit: 10 })).toEqual([]);
  });

  it('a tenant maintainer or admin cannot accept even their own tenant’s suggestion: it re-signs the shared agent.json', async () => {
    const current = await factory.registry.inspect('tool');
    store.suggestions.add({
      id: 'acme-only', kind: 'right-sizing', template: 'tool', tenant: 'acme', baseVersion: current.version, baseDigest: current.digest,
      patch: [{ op: 'add', path: '/limits', value: { memoryMb: 32 } }], evidence: {}, expectedImpact: { summary: 'smaller' }, confidence: 0.9, state: 'open', createdAt: 1, evidenceKey: 'k',
    });
    const before = readFileSync(manifestPath('tool'), 'utf8');
    for (const key of [keys.tenantMaintainer, keys.tenantAdmin]) {
      const response = await call('POST', '/v1/suggestions/acme-only/accept', key);
      expect([response.statusCode, json(response).error.code]).toEqual([403, 'E_FORBIDDEN']);
    }
    // Another tenant's admin is refused before the suggestion is even looked up; it cannot see it either.
    expect((await call('POST', '/v1/suggestions/acme-only/accept', keys.otherAdmin)).statusCode).toBe(403);
    expect((await call('GET', '/v1/suggestions/acme-only', keys.otherAdmin)).statusCode).toBe(404);
    expect(readFileSync(manifestPath('tool'), 'utf8')).toBe(before);
    expect(store.suggestions.get('acme-only')?.state).toBe('open');
    // Rejecting its own tenant's suggestion changes nothing shared: a tenant maintainer may.
    const rejected = await call('POST', '/v1/suggestions/acme-only/reject', keys.tenantMaintainer, { reason: 'not for us' });
    expect([rejected.statusCode, json(rejected).state]).toEqual([200, 'rejected']);
  });

  it('the installation-wide audit log and retirement are refused to tenant admins', async () => {
    expect((await call('GET', '/v1/audit', keys.tenantAdmin)).statusCode).toBe(403);
    expect((await call('GET', '/v1/audit', keys.installationMaintainer)).statusCode).toBe(403);
    expect((await call('GET', '/v1/audit', keys.installationAdmin)).statusCode).toBe(200);
    const retire = await call('POST', '/v1/templates/svc/versions/1.0.0/retire', keys.tenantAdmin, { reason: 'x' });
    expect([retire.statusCode, json(retire).error.code]).toEqual([403, 'E_FORBIDDEN']);
    expect(store.trust.retirements('svc')).toEqual([]);
  });

  it('an installation maintainer rolls back; an installation key runs nothing (runs belong to a tenant)', async () => {
    const rolledBack = await call('POST', '/v1/templates/svc/rollback', keys.installationMaintainer);
    expect([rolledBack.statusCode, json(rolledBack)]).toEqual([200, { name: 'svc', version: '1.0.0' }]);
    expect(JSON.parse(readFileSync(manifestPath('svc'), 'utf8')).version).toBe('1.0.0');
    const run = await call('POST', '/v1/agents/svc/runs', keys.installationAdmin, { input: {} });
    expect([run.statusCode, json(run).error.code]).toEqual([403, 'E_FORBIDDEN']);
    // Put 1.1.0 back for what follows.
    expect((await call('POST', '/v1/templates/svc/rollback', keys.installationMaintainer, { to: '1.1.0' })).statusCode).toBe(200);
  });

  it('`af keys api create --installation` makes such a key; a tenant key can never be one', async () => {
    const created = await af('keys', 'api', 'create', '--installation', '--role', 'maintainer', '--json');
    expect(created.status).toBe(0);
    const { key, tenant } = JSON.parse(created.stdout);
    expect(tenant).toBe('*');
    expect(store.tenants.authenticate(key)).toMatchObject({ tenant: '*', role: 'maintainer' });
    expect((await af('keys', 'api', 'create', '--installation', '--tenant', 'acme', '--role', 'admin')).status).toBe(2);
    expect((await af('keys', 'api', 'create', '--role', 'admin')).status).toBe(2);
    expect((await af('keys', 'api', 'create', '--tenant', '**', '--role', 'admin')).status).toBe(2);
  });
});

describe('a retired version is refused outside dev from then on', () => {
  it('`af versions retire` then `af --env prod run` → exit 3 E_VERSION_RETIRED; dev still runs it; verify fails too', async () => {
    expect((await af('--env', 'prod', 'run', 'svc', '--input', '{}')).status).toBe(0);
    const retired = await af('versions', 'retire', 'svc', '1.1.0', '--reason', 'CVE-2026-0001');
    expect(retired.status).toBe(0);
    expect(retired.stderr).toContain('1.1.0 is the version on disk');
    const prod = await af('--env', 'prod', 'run', 'svc', '--input', '{}');
    expect(prod.status).toBe(3);
    expect(prod.stderr).toContain('E_VERSION_RETIRED');
    expect(prod.stderr).toContain('CVE-2026-0001');
    const staging = await af('--env', 'staging', 'run', 'svc', '--input', '{}');
    expect([staging.status, staging.stderr.includes('E_VERSION_RETIRED')]).toEqual([3, true]);
    expect((await af('--env', 'prod', 'verify', 'svc')).status).toBe(3);
    expect((await af('run', 'svc', '--input', '{}')).status).toBe(0);
    const [entry] = store.audit.list({ type: 'version.retired', limit: 1 });
    expect(entry).toMatchObject({ actor: 'ops', subject: 'svc', data: { version: '1.1.0', reason: 'CVE-2026-0001' } });
    const listed = JSON.parse((await af('versions', 'list', 'svc', '--json')).stdout);
    expect(listed.versions.find((v: { version: string }) => v.version === '1.1.0')).toMatchObject({ isOnDisk: true, retired: { reason: 'CVE-2026-0001', by: 'ops' } });
  });

  it('a running factory refuses it on a registry cache hit, at once, when another process retires it', async () => {
    await factory.createAgent('tool').then((agent) => agent.dispose());
    // The next create is a cache hit: nothing is read from disk.
    expect(factory.registry.peek('tool')).toBeDefined();
    const retired = await af('versions', 'retire', 'tool', '1.1.0', '--reason', 'leaks tokens');
    expect(retired.status).toBe(0);
    // The store notices another connection's commit within 100 ms, off the hot path.
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(factory.registry.peek('tool')).toBeDefined();
    await expect(factory.createAgent('tool')).rejects.toMatchObject({ code: 'E_VERSION_RETIRED' });
    const api = await call('POST', '/v1/agents/tool/runs', keys.tenantAdmin, { input: {} });
    expect([api.statusCode, json(api).error.code]).toEqual([409, 'E_VERSION_RETIRED']);
    // The template list says why it does not run.
    const listed = json(await call('GET', '/v1/templates', keys.tenantAdmin)).templates.find((t: { name: string }) => t.name === 'tool');
    expect(listed).toMatchObject({ status: 'refused', error: { code: 'E_VERSION_RETIRED' } });
  });

  it('accepting a suggestion never reuses a retired version number for the new version', async () => {
    const current = await factory.registry.inspect('tool');
    expect(current.version).toBe('1.1.0');
    store.trust.retire({ name: 'tool', version: '1.1.1', retiredAt: Date.now(), reason: 'number burnt', by: 'test' });
    store.suggestions.add({
      id: 'fleet-1', kind: 'right-sizing', template: 'tool', tenant: '*', baseVersion: current.version, baseDigest: current.digest,
      patch: [{ op: 'add', path: '/limits', value: { memoryMb: 48 } }], evidence: {}, expectedImpact: { summary: 'smaller' }, confidence: 0.9, state: 'open', createdAt: 2, evidenceKey: 'k2',
    });
    const accepted = await call('POST', '/v1/suggestions/fleet-1/accept', keys.installationMaintainer);
    expect([accepted.statusCode, json(accepted).candidateVersion]).toEqual([200, '1.1.2']);
    expect(JSON.parse(readFileSync(manifestPath('tool'), 'utf8')).version).toBe('1.1.2');
    await expect(factory.createAgent('tool', { version: '1.1.2' }).then((agent) => agent.dispose())).resolves.toBeUndefined();
  });

  it('rolling back to a retired version is refused, by the CLI and the API', async () => {
    // svc: 1.1.0 (on disk) is retired; retire 1.0.0 as well and try to go back to it.
    const api = await call('POST', '/v1/templates/svc/versions/1.0.0/retire', keys.installationMaintainer, { reason: 'old' });
    expect([api.statusCode, json(api)]).toMatchObject([200, { name: 'svc', version: '1.0.0', isNew: true, reason: 'old' }]);
    const before = readFileSync(manifestPath('svc'), 'utf8');
    const cli = await af('rollback', 'svc', '--to', '1.0.0');
    expect([cli.status, cli.stderr.includes('E_VERSION_RETIRED')]).toEqual([3, true]);
    const viaApi = await call('POST', '/v1/templates/svc/rollback', keys.installationMaintainer, { to: '1.0.0' });
    expect([viaApi.statusCode, json(viaApi).error.code]).toEqual([409, 'E_VERSION_RETIRED']);
    // Without --to, retired versions are skipped: none is left.
    expect((await af('rollback', 'svc')).status).toBe(4);
    expect(readFileSync(manifestPath('svc'), 'utf8')).toBe(before);
  });

  it('a canary stops routing to a retired candidate at once, and retiring it ends the canary with the stable version back', async () => {
    // canaried: 1.1.0 on disk; canary of the stored 1.0.0 with every new agent.
    expect((await af('rollout', 'canaried', '--candidate', '1.0.0', '--weight', '1')).status).toBe(0);
    // The router re-reads rollouts every second, in the background: wait (with a deadline) until it routes to the canary.
    let canaryVersion = '';
    for (const started = Date.now(); canaryVersion !== '1.0.0' && Date.now() - started < 10_000; ) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const canary = await factory.createAgent('canaried');
      canaryVersion = canary.version;
      await canary.dispose();
    }
    expect(canaryVersion).toBe('1.0.0');
    // Retired from this connection only (no canary decision yet): the router alone must stop sending agents there.
    store.trust.retire({ name: 'canaried', version: '1.0.0', retiredAt: Date.now(), reason: 'bad canary', by: 'test' });
    const next = await factory.createAgent('canaried');
    expect(next.version).toBe('1.1.0');
    await next.dispose();
    await expect(factory.createAgent('canaried', { version: '1.0.0' })).rejects.toMatchObject({ code: 'E_VERSION_RETIRED' });
    // Starting a canary of a retired version is refused.
    expect((await af('rollout', 'canaried', '--candidate', '1.0.0', '--weight', '0.5')).status).toBe(3);
  });

  it('retiring the on-disk candidate of a running canary ends it and puts the stable version back', async () => {
    const stableRun = await af('--env', 'prod', 'run', 'canaried', '--input', '{}');
    expect(stableRun.status).toBe(0);
    // A canary whose candidate (1.1.0) is on disk and whose stable (1.0.0 is retired, so use a fresh 1.2.0 → 1.3.0 pair).
    await release('canaried', '1.2.0');
    await release('canaried', '1.3.0');
    store.rollouts.start({ template: 'canaried', stableVersion: '1.2.0', candidateVersion: '1.3.0', weight: 0.5, startedAt: Date.now() });
    const retired = JSON.parse((await af('versions', 'retire', 'canaried', '1.3.0', '--json')).stdout);
    expect(retired).toMatchObject({ isNew: true, endedCanary: { stable: '1.2.0', restored: true }, isOnDisk: false });
    expect(store.rollouts.get('canaried')?.state).toBe('rolled_back');
    expect(JSON.parse(readFileSync(manifestPath('canaried'), 'utf8')).version).toBe('1.2.0');
    expect((await af('--env', 'prod', 'run', 'canaried', '--input', '{}')).status).toBe(0);
  });

  it('content signed later under a retired version number is refused too (retirement is by version, not digest)', async () => {
    store.trust.retire({ name: 'fresh', version: '2.0.0', retiredAt: Date.now(), reason: 'number burnt', by: 'test' });
    project.write('agents/fresh/agent.json', { name: 'fresh', version: '2.0.0', entry: 'main.ts' });
    project.write('agents/fresh/main.ts', 'export default () => 2;\n');
    expect((await af('sign', 'fresh')).status).toBe(0);
    const prod = await af('--env', 'prod', 'run', 'fresh', '--input', '{}');
    expect([prod.status, prod.stderr.includes('E_VERSION_RETIRED')]).toEqual([3, true]);
  });

  it('a retirement is recorded once, and bad arguments are usage errors', async () => {
    const again = JSON.parse((await af('versions', 'retire', 'svc', '1.1.0', '--reason', 'other', '--json')).stdout);
    expect(again).toMatchObject({ isNew: false, reason: 'CVE-2026-0001' });
    expect(store.audit.list({ type: 'version.retired', subject: 'svc', limit: 10 })).toHaveLength(2);
    expect((await af('versions', 'retire', 'svc', 'latest')).status).toBe(2);
    expect((await af('versions', 'retire', 'nope', '1.0.0')).status).toBe(4);
  });
});
