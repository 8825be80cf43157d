// Every API route answers only to the callers it declares (`config.access`). A route added without that declaration
// — a wiring mistake that is easy to make once routes live in separate modules — must fail closed: it needs a key and
// then refuses every role, instead of being public.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiServer } from '../../api/index.js';
import { type ApiFixture, createApiFixture } from '../api/fixture.js';

let fx: ApiFixture;
let app: FastifyInstance;

beforeAll(async () => {
  fx = await createApiFixture();
  app = createApiServer({ factory: fx.factory, telemetry: false });
  // A plugin that forgot the access declaration, registered the way route modules are.
  app.register(async (child) => {
    child.get('/v1/undeclared', async () => ({ secret: 'every tenant' }));
    child.post('/v1/undeclared', async () => ({ secret: 'every tenant' }));
    // Declarations the type checker would refuse, as a plugin written in JavaScript could still make them.
    child.get('/v1/misspelled', { config: { access: 'admn' } as never }, async () => ({ secret: 'every tenant' }));
    child.get('/v1/misspelled-installation', { config: { access: { installation: 'owner' } } as never }, async () => ({ secret: 'every tenant' }));
  });
  await app.ready();
}, 60_000);
afterAll(async () => {
  await app?.close();
  await fx?.close();
});

describe('a route that declares no access', () => {
  it.each(['GET', 'POST'] as const)('%s without a key is 401, not served', async (method) => {
    const response = await app.inject({ method, url: '/v1/undeclared', ...(method === 'POST' ? { payload: {} } : {}) });
    expect(response.statusCode).toBe(401);
    expect(response.json().error.code).toBe('E_UNAUTHORIZED');
    expect(response.body).not.toContain('every tenant');
  });

  it.each(['viewer', 'admin'] as const)('with a valid %s key is refused as a wiring mistake, not served', async (role) => {
    const response = await app.inject({ method: 'GET', url: '/v1/undeclared', headers: { authorization: `Bearer ${fx.keys.acme[role].key}` } });
    expect(response.statusCode).toBe(500);
    expect(response.json().error.code).toBe('E_INTERNAL');
    expect(response.json().error.message).toBe('GET /v1/undeclared declares no access level (config.access), so it is refused');
    expect(response.body).not.toContain('every tenant');
  });

  it('leaves what is declared public open, and an unknown URL a plain 404', async () => {
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    const unknown = await app.inject({ method: 'GET', url: '/v1/no-such-route' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('E_NOT_FOUND');
  });
});

describe('a route that declares a role this code does not know', () => {
  it.each(['/v1/misspelled', '/v1/misspelled-installation'])('%s refuses even the strongest key', async (url) => {
    for (const key of [fx.keys.acme.admin.key, fx.installation.admin.key]) {
      const response = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${key}` } });
      expect(response.statusCode).toBe(403);
      expect(response.json().error.code).toBe('E_FORBIDDEN');
      expect(response.body).not.toContain('every tenant');
    }
  });
});
