// `af store migrate-to` does not launder trust data someone edited in the SQLite file without the keys folder (a
// retirement and a revocation deleted): it refuses to copy, naming what was lifted, and leaves PostgreSQL empty; after
// `af keys verify --repair` the copy holds the restrictions and enforces them.
import { PassThrough } from 'node:stream';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/index.js';
import { createFactory } from '../../runtime/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

let project: TempProject;
let database: TestDatabase;

async function af(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const stdin = new PassThrough();
  stdin.end();
  const status = await runCli(args, { stdout: { write: (c: string) => (stdout += c) }, stderr: { write: (c: string) => (stderr += c) }, stdin, env: { NO_COLOR: '1' }, cwd: project.root });
  return { status, stdout, stderr };
}

beforeAll(async () => {
  project = createProject(simpleTemplate('alpha'));
  database = await createTestDatabase();
  expect((await af('keys', 'init')).status).toBe(0);
  expect((await af('sign', '--all')).status).toBe(0);
  expect((await af('run', 'alpha', '--env', 'prod', '--input', '{"x":1}')).status).toBe(0);
  const signer = JSON.parse((await af('keys', 'create', '--name', 'signer-2', '--json')).stdout) as { id: string };
  expect((await af('keys', 'revoke', signer.id, '--reason', 'leaked')).status).toBe(0);
  expect((await af('versions', 'retire', 'alpha', '1.0.0', '--reason', 'bad release')).status).toBe(0);
  // Someone with write access to the file, not to the keys folder, lifts both restrictions.
  const file = new Database(path.join(project.root, '.af', 'factory.db'));
  try {
    file.exec('DELETE FROM retired_versions; DELETE FROM revocations;');
  } finally {
    file.close();
  }
}, 120_000);

afterAll(async () => {
  project.remove();
  await database.drop();
});

describe('af store migrate-to on a store whose trust rows were edited', () => {
  it('refuses to copy them (exit 3, E_TRUST_STATE, nothing copied); repaired, the copy holds the restrictions again', async () => {
    const local = await createFactory({ root: project.root, env: 'prod', watch: false });
    await expect(local.run('alpha', { x: 1 })).rejects.toMatchObject({ code: 'E_TRUST_STATE' });
    await local.close();

    const refused = await af('store', 'migrate-to', database.url);
    expect(refused.status).toBe(3);
    expect(refused.stderr).toMatch(/error E_TRUST_STATE: the trust data in \/.+factory\.db was changed without the keys folder \(revocation of key [0-9a-f]+ removed, retirement of alpha@1\.0\.0 removed\)/);
    expect(refused.stderr).toContain('nothing was copied');
    expect(refused.stderr).not.toMatch(/\n\s+at /);
    // Nothing reached PostgreSQL: once the trust data is put back, the same target takes the copy.
    expect((await af('keys', 'verify', '--repair')).status).toBe(0);
    const migrated = await af('store', 'migrate-to', database.url);
    expect(migrated.status, migrated.stdout + migrated.stderr).toBe(0);
    expect(migrated.stdout).toContain("✓ trust data: the keys folder's seal vouches for the copied keys, revocations and retirements");
    expect(migrated.stdout).toContain('1 revocation, 1 retired version');

    const copy = await createFactory({ root: project.root, store: database.url, env: 'prod', watch: false });
    try {
      // The retirement is back, and enforced on PostgreSQL.
      await expect(copy.run('alpha', { x: 1 })).rejects.toMatchObject({ code: 'E_VERSION_RETIRED' });
    } finally {
      await copy.close();
    }
  });
});
