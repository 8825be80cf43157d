// The HTTP API in-process through fastify.inject(): every route × every role × both tenants, bad input, auth failures,
// the error mapping, rate limits and what the answers must not leak. Real factory, real sandbox hosts, real store file.
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApiServer, httpStatusFor, isAllowed, ROUTE_ACCESS } from '../../api/index.js';
import { ERROR_CODES } from '../../core/errors.js';
import { enableTelemetry, type TelemetrySdk } from '../../runtime/index.js';
import { type Role, ROLES } from '../../store/index.js';
import { type ApiFixture, createApiFixture, MemoryRollouts, MemorySuggestions, suggestion, TENANTS, type Tenant } from './fixture.js';

let fx: ApiFixture;
let app: FastifyInstance;
let sdk: TelemetrySdk | undefined;
const suggestions = new MemorySuggestions();
const rollouts = new MemoryRollouts();
/** A run of each tenant, recorded before the table runs. */
const runIds = {} as Record<Tenant, string>;

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const keyOf = (tenant: Tenant, role: Role) => fx.keys[tenant][role].key;
const json = (response: { body: string }) => JSON.parse(response.body);

beforeAll(async () => {
  sdk = await enableTelemetry({ enabled: true });
  fx = await createApiFixture();
  // Limits high enough that the table never trips them; rate limiting itself is tested on its own server below.
  // A dev server may let callers choose a stricter environment; it is what the prod rows below use.
  app = createApiServer({ factory: fx.factory, suggestions, rollouts, environments: ['prod'], telemetry: sdk ?? false, rateLimit: { max: { viewer: 10_000, operator: 10_000, maintainer: 10_000, admin: 10_000 } } });
  await app.ready();
  for (const tenant of TENANTS) {
    const response = await app.inject({ method: 'POST', url: '/v1/agents/hello/runs', headers: bearer(keyOf(tenant, 'operator')), payload: { input: { name: tenant } } });
    expect(response.statusCode).toBe(200);
    runIds[tenant] = json(response).runId;
  }
});

afterAll(async () => {
  await app.close();
  await fx.close();
  await sdk?.shutdown();
});

describe('who may do what: every route × role × tenant', () => {
  /**
   * Each row: a request made by a key of `tenant` with `role`, against resources owned by tenant acme.
   * `ok` is the status when the role suffices; a key of another tenant gets `crossTenant` (404: it cannot tell the
   * resource exists) for tenant-owned resources, and the same as acme for shared ones (templates).
   */
  interface Row {
    route: keyof typeof ROUTE_ACCESS;
    request: (ids: { fresh: string }) => InjectOptions;
    ok: number;
    crossTenant?: number;
  }
  const rows: Row[] = [
    { route: 'GET /v1/templates', request: () => ({ url: '/v1/templates' }), ok: 200 },
    { route: 'GET /v1/templates/:name', request: () => ({ url: '/v1/templates/hello' }), ok: 200 },
    { route: 'POST /v1/agents/:name/runs', request: () => ({ method: 'POST', url: '/v1/agents/hello/runs', payload: { input: { name: 'T' } } }), ok: 200 },
    { route: 'GET /v1/runs', request: () => ({ url: '/v1/runs' }), ok: 200 },
    { route: 'GET /v1/runs/:id', request: () => ({ url: `/v1/runs/${runIds.acme}` }), ok: 200, crossTenant: 404 },
    { route: 'GET /v1/suggestions', request: () => ({ url: '/v1/suggestions' }), ok: 200 },
    { route: 'GET /v1/suggestions/:id', request: ({ fresh }) => ({ url: `/v1/suggestions/${fresh}` }), ok: 200, crossTenant: 404 },
    { route: 'POST /v1/suggestions/:id/accept', request: ({ fresh }) => ({ method: 'POST', url: `/v1/suggestions/${fresh}/accept`, payload: {} }), ok: 200, crossTenant: 404 },
    { route: 'POST /v1/suggestions/:id/reject', request: ({ fresh }) => ({ method: 'POST', url: `/v1/suggestions/${fresh}/reject`, payload: { reason: 'no' } }), ok: 200, crossTenant: 404 },
    { route: 'POST /v1/templates/:name/rollback', request: () => ({ method: 'POST', url: '/v1/templates/hello/rollback', payload: { to: '0.8.0' } }), ok: 200 },
    { route: 'POST /v1/templates/:name/versions/:version/retire', request: () => ({ method: 'POST', url: '/v1/templates/hello/versions/0.7.0/retire', payload: {} }), ok: 200 },
    { route: 'GET /v1/audit', request: () => ({ url: '/v1/audit' }), ok: 200 },
  ];
  const cases = rows.flatMap((row) => TENANTS.flatMap((tenant) => ROLES.map((role) => ({ ...row, tenant, role }))));
  let counter = 0;

  it.each(cases)('$route by $tenant/$role', async ({ route, request, ok, crossTenant, tenant, role }) => {
    const fresh = `sug-${counter++}`;
    suggestions.add(suggestion(fresh, 'acme'));
    const options = request({ fresh });
    const response = await app.inject({ ...options, headers: bearer(keyOf(tenant, role)) });
    const principal = { keyId: fx.keys[tenant][role].id, tenant, role };
    const expected = !isAllowed(principal, ROUTE_ACCESS[route]) ? 403 : tenant !== 'acme' && crossTenant !== undefined ? crossTenant : ok;
    expect({ status: response.statusCode, code: json(response).error?.code }).toEqual({
      status: expected,
      code: expected === 403 ? 'E_FORBIDDEN' : expected === 404 ? 'E_NOT_FOUND' : undefined,
    });
  });

  it('has a row for every authenticated route', () => {
    const covered = new Set(rows.map((row) => row.route));
    const authenticated = Object.entries(ROUTE_ACCESS).filter(([, access]) => access !== 'public').map(([route]) => route);
    expect(authenticated.filter((route) => !covered.has(route as keyof typeof ROUTE_ACCESS))).toEqual([]);
  });

  it('public routes answer without a key', async () => {
    expect((await app.inject({ url: '/healthz' })).json()).toEqual({ ok: true });
    expect((await app.inject({ url: '/readyz' })).json()).toEqual({ ready: true, checks: { store: 'ok', sandbox: 'ok', server: 'ok' } });
    const openapi = await app.inject({ url: '/v1/openapi.json' });
    expect(openapi.statusCode).toBe(200);
    expect(Object.keys(openapi.json().paths)).toEqual(expect.arrayContaining(['/v1/agents/{name}/runs', '/v1/runs/{id}', '/v1/suggestions/{id}/accept', '/v1/audit']));
    expect(openapi.json().paths['/v1/agents/{name}/runs'].post.requestBody.content['application/json'].schema.required).toEqual(['input']);
    const metrics = await app.inject({ url: '/metrics' });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(metrics.body).toMatch(/^af_runs_total\{template="hello",env="dev",outcome="ok"/m);
  });
});

describe('tenants', () => {
  it('lists only the key’s own tenant’s runs, and runs under the key’s tenant (kv per tenant)', async () => {
    const acme = json(await app.inject({ url: '/v1/runs?limit=1000', headers: bearer(keyOf('acme', 'viewer')) })).runs;
    const globex = json(await app.inject({ url: '/v1/runs?limit=1000', headers: bearer(keyOf('globex', 'viewer')) })).runs;
    expect(acme.length).toBeGreaterThan(0);
    expect(new Set(acme.map((r: { tenant: string }) => r.tenant))).toEqual(new Set(['acme']));
    expect(new Set(globex.map((r: { tenant: string }) => r.tenant))).toEqual(new Set(['globex']));
    expect(acme.map((r: { id: string }) => r.id)).toContain(runIds.acme);
    expect(acme.map((r: { id: string }) => r.id)).not.toContain(runIds.globex);

    const before = json(await app.inject({ method: 'POST', url: '/v1/agents/hello/runs', headers: bearer(keyOf('globex', 'admin')), payload: { input: { name: 'G' } } }));
    const other = json(await app.inject({ method: 'POST', url: '/v1/agents/hello/runs', headers: bearer(keyOf('acme', 'admin')), payload: { input: { name: 'A' } } }));
    const after = json(await app.inject({ method: 'POST', url: '/v1/agents/hello/runs', headers: bearer(keyOf('globex', 'admin')), payload: { input: { name: 'G' } } }));
    // Each tenant's counter advances only with its own runs.
    expect(after.output.n).toBe(before.output.n + 1);
    expect(other.output.n).not.toBe(after.output.n);
    expect(json(await app.inject({ url: `/v1/runs/${after.runId}`, headers: bearer(keyOf('globex', 'viewer')) })).tenant).toBe('globex');
  });

  it('suggestions: own tenant to every role, `*` ones to maintainer+ of any tenant, accepting to installation keys only', async () => {
    suggestions.add(suggestion('star-1', '*', { createdAt: 1_800_000_000_000 }));
    suggestions.add(suggestion('globex-1', 'globex'));
    const listed = async (tenant: Tenant, role: Role) =>
      json(await app.inject({ url: '/v1/suggestions?state=open', headers: bearer(keyOf(tenant, role)) })).suggestions.map((s: { tenant: string }) => s.tenant);
    expect(new Set(await listed('acme', 'viewer'))).toEqual(new Set(['acme']));
    expect(new Set(await listed('globex', 'operator'))).toEqual(new Set(['globex']));
    expect(new Set(await listed('globex', 'maintainer'))).toEqual(new Set(['globex', '*']));
    expect(new Set(await listed('acme', 'admin'))).toEqual(new Set(['acme', '*']));

    expect((await app.inject({ url: '/v1/suggestions/star-1', headers: bearer(keyOf('acme', 'operator')) })).statusCode).toBe(404);
    expect((await app.inject({ url: '/v1/suggestions/star-1', headers: bearer(keyOf('globex', 'maintainer')) })).statusCode).toBe(200);
    const byMaintainer = await app.inject({ method: 'POST', url: '/v1/suggestions/star-1/accept', headers: bearer(keyOf('acme', 'maintainer')), payload: {} });
    expect([byMaintainer.statusCode, json(byMaintainer).error.code]).toEqual([403, 'E_FORBIDDEN']);
    const byTenantAdmin = await app.inject({ method: 'POST', url: '/v1/suggestions/star-1/accept', headers: bearer(keyOf('globex', 'admin')), payload: { reason: 'fleet-wide' } });
    expect([byTenantAdmin.statusCode, json(byTenantAdmin).error.code]).toEqual([403, 'E_FORBIDDEN']);
    const byInstallation = await app.inject({ method: 'POST', url: '/v1/suggestions/star-1/accept', headers: bearer(fx.installation.maintainer.key), payload: { reason: 'fleet-wide' } });
    expect(byInstallation.statusCode).toBe(200);
    expect(json(byInstallation)).toMatchObject({ id: 'star-1', state: 'accepted', decidedBy: `key:${fx.installation.maintainer.id}`, reason: 'fleet-wide' });
  });
});

describe('decisions and rollback', () => {
  beforeEach(() => suggestions.add(suggestion('decide-me', 'acme')));

  it('accepts without a body, records the actor, audits it, and answers 409 the second time', async () => {
    const first = await app.inject({ method: 'POST', url: '/v1/suggestions/decide-me/accept', headers: bearer(fx.installation.maintainer.key) });
    expect(first.statusCode).toBe(200);
    expect(json(first).state).toBe('accepted');
    expect(suggestions.calls.at(-1)).toEqual({ verb: 'accept', id: 'decide-me', actor: `key:${fx.installation.maintainer.id}` });
    const [entry] = fx.store.audit.list({ type: 'api.suggestion.accepted', subject: 'decide-me', limit: 1 });
    expect(entry).toMatchObject({ actor: `key:${fx.installation.maintainer.id}`, data: { tenant: '*', role: 'maintainer', template: 'hello', state: 'accepted' } });

    const second = await app.inject({ method: 'POST', url: '/v1/suggestions/decide-me/reject', headers: bearer(keyOf('acme', 'maintainer')), payload: { reason: 'changed my mind' } });
    expect([second.statusCode, json(second).error.code]).toEqual([409, 'E_CONFLICT']);
  });

  it('reject needs a reason', async () => {
    const response = await app.inject({ method: 'POST', url: '/v1/suggestions/decide-me/reject', headers: bearer(keyOf('acme', 'maintainer')), payload: {} });
    expect([response.statusCode, json(response).error.code]).toEqual([400, 'E_INPUT_INVALID']);
    expect(json(response).error.problems).toEqual([{ pointer: '', message: "must have required property 'reason'" }]);
  });

  it('rollback passes the version and actor through, and an unknown template is 404', async () => {
    const response = await app.inject({ method: 'POST', url: '/v1/templates/hello/rollback', headers: bearer(fx.installation.maintainer.key) });
    expect(json(response)).toEqual({ name: 'hello', version: '0.9.0' });
    expect(rollouts.calls.at(-1)).toEqual({ name: 'hello', actor: `key:${fx.installation.maintainer.id}` });
    const missing = await app.inject({ method: 'POST', url: '/v1/templates/nope/rollback', headers: bearer(fx.installation.admin.key), payload: {} });
    expect([missing.statusCode, json(missing).error.code]).toEqual([404, 'E_TEMPLATE_NOT_FOUND']);
  });
});

describe('authentication', () => {
  const cases: Array<[string, Record<string, string>]> = [
    ['no Authorization header', {}],
    ['a Basic header', { authorization: 'Basic dXNlcjpwYXNz' }],
    ['a malformed key', { authorization: 'Bearer not-a-key' }],
    ['an unknown key id', { authorization: `Bearer afk_000000000000_${'A'.repeat(32)}` }],
  ];
  it.each(cases)('%s → 401 E_UNAUTHORIZED with a Bearer challenge', async (_name, headers) => {
    const response = await app.inject({ url: '/v1/runs', headers });
    expect([response.statusCode, json(response).error.code]).toEqual([401, 'E_UNAUTHORIZED']);
    expect(response.headers['www-authenticate']).toBe('Bearer realm="agent-factory"');
  });

  it('a right id with a wrong secret → 401', async () => {
    const [prefix, id] = keyOf('acme', 'admin').split('_');
    const response = await app.inject({ url: '/v1/runs', headers: bearer(`${prefix}_${id}_${'B'.repeat(32)}`) });
    expect([response.statusCode, json(response).error.code]).toEqual([401, 'E_UNAUTHORIZED']);
  });

  it('a revoked key → 401, and a key revoked while the server runs stops working at once', async () => {
    expect((await app.inject({ url: '/v1/runs', headers: bearer(fx.revokedKey) })).statusCode).toBe(401);
    const { record, key } = fx.store.tenants.createApiKey('acme', 'viewer', 'short-lived');
    expect((await app.inject({ url: '/v1/runs', headers: bearer(key) })).statusCode).toBe(200);
    fx.store.tenants.revokeApiKey(record.id);
    const response = await app.inject({ url: '/v1/runs', headers: bearer(key) });
    expect([response.statusCode, json(response).error.code]).toEqual([401, 'E_UNAUTHORIZED']);
  });

  it('a refused (403) request is audited with the key as actor', async () => {
    await app.inject({ method: 'POST', url: '/v1/agents/hello/runs', headers: bearer(keyOf('globex', 'viewer')), payload: { input: { name: 'x' } } });
    const [entry] = fx.store.audit.list({ type: 'api.forbidden', limit: 1 });
    expect(entry).toMatchObject({ actor: `key:${fx.keys.globex.viewer.id}`, subject: 'POST /v1/agents/:name/runs', data: { tenant: 'globex', role: 'viewer' } });
  });
});

describe('bad input: exact status and code', () => {
  const operator = () => bearer(keyOf('acme', 'operator'));
  const post = (payload: unknown, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: '/v1/agents/hello/runs', headers: { ...operator(), ...headers }, payload: payload as string });

  it('malformed JSON → 400 E_INPUT_INVALID', async () => {
    const response = await post('{"input": {', { 'content-type': 'application/json' });
    expect([response.statusCode, json(response).error.code]).toEqual([400, 'E_INPUT_INVALID']);
  });

  it('an empty JSON body → 400 E_INPUT_INVALID', async () => {
    const response = await post('', { 'content-type': 'application/json' });
    expect([response.statusCode, json(response).error.code]).toEqual([400, 'E_INPUT_INVALID']);
  });

  it('a body that is not JSON → 400 E_INPUT_INVALID', async () => {
    const response = await post('input=1', { 'content-type': 'application/x-www-form-urlencoded' });
    expect([response.statusCode, json(response).error.code]).toEqual([400, 'E_INPUT_INVALID']);
  });

  it('an oversized body → 413 E_BODY_TOO_LARGE, before the agent runs', async () => {
    const runsBefore = fx.store.queries.count();
    const response = await post({ input: { name: 'x'.repeat(1_100_000) } });
    expect([response.statusCode, json(response).error.code]).toEqual([413, 'E_BODY_TOO_LARGE']);
    fx.store.runs.flushNow();
    expect(fx.store.queries.count()).toBe(runsBefore);
  });

  it('unknown fields → 400 naming the field', async () => {
    const response = await post({ input: { name: 'x' }, tenant: 'globex' });
    expect([response.statusCode, json(response).error.code]).toEqual([400, 'E_INPUT_INVALID']);
    expect(json(response).error.problems).toEqual([{ pointer: '', message: 'must NOT have additional properties ("tenant")' }]);
  });

  it('wrong types are refused, not coerced', async () => {
    const response = await post({ input: { name: 'x' }, env: 5 });
    expect([response.statusCode, json(response).error.code]).toEqual([400, 'E_INPUT_INVALID']);
    expect(json(response).error.problems).toEqual([{ pointer: '/env', message: 'must be string' }]);
  });

  it('a missing input → 400', async () => {
    const response = await post({});
    expect([response.statusCode, json(response).error.code]).toEqual([400, 'E_INPUT_INVALID']);
  });

  it("input that fails the template's input schema → 400 E_INPUT_INVALID with the run id and problems", async () => {
    const response = await post({ input: { name: 42 } });
    const body = json(response);
    expect([response.statusCode, body.error.code]).toEqual([400, 'E_INPUT_INVALID']);
    expect(body.error.problems).toEqual([{ pointer: '/name', message: 'must be string' }]);
    expect(body.runId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('an agent that throws → 422 E_AGENT_THREW with run id and stats, recorded as a failed run', async () => {
    const response = await app.inject({ method: 'POST', url: '/v1/agents/thrower/runs', headers: operator(), payload: { input: {} } });
    const body = json(response);
    expect([response.statusCode, body.error.code]).toEqual([422, 'E_AGENT_THREW']);
    expect(body.error.message).toContain('boom');
    expect(body.stats.runMs).toBeGreaterThan(0);
    const recorded = json(await app.inject({ url: `/v1/runs/${body.runId}`, headers: operator() }));
    expect(recorded).toMatchObject({ outcome: 'error', errorCode: 'E_AGENT_THREW', tenant: 'acme' });
  });

  it('an unknown template → 404 E_TEMPLATE_NOT_FOUND; an abstract one → 409 E_TEMPLATE_INVALID', async () => {
    const missing = await app.inject({ method: 'POST', url: '/v1/agents/nope/runs', headers: operator(), payload: { input: {} } });
    expect([missing.statusCode, json(missing).error.code]).toEqual([404, 'E_TEMPLATE_NOT_FOUND']);
    const abstract = await app.inject({ method: 'POST', url: '/v1/agents/base/runs', headers: operator(), payload: { input: {} } });
    expect([abstract.statusCode, json(abstract).error.code]).toEqual([409, 'E_TEMPLATE_INVALID']);
  });

  it('a template name that is not a name, an env that is not an env → 400', async () => {
    const name = await app.inject({ method: 'POST', url: '/v1/agents/..%2Fetc/runs', headers: operator(), payload: { input: {} } });
    expect([name.statusCode, json(name).error.code]).toEqual([400, 'E_INPUT_INVALID']);
    const env = await post({ input: { name: 'x' }, env: 'PROD!' });
    expect([env.statusCode, json(env).error.code]).toEqual([400, 'E_INPUT_INVALID']);
  });

  it('query strings: numbers are coerced, nonsense and unknown parameters refused', async () => {
    expect((await app.inject({ url: '/v1/runs?limit=1', headers: operator() })).json().runs).toHaveLength(1);
    for (const query of ['limit=abc', 'limit=0', 'limit=5000', 'outcome=maybe', 'tenant=globex']) {
      const response = await app.inject({ url: `/v1/runs?${query}`, headers: operator() });
      expect([query, response.statusCode, json(response).error.code]).toEqual([query, 400, 'E_INPUT_INVALID']);
    }
  });

  it('an unknown route → 404 E_NOT_FOUND', async () => {
    const response = await app.inject({ url: '/v2/runs', headers: operator() });
    expect([response.statusCode, json(response).error.code]).toEqual([404, 'E_NOT_FOUND']);
  });
});

describe('answers are serialised by schema', () => {
  it('a run record does not carry fields the schema does not list (inputShape)', async () => {
    fx.store.runs.flushNow();
    expect(fx.store.queries.get(runIds.acme)?.inputShape).toBeDefined();
    const body = json(await app.inject({ url: `/v1/runs/${runIds.acme}`, headers: bearer(keyOf('acme', 'viewer')) }));
    expect(body.id).toBe(runIds.acme);
    expect(body).not.toHaveProperty('inputShape');
  });

  it('a suggestion carrying extra fields has them dropped', async () => {
    suggestions.add({ ...suggestion('leaky', 'acme'), internalNote: 'secret' } as never);
    const body = json(await app.inject({ url: '/v1/suggestions/leaky', headers: bearer(keyOf('acme', 'viewer')) }));
    expect(body.id).toBe('leaky');
    expect(body).not.toHaveProperty('internalNote');
  });

  it('templates: list with statuses, and detail with manifest, digest, signature and recorded versions', async () => {
    const list = json(await app.inject({ url: '/v1/templates', headers: bearer(keyOf('acme', 'viewer')) })).templates;
    expect(list.map((t: { name: string; status: string }) => [t.name, t.status])).toEqual([
      ['base', 'abstract'],
      ['hello', 'valid'],
      ['slow', 'valid'],
      ['thrower', 'valid'],
    ]);
    const detail = json(await app.inject({ url: '/v1/templates/hello', headers: bearer(keyOf('acme', 'viewer')) }));
    expect(detail).toMatchObject({ name: 'hello', version: '1.0.0', env: 'dev', abstract: false, description: 'Greets and counts per tenant', chain: ['hello'] });
    expect(detail.signature.status).toBe('waived');
    expect(detail.manifest.permissions.kv).toBe(true);
    expect(detail.versions).toEqual([{ version: '1.0.0', digest: detail.digest, signed: false, recordedAt: expect.any(Number) }]);
    const prod = json(await app.inject({ url: '/v1/templates/hello?env=prod', headers: bearer(keyOf('acme', 'viewer')) }));
    expect(prod.signature).toMatchObject({ status: 'refused', code: 'E_SIGNATURE_MISSING' });
    const missing = await app.inject({ url: '/v1/templates/nope', headers: bearer(keyOf('acme', 'viewer')) });
    expect([missing.statusCode, json(missing).error.code]).toEqual([404, 'E_TEMPLATE_NOT_FOUND']);
  });

  it('running an unsigned template in prod → 409 E_SIGNATURE_MISSING', async () => {
    const response = await app.inject({ method: 'POST', url: '/v1/agents/hello/runs', headers: bearer(keyOf('acme', 'operator')), payload: { input: { name: 'x' }, env: 'prod' } });
    expect([response.statusCode, json(response).error.code]).toEqual([409, 'E_SIGNATURE_MISSING']);
  });
});

describe('the code → status mapping', () => {
  it('gives every core code a status, and the groups the API documents', () => {
    for (const code of ERROR_CODES) expect([code, httpStatusFor(code)]).toEqual([code, expect.any(Number)]);
    expect(Object.fromEntries(['E_INPUT_INVALID', 'E_UNAUTHORIZED', 'E_FORBIDDEN', 'E_NOT_FOUND', 'E_CONFLICT', 'E_BODY_TOO_LARGE', 'E_TIMEOUT', 'E_RATE_LIMITED', 'E_STORE', 'E_NOT_IMPLEMENTED', 'E_SANDBOX_CRASHED', 'E_DISPOSED'].map((c) => [c, httpStatusFor(c)]))).toEqual({
      E_INPUT_INVALID: 400,
      E_UNAUTHORIZED: 401,
      E_FORBIDDEN: 403,
      E_NOT_FOUND: 404,
      E_CONFLICT: 409,
      E_BODY_TOO_LARGE: 413,
      E_TIMEOUT: 422,
      E_RATE_LIMITED: 429,
      E_STORE: 500,
      E_NOT_IMPLEMENTED: 501,
      E_SANDBOX_CRASHED: 502,
      E_DISPOSED: 503,
    });
    expect(httpStatusFor('E_SOMETHING_NEW')).toBe(500);
  });
});

describe('a server without services, telemetry or rate limits', () => {
  let bare: FastifyInstance;
  beforeAll(async () => {
    bare = createApiServer({ factory: fx.factory, telemetry: false, rateLimit: false, bodyLimit: 64, metricsAccess: 'admin' });
    await bare.ready();
  });
  afterAll(() => bare.close());

  it.each([
    ['GET', '/v1/suggestions'],
    ['GET', '/v1/suggestions/x'],
    ['POST', '/v1/suggestions/x/accept'],
    ['POST', '/v1/suggestions/x/reject'],
    ['POST', '/v1/templates/hello/rollback'],
    ['POST', '/v1/templates/hello/versions/1.0.0/retire'],
  ] as const)('%s %s → 501 E_NOT_IMPLEMENTED', async (method, url) => {
    const response = await bare.inject({ method, url, headers: bearer(url.endsWith('/reject') || method === 'GET' ? keyOf('acme', 'admin') : fx.installation.admin.key), payload: url.endsWith('/reject') ? { reason: 'r' } : method === 'POST' ? {} : undefined });
    expect([response.statusCode, json(response).error.code]).toEqual([501, 'E_NOT_IMPLEMENTED']);
  });

  it('/metrics can require a role; telemetry off → 501', async () => {
    expect((await bare.inject({ url: '/metrics' })).statusCode).toBe(401);
    expect((await bare.inject({ url: '/metrics', headers: bearer(keyOf('acme', 'maintainer')) })).statusCode).toBe(403);
    const response = await bare.inject({ url: '/metrics', headers: bearer(keyOf('acme', 'admin')) });
    expect([response.statusCode, json(response).error.code]).toEqual([501, 'E_NOT_IMPLEMENTED']);
  });

  it('honours its own body limit', async () => {
    const response = await bare.inject({ method: 'POST', url: '/v1/agents/hello/runs', headers: bearer(keyOf('acme', 'operator')), payload: { input: { name: 'x'.repeat(100) } } });
    expect([response.statusCode, json(response).error.code]).toEqual([413, 'E_BODY_TOO_LARGE']);
  });

  it('rejects bad options with a TypeError naming the option', () => {
    expect(() => createApiServer({ factory: fx.factory, bodyLimit: -1 })).toThrow(/createApiServer: option "bodyLimit"/);
    expect(() => createApiServer({ factory: fx.factory, rateLimit: { max: { root: 5 } as never } })).toThrow(/option "rateLimit.max.root" is not a role/);
    expect(() => createApiServer({ factory: fx.factory, metricsAccess: 'everyone' as never })).toThrow(/option "metricsAccess"/);
  });
});

describe('rate limits per key and role', () => {
  let limited: FastifyInstance;
  beforeAll(async () => {
    limited = createApiServer({ factory: fx.factory, telemetry: false, rateLimit: { timeWindowMs: 60_000, max: { viewer: 2, operator: 3 } } });
    await limited.ready();
  });
  afterAll(() => limited.close());

  it('counts per key, limits per role, and answers 429 E_RATE_LIMITED with retry-after', async () => {
    const get = (key: string) => limited.inject({ url: '/v1/runs?limit=1', headers: bearer(key) });
    const viewer = keyOf('acme', 'viewer');
    expect([(await get(viewer)).statusCode, (await get(viewer)).statusCode]).toEqual([200, 200]);
    const third = await get(viewer);
    expect([third.statusCode, json(third).error.code]).toEqual([429, 'E_RATE_LIMITED']);
    expect(Number(third.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(third.headers['retry-after'])).toBeLessThanOrEqual(60);
    // Another key of the same tenant and role has its own budget; an operator's budget is larger.
    expect((await get(keyOf('globex', 'viewer'))).statusCode).toBe(200);
    const operator = keyOf('acme', 'operator');
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await get(operator)).statusCode);
    expect(statuses).toEqual([200, 200, 200, 429]);
    // Refused (403) requests count too, so a low-role key cannot flood the audit log with refusals.
    const viewerRun = () => limited.inject({ method: 'POST', url: '/v1/agents/hello/runs', headers: bearer(keyOf('globex', 'viewer')), payload: { input: { name: 'x' } } });
    expect(json(await viewerRun()).error.code).toBe('E_FORBIDDEN');
    expect(json(await viewerRun()).error.code).toBe('E_RATE_LIMITED');
    // Public routes are not counted.
    for (let i = 0; i < 5; i++) expect((await limited.inject({ url: '/healthz' })).statusCode).toBe(200);
  });

  it('unauthenticated requests are refused before they count against anyone', async () => {
    for (let i = 0; i < 5; i++) expect((await limited.inject({ url: '/v1/runs' })).statusCode).toBe(401);
  });
});
