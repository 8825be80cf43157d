// `af keys api create|list|revoke`: the key is printed once and stored only as a hash; every change is audited.
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apiKeysCreateCommand, apiKeysListCommand, apiKeysRevokeCommand } from '../../cli/commands/api-keys.js';
import { openStore } from '../../store/index.js';
import { createProject, type TempProject } from '../helpers/project.js';
import { captureContext, type Printed } from '../helpers/streams.js';

let project: TempProject;
let out: Printed;
let context: ReturnType<typeof captureContext>['context'];

beforeEach(() => {
  project = createProject({});
  ({ context, printed: out } = captureContext({ cwd: project.root, keepStdinOpen: true, globals: { root: project.root } }));
});
afterEach(() => project.remove());

const withDb = async <T>(work: (store: ReturnType<typeof openStore>) => T): Promise<T> => {
  const store = openStore({ path: context.config().dbPath });
  try {
    return work(store);
  } finally {
    await store.close();
  }
};

describe('af keys api', () => {
  it('create prints the key once on stdout; the store keeps only its hash; the creation is audited', async () => {
    expect(await apiKeysCreateCommand(context, { tenant: 'acme', role: 'operator', label: 'ci' })).toBe(0);
    const key = out.stdout.trim();
    expect(key).toMatch(/^afk_[0-9a-f]{12}_[A-Za-z0-9_-]{32}$/);
    expect(out.stderr).toContain('cannot be shown again');
    const secret = key.split('_').slice(2).join('_');
    expect(readFileSync(context.config().dbPath).includes(Buffer.from(secret))).toBe(false);
    const id = key.split('_')[1] as string;
    await withDb((store) => {
      expect(store.tenants.authenticate(key)).toEqual({ keyId: id, tenant: 'acme', role: 'operator' });
      expect(store.audit.list({ type: 'api-key.created' })).toEqual([expect.objectContaining({ actor: 'cli', subject: id, data: { tenant: 'acme', role: 'operator', label: 'ci' } })]);
    });
  });

  it('create --json includes the key; list --json never does; list filters by tenant', async () => {
    await apiKeysCreateCommand(context, { tenant: 'acme', role: 'viewer', json: true });
    const created = JSON.parse(out.stdout);
    expect(created).toMatchObject({ tenant: 'acme', role: 'viewer', status: 'active', key: expect.stringMatching(/^afk_/) });
    await apiKeysCreateCommand(context, { tenant: 'globex', role: 'admin', json: true });
    out.stdout = '';
    await apiKeysListCommand(context, { tenant: 'acme', json: true });
    const listed = JSON.parse(out.stdout);
    expect(listed).toEqual([{ id: created.id, tenant: 'acme', role: 'viewer', label: '', createdAt: created.createdAt, status: 'active' }]);
    out.stdout = '';
    await apiKeysListCommand(context, {});
    expect(out.stdout.split('\n')[0]).toMatch(/^ID\s+TENANT\s+ROLE\s+LABEL\s+CREATED \(UTC\)\s+STATUS$/);
    expect(out.stdout).not.toContain('afk_');
  });

  it('revoke stops the key at once, is audited once, and is idempotent', async () => {
    await apiKeysCreateCommand(context, { tenant: 'acme', role: 'admin', json: true });
    const { id, key } = JSON.parse(out.stdout);
    out.stdout = '';
    expect(await apiKeysRevokeCommand(context, id)).toBe(0);
    expect(out.stdout).toBe(`revoked API key ${id} (tenant acme, role admin)\n`);
    expect(await apiKeysRevokeCommand(context, id, { json: true })).toBe(0);
    await withDb((store) => {
      expect(store.tenants.authenticate(key)).toBeUndefined();
      expect(store.audit.list({ type: 'api-key.revoked' })).toEqual([expect.objectContaining({ actor: 'cli', subject: id })]);
    });
  });

  it('refuses an unknown role (E_USAGE) and an unknown id (not found)', async () => {
    await expect(apiKeysCreateCommand(context, { tenant: 'acme', role: 'root' })).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(apiKeysRevokeCommand(context, 'deadbeef0000')).rejects.toMatchObject({ code: 'E_KEY_NOT_FOUND' });
    await expect(apiKeysCreateCommand(context, { tenant: 'bad tenant!', role: 'viewer' })).rejects.toMatchObject({ code: 'E_USAGE' });
  });
});
