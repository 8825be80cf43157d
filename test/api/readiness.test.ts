// Readiness asks the store itself (store.ping()): a real store whose database connection is gone, or that was closed,
// makes /readyz answer 503 with the failing check, while liveness still answers. Real factory and sandbox host, real store files.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiServer } from '../../api/index.js';
import { type AgentFactory, createFactory } from '../../runtime/index.js';
import { openStore, type Store } from '../../store/index.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

let project: TempProject;
let factory: AgentFactory;

beforeAll(async () => {
  project = createProject(simpleTemplate('hello', {}, 'export default () => ({ ok: true });\n'));
  // No store of its own: each test gives the server a store it can break without touching the factory.
  factory = await createFactory({ root: project.root, hosts: 1, store: false });
});

afterAll(async () => {
  await factory?.close();
  project?.remove();
});

async function readyz(store: Store) {
  const app = createApiServer({ factory, store, telemetry: false, rateLimit: false });
  try {
    await app.ready();
    const response = await app.inject({ url: '/readyz' });
    const health = await app.inject({ url: '/healthz' });
    return { status: response.statusCode, retryAfter: response.headers['retry-after'], body: response.json(), live: health.statusCode };
  } finally {
    await app.close();
  }
}

describe('readiness against a real store', () => {
  it('is ready while the store answers', async () => {
    const store = openStore({ path: path.join(project.root, '.af', 'ok.db') });
    try {
      expect(() => store.ping()).not.toThrow();
      expect(await readyz(store)).toMatchObject({ status: 200, body: { ready: true, checks: { store: 'ok', sandbox: 'ok', server: 'ok' } }, live: 200 });
    } finally {
      await store.close();
    }
  });

  it('is not ready when the database no longer answers, though the store was never closed', async () => {
    const store = openStore({ path: path.join(project.root, '.af', 'broken.db') });
    // The connection goes away under the store, as when the driver or the disk fails: store.isClosed is still false.
    store.db.close();
    expect(store.isClosed).toBe(false);
    expect(() => store.ping()).toThrow(expect.objectContaining({ code: 'E_STORE', message: expect.stringContaining('does not answer') }));
    expect(await readyz(store)).toMatchObject({ status: 503, body: { ready: false, checks: { store: 'failed', sandbox: 'ok', server: 'ok' } }, live: 200 });
  });

  it('is not ready once the store is closed', async () => {
    const store = openStore({ path: path.join(project.root, '.af', 'closed.db') });
    await store.close();
    expect(() => store.ping()).toThrow(expect.objectContaining({ code: 'E_STORE', message: expect.stringContaining('is closed') }));
    expect(await readyz(store)).toMatchObject({ status: 503, body: { ready: false, checks: { store: 'closed' } }, live: 200 });
  });
});
