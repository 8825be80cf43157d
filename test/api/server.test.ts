// The API on a real loopback socket, driven by the SDK (including a 429 retry that honours retry-after), and `af serve`
// stopping gracefully with a run in flight.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiServer, FactoryClient, parseRetryAfter } from '../../api/index.js';
import { serveCommand } from '../../cli/commands/serve.js';
import { createManualClock } from '../../core/clock.js';
import { FactoryError } from '../../core/errors.js';
import { openStore } from '../../store/index.js';
import { createProject } from '../helpers/project.js';
import { type ApiFixture, createApiFixture, MemorySuggestions, projectFiles, suggestion } from './fixture.js';
import { captureContext } from '../helpers/streams.js';

describe('the SDK against a listening server', () => {
  let fx: ApiFixture;
  let app: FastifyInstance;
  let baseUrl: string;
  const suggestions = new MemorySuggestions();
  // Rate-limit windows read this clock: the tests move it instead of waiting for a window to pass.
  const clock = createManualClock(1_700_000_000_000);

  beforeAll(async () => {
    fx = await createApiFixture();
    // One second windows; two requests per window for operators.
    app = createApiServer({ factory: fx.factory, suggestions, telemetry: false, clock, rateLimit: { timeWindowMs: 1000, max: { operator: 2, viewer: 1000, maintainer: 1000, admin: 1000 } } });
    baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  });

  afterAll(async () => {
    await app.close();
    await fx.close();
  });

  it('runs an agent, reads the run back, lists templates, and decides a suggestion', async () => {
    const client = new FactoryClient({ baseUrl, apiKey: fx.keys.acme.admin.key });
    expect(await client.health()).toEqual({ ok: true });
    expect((await client.ready()).ready).toBe(true);
    const result = await client.runAgent('hello', { name: 'Ada' });
    expect(result).toMatchObject({ template: 'hello', version: '1.0.0', output: { greeting: 'Hello, Ada', n: 1 } });
    expect(await client.getRun(result.runId)).toMatchObject({ id: result.runId, tenant: 'acme', outcome: 'ok' });
    expect((await client.listRuns({ template: 'hello', limit: 5 })).map((r) => r.id)).toContain(result.runId);
    expect((await client.listTemplates()).find((t) => t.name === 'hello')).toMatchObject({ status: 'valid', signature: 'waived' });
    expect((await client.getTemplate('hello')).digest).toMatch(/^[0-9a-f]{64}$/);
    suggestions.add(suggestion('sdk-1', 'acme'));
    expect((await client.listSuggestions({ state: 'open' })).map((s) => s.id)).toEqual(['sdk-1']);
    expect((await client.rejectSuggestion('sdk-1', 'not now')).state).toBe('rejected');
    await expect(client.audit({ type: 'api.suggestion.rejected' })).rejects.toMatchObject({ code: 'E_FORBIDDEN', details: { status: 403 } });
    const installation = new FactoryClient({ baseUrl, apiKey: fx.installation.admin.key });
    expect((await installation.audit({ type: 'api.suggestion.rejected' }))[0]?.subject).toBe('sdk-1');
    expect((await client.openapi()).openapi).toBe('3.0.3');
  });

  it('throws FactoryError with the server’s code, status, run id and stats', async () => {
    const client = new FactoryClient({ baseUrl, apiKey: fx.keys.globex.admin.key });
    const failure = await client.runAgent('thrower', {}).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(FactoryError);
    expect(failure).toMatchObject({ code: 'E_AGENT_THREW', details: { status: 422, runId: expect.any(String), stats: expect.any(Object) } });
    await expect(client.getRun('no-such-run')).rejects.toMatchObject({ code: 'E_NOT_FOUND', details: { status: 404 } });
    await expect(client.rollback('hello')).rejects.toMatchObject({ code: 'E_FORBIDDEN', details: { status: 403 } });
    await expect(new FactoryClient({ baseUrl, apiKey: fx.installation.maintainer.key }).rollback('hello')).rejects.toMatchObject({ code: 'E_NOT_IMPLEMENTED', details: { status: 501 } });
    const viewer = new FactoryClient({ baseUrl, apiKey: fx.keys.globex.viewer.key });
    await expect(viewer.runAgent('hello', { name: 'x' })).rejects.toMatchObject({ code: 'E_FORBIDDEN', details: { status: 403 } });
    const revoked = new FactoryClient({ baseUrl, apiKey: fx.revokedKey });
    await expect(revoked.listRuns()).rejects.toMatchObject({ code: 'E_UNAUTHORIZED', details: { status: 401 } });
  });

  it('retries a 429 after the retry-after the server sent, then succeeds', async () => {
    const waits: number[] = [];
    const client = new FactoryClient({
      baseUrl,
      apiKey: fx.keys.acme.operator.key,
      // The client's wait is the server's window passing.
      sleep: async (ms) => {
        waits.push(ms);
        clock.advance(ms);
      },
    });
    // Start at the beginning of a fresh window so the third call is the one throttled.
    clock.advance(1100);
    await client.runAgent('hello', { name: '1' });
    await client.runAgent('hello', { name: '2' });
    const started = clock.now();
    const third = await client.runAgent('hello', { name: '3' });
    expect(third.output).toMatchObject({ greeting: 'Hello, 3' });
    expect(waits).toEqual([1000]);
    expect(clock.now() - started).toBeGreaterThanOrEqual(1000);
  });

  it('gives up after its attempts, or when retry-after is longer than it may wait', async () => {
    clock.advance(1100);
    const once = new FactoryClient({ baseUrl, apiKey: fx.keys.acme.operator.key, maxAttempts: 1 });
    await once.runAgent('hello', { name: '1' });
    await once.runAgent('hello', { name: '2' });
    await expect(once.runAgent('hello', { name: '3' })).rejects.toMatchObject({ code: 'E_RATE_LIMITED', details: { status: 429, retryAfterMs: 1000 } });
    const impatient = new FactoryClient({ baseUrl, apiKey: fx.keys.acme.operator.key, maxRetryDelayMs: 10, sleep: () => Promise.reject(new Error('must not wait')) });
    await expect(impatient.runAgent('hello', { name: '4' })).rejects.toMatchObject({ code: 'E_RATE_LIMITED' });
  });

  it('parses retry-after as seconds or an HTTP date', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });

  it('rejects bad options with a TypeError naming the option', () => {
    expect(() => new FactoryClient({ baseUrl: 'not a url', apiKey: 'afk_x' })).toThrow(/FactoryClient: option "baseUrl"/);
    expect(() => new FactoryClient({ baseUrl, apiKey: 'secret' })).toThrow(/option "apiKey"/);
    expect(() => new FactoryClient({ baseUrl, apiKey: 'afk_x', maxAttempts: 0 })).toThrow(/option "maxAttempts"/);
  });
});

describe('af serve', () => {
  it('serves until stopped, finishing the run in flight before closing the factory and store', async () => {
    const project = createProject(projectFiles());
    try {
      const { context, printed } = captureContext({ cwd: project.root, env: { AF_LOG_LEVEL: 'silent' }, keepStdinOpen: true, globals: { root: project.root } });
      const setup = openStore({ path: context.config().dbPath });
      const { key } = setup.tenants.createApiKey('acme', 'operator');
      await setup.close();

      const controller = new AbortController();
      let onListening!: (url: string) => void;
      const listening = new Promise<string>((resolve) => (onListening = resolve));
      const serving = serveCommand(context, { port: 0 }, { signal: controller.signal, onListening });
      const url = await listening;
      const client = new FactoryClient({ baseUrl: url, apiKey: key });
      expect((await client.runAgent('hello', { name: 'warm' })).output).toMatchObject({ n: 1 });

      const inFlight = client.runAgent('slow', { ms: 400 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      controller.abort();
      expect((await inFlight).output).toEqual({ waited: 400 });
      expect(await serving).toBe(0);
      expect(printed.stderr).toContain('aborted: stopping');
      await expect(client.health()).rejects.toMatchObject({ code: 'E_UNAVAILABLE' });

      // Both runs reached the store before it closed.
      const after = openStore({ path: context.config().dbPath });
      expect(after.queries.list({ tenant: 'acme' }).map((r) => r.template).sort()).toEqual(['hello', 'slow']);
      await after.close();
    } finally {
      project.remove();
    }
  });
});
