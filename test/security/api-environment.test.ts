// Finding 1: an API caller must never choose the environment of a run (it decides signatures, policy and the manifest's
// overlay). A real prod factory with real sandbox hosts, a real store and signing keys, an unsigned template that would
// read a server variable and the signer's private key if it ever ran, and operator keys asking for other environments.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiServer, FactoryClient } from '../../api/index.js';
import { serveCommand } from '../../cli/commands/serve.js';
import { runAf } from '../helpers/cli.js';
import { type AgentFactory, createFactory } from '../../runtime/index.js';
import { openStore, type Store } from '../../store/index.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';
import { captureContext } from '../helpers/streams.js';

const SECRET = 'server-secret-4f1c';

let project: TempProject;
let store: Store;
let factory: AgentFactory;
let app: FastifyInstance;
let operator: string;
let admin: string;
let privateKeyPath: string;

async function af(...args: string[]) {
  return runAf(project.root, args, { AF_LOG_LEVEL: 'silent' });
}

const json = (response: { body: string }) => JSON.parse(response.body);
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const runs = () => {
  store.runs.flushNow();
  return store.queries.count();
};

beforeAll(async () => {
  project = createProject({
    // Unsigned; asks for a server variable and, through a read grant, for whatever file it is given.
    ...simpleTemplate(
      'leaky',
      { permissions: { env: ['AF_SERVER_SECRET'], read: ['../../.af/keys'] }, environments: { staging: { permissions: { env: ['AF_SERVER_SECRET'] } } } },
      `export default async (input, ctx) => ({ secret: ctx.env.get('AF_SERVER_SECRET'), key: input.path ? await ctx.readTextFile(input.path) : null });\n`,
    ),
    ...simpleTemplate('signed', {}, 'export default (input) => ({ echo: input });\n'),
  });
  expect((await af('keys', 'init')).status).toBe(0);
  expect((await af('sign', 'signed')).status).toBe(0);
  const keysDir = path.join(project.root, '.af', 'keys');
  privateKeyPath = path.join(keysDir, readdirSync(keysDir).find((file) => file.endsWith('.key.pem')) as string);
  store = openStore({ path: path.join(project.root, '.af', 'factory.db') });
  factory = await createFactory({ root: project.root, env: 'prod', hosts: 1, store, processEnv: { AF_SERVER_SECRET: SECRET } });
  operator = store.tenants.createApiKey('acme', 'operator').key;
  admin = store.tenants.createApiKey('acme', 'admin').key;
  app = createApiServer({ factory, telemetry: false, rateLimit: false });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await factory?.close();
  await store?.close();
  project?.remove();
});

describe('a prod server never runs in an environment the caller names', () => {
  it('runs signed templates in prod (so the refusals below are not vacuous)', async () => {
    const response = await app.inject({ method: 'POST', url: '/v1/agents/signed/runs', headers: bearer(operator), payload: { input: { a: 1 } } });
    expect([response.statusCode, json(response).output]).toEqual([200, { echo: { a: 1 } }]);
    store.runs.flushNow();
    expect(store.queries.get(json(response).runId)?.env).toBe('prod');
  });

  it.each(['dev', 'staging', 'test', 'local', 'development', 'qa', 'prod-2'])('env %s in a run body → 403 E_FORBIDDEN, nothing runs', async (env) => {
    const before = runs();
    for (const key of [operator, admin]) {
      const response = await app.inject({ method: 'POST', url: '/v1/agents/leaky/runs', headers: bearer(key), payload: { input: { path: privateKeyPath }, env } });
      expect([response.statusCode, json(response).error.code]).toEqual([403, 'E_FORBIDDEN']);
      expect(json(response).error.message).toContain(`runs environment "prod"`);
      expect(response.body).not.toContain(SECRET);
      expect(response.body).not.toContain('PRIVATE KEY');
    }
    expect(runs()).toBe(before);
    // Refusals are audited like any other 403.
    expect(store.audit.list({ type: 'api.forbidden', limit: 1 })[0]).toMatchObject({ subject: 'POST /v1/agents/:name/runs' });
  });

  it('other spellings and smuggling of env are refused, and never run anything outside prod', async () => {
    const before = runs();
    const raw = (payload: string) => app.inject({ method: 'POST', url: '/v1/agents/leaky/runs', headers: { ...bearer(operator), 'content-type': 'application/json' }, payload });
    const refused = [
      raw('{"input":{},"env":"DEV"}'),
      raw('{"input":{},"env":" dev"}'),
      raw('{"input":{},"env":"dev\\u0000"}'),
      raw('{"input":{},"env":["dev"]}'),
      raw('{"input":{},"Env":"dev"}'),
      raw('{"input":{},"__proto__":{"env":"dev"}}'),
      raw('{"input":{},"constructor":{"prototype":{"env":"dev"}}}'),
      app.inject({ url: '/v1/templates?env=dev&env=prod', headers: bearer(operator) }),
      app.inject({ url: '/v1/templates?env=prod&env=dev', headers: bearer(operator) }),
      app.inject({ url: '/v1/templates?env[]=dev', headers: bearer(operator) }),
    ];
    for (const response of await Promise.all(refused)) {
      expect([400, 403]).toContain(response.statusCode);
      expect(response.body).not.toContain(SECRET);
    }
    // A duplicated key is read as JSON.parse reads it (the last one wins), and that is the value decided on.
    const duplicate = await raw('{"input":{},"env":"dev","env":"prod"}');
    expect([duplicate.statusCode, json(duplicate).error.code]).toEqual([409, 'E_SIGNATURE_MISSING']);
    const reversed = await raw('{"input":{},"env":"prod","env":"dev"}');
    expect([reversed.statusCode, json(reversed).error.code]).toEqual([403, 'E_FORBIDDEN']);
    expect(runs()).toBe(before);
  });

  it("the server's own environment, named or not, applies its trust rules: the unsigned template is refused", async () => {
    const before = runs();
    for (const payload of [{ input: {} }, { input: {}, env: 'prod' }]) {
      const response = await app.inject({ method: 'POST', url: '/v1/agents/leaky/runs', headers: bearer(operator), payload });
      expect([response.statusCode, json(response).error.code]).toEqual([409, 'E_SIGNATURE_MISSING']);
    }
    expect(runs()).toBe(before);
  });

  it('the template routes refuse other environments too, and resolve nothing in them', async () => {
    const waivedBefore = store.audit.list({ type: 'signature.waived', limit: 1000 }).length;
    for (const url of ['/v1/templates?env=dev', '/v1/templates/leaky?env=dev', '/v1/templates/leaky?env=staging']) {
      const response = await app.inject({ url, headers: bearer(operator) });
      expect([url, response.statusCode, json(response).error.code]).toEqual([url, 403, 'E_FORBIDDEN']);
    }
    // Resolving in dev would have waived the signature (and audited that); nothing was resolved.
    expect(store.audit.list({ type: 'signature.waived', limit: 1000 }).length).toBe(waivedBefore);
    const own = json(await app.inject({ url: '/v1/templates/leaky', headers: bearer(operator) }));
    expect(own).toMatchObject({ env: 'prod', signature: { status: 'refused', code: 'E_SIGNATURE_MISSING' } });
  });

  it('the SDK gets the same 403 over a real socket', async () => {
    const server = createApiServer({ factory, telemetry: false, rateLimit: false });
    const baseUrl = await server.listen({ host: '127.0.0.1', port: 0 });
    try {
      const client = new FactoryClient({ baseUrl, apiKey: operator });
      await expect(client.runAgent('leaky', { path: privateKeyPath }, { env: 'dev' })).rejects.toMatchObject({ code: 'E_FORBIDDEN', details: { status: 403 } });
      await expect(client.listTemplates({ env: 'dev' })).rejects.toMatchObject({ code: 'E_FORBIDDEN', details: { status: 403 } });
    } finally {
      await server.close();
    }
  });
});

describe('the allowlist is fixed at start-up and never holds a dev environment on a server that is not dev', () => {
  it('createApiServer refuses a dev environment for a prod factory, naming it', () => {
    expect(() => createApiServer({ factory, telemetry: false, environments: ['dev'] })).toThrow(/option "environments" holds "dev", a development environment/);
    expect(() => createApiServer({ factory, telemetry: false, environments: ['PROD!'] })).toThrow(/not an environment name/);
  });

  it('custom development environments are recognised as such', async () => {
    const localProject = createProject(simpleTemplate('x'));
    const local = await createFactory({ root: localProject.root, env: 'prod', isolation: 'inline', store: false, devEnvironments: ['dev', 'sandbox'] });
    try {
      expect(() => createApiServer({ factory: local, store, telemetry: false, environments: ['sandbox'] })).toThrow(/"sandbox", a development environment/);
    } finally {
      await local.close();
      localProject.remove();
    }
  });

  it('an allowed non-dev environment still applies its trust rules (signatures required)', async () => {
    const staged = createApiServer({ factory, telemetry: false, rateLimit: false, environments: ['staging'] });
    await staged.ready();
    try {
      const before = runs();
      const refused = await staged.inject({ method: 'POST', url: '/v1/agents/leaky/runs', headers: bearer(operator), payload: { input: {}, env: 'staging' } });
      expect([refused.statusCode, json(refused).error.code]).toEqual([409, 'E_SIGNATURE_MISSING']);
      expect(runs()).toBe(before);
      const dev = await staged.inject({ method: 'POST', url: '/v1/agents/leaky/runs', headers: bearer(operator), payload: { input: {}, env: 'dev' } });
      expect([dev.statusCode, json(dev).error.code]).toEqual([403, 'E_FORBIDDEN']);
      const ok = await staged.inject({ method: 'POST', url: '/v1/agents/signed/runs', headers: bearer(operator), payload: { input: 2, env: 'staging' } });
      expect(ok.statusCode).toBe(200);
      store.runs.flushNow();
      expect(store.queries.get(json(ok).runId)?.env).toBe('staging');
    } finally {
      await staged.close();
    }
  });

  it('`af serve --env prod --allow-env dev` refuses to start (exit 2), naming the environment', async () => {
    const result = await af('--env', 'prod', 'serve', '--port', '0', '--allow-env', 'staging,dev');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('E_USAGE');
    expect(result.stderr).toContain('--allow-env dev: dev is a development environment');
  });

  it('`af --env prod serve --allow-env staging` runs staging when asked, refuses dev, and says what it allows', async () => {
    const { context, printed } = captureContext({ cwd: project.root, env: { AF_LOG_LEVEL: 'silent', AF_SERVER_SECRET: SECRET }, keepStdinOpen: true, globals: { root: project.root, env: 'prod' } });
    const controller = new AbortController();
    let onListening!: (url: string) => void;
    const listening = new Promise<string>((resolve) => (onListening = resolve));
    const serving = serveCommand(context, { port: 0, allowEnv: 'staging' }, { signal: controller.signal, onListening });
    const client = new FactoryClient({ baseUrl: await listening, apiKey: operator });
    try {
      expect((await client.runAgent('signed', 1, { env: 'staging' })).output).toEqual({ echo: 1 });
      await expect(client.runAgent('leaky', { path: privateKeyPath }, { env: 'dev' })).rejects.toMatchObject({ code: 'E_FORBIDDEN', details: { status: 403 } });
      await expect(client.runAgent('leaky', { path: privateKeyPath }, { env: 'staging' })).rejects.toMatchObject({ code: 'E_SIGNATURE_MISSING', details: { status: 409 } });
    } finally {
      controller.abort();
      expect(await serving).toBe(0);
    }
    expect(printed.stderr).toContain('in environment prod (requests may also name staging)');
  });

  it('the OpenAPI document says who picks the environment', async () => {
    const doc = json(await app.inject({ url: '/v1/openapi.json' }));
    const env = doc.paths['/v1/agents/{name}/runs'].post.requestBody.content['application/json'].schema.properties.env;
    expect(env.description).toContain('--allow-env');
  });
});

describe('nothing was read', () => {
  it('the private key is still only on disk, and no run ever saw the secret', () => {
    expect(readFileSync(privateKeyPath, 'utf8')).toContain('PRIVATE KEY');
    store.runs.flushNow();
    expect(store.queries.list({ template: 'leaky', limit: 1000 })).toEqual([]);
  });
});
