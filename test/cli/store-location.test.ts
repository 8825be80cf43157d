// `--store` / AF_STORE_URL: which store a command opens, `af migrate`, and `af runner`'s refusal without PostgreSQL.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runAf } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

let project: TempProject;
let database: TestDatabase;

beforeEach(async () => {
  project = createProject(simpleTemplate('echo'));
  database = await createTestDatabase();
});

afterEach(async () => {
  project.remove();
  await database.drop();
});

describe('af --store and AF_STORE_URL', () => {
  it('migrates an empty PostgreSQL database, then reports it current; --check says so without changing anything', async () => {
    const before = await runAf(project.root, ['--store', database.url, 'migrate', '--check']);
    expect(before.status).toBe(1);
    expect(before.stdout).toContain('is at schema version 0; this version of Agent Factory needs 9: run `af migrate`');
    // The password never appears in what af prints.
    expect(before.stdout).not.toContain('af-test');
    const migrated = await runAf(project.root, ['migrate', '--json'], { AF_STORE_URL: database.url });
    expect(migrated.status).toBe(0);
    expect(JSON.parse(migrated.stdout)).toMatchObject({ from: 0, to: 9, latest: 9, applied: [8, 9], current: true });
    const after = await runAf(project.root, ['--store', database.url, 'migrate', '--check']);
    expect([after.status, after.stdout]).toEqual([0, expect.stringContaining('is at schema version 9, the latest')]);
  });

  it('af run records the run in the store named (--store or AF_STORE_URL), not in the project file', async () => {
    const ran = await runAf(project.root, ['--store', database.url, 'run', 'echo', '--input', '{"n":1}', '--json']);
    expect(ran.status).toBe(0);
    const byEnv = await runAf(project.root, ['run', 'echo', '--input', '{"n":2}', '--json'], { AF_STORE_URL: database.url });
    expect(byEnv.status).toBe(0);
    const ids = [JSON.parse(ran.stdout).runId, JSON.parse(byEnv.stdout).runId];
    const listed = await runAf(project.root, ['--store', database.url, 'runs', '--json']);
    expect(JSON.parse(listed.stdout).map((run: { id: string }) => run.id).sort()).toEqual(ids.sort());
    const local = await runAf(project.root, ['runs', '--json']);
    expect(JSON.parse(local.stdout)).toEqual([]);
  });

  it('keeps API keys in the store named: created on PostgreSQL, listed from it, absent from the project file', async () => {
    const created = await runAf(project.root, ['--store', database.url, 'keys', 'api', 'create', '--tenant', 'acme', '--role', 'operator', '--json']);
    expect(created.status).toBe(0);
    const record = JSON.parse(created.stdout) as { id: string; key: string };
    const listed = await runAf(project.root, ['keys', 'api', 'list', '--json'], { AF_STORE_URL: database.url });
    expect(JSON.parse(listed.stdout).map((key: { id: string }) => key.id)).toEqual([record.id]);
    const local = await runAf(project.root, ['keys', 'api', 'list', '--json']);
    expect(JSON.parse(local.stdout)).toEqual([]);
  });

  it('af doctor reports a PostgreSQL store by its URL without the password: behind until migrated, then healthy', async () => {
    const before = JSON.parse((await runAf(project.root, ['--store', database.url, 'doctor', '--json'])).stdout) as { store: { path: string; healthy: boolean; problems: string[] } };
    expect(before.store.path).toMatch(/^postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/af_test_/);
    expect(before.store).toMatchObject({ healthy: false, problems: ['schema version 0, and this version of Agent Factory needs 9: run `af migrate`'] });
    expect((await runAf(project.root, ['--store', database.url, 'migrate'])).status).toBe(0);
    const after = JSON.parse((await runAf(project.root, ['--store', database.url, 'doctor', '--json'])).stdout) as { store: { healthy: boolean; problems: string[] } };
    expect(after.store).toMatchObject({ healthy: true, problems: [] });
  });

  it('refuses a location of another kind with exit 2, naming the forms it takes', async () => {
    const result = await runAf(project.root, ['--store', 'mysql://root:secret@db/af', 'runs']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('is not one Agent Factory can open: use sqlite:PATH');
    expect(result.stderr).not.toContain('secret');
    const inQuery = await runAf(project.root, ['--store', 'mysql://db/af?password=querysecret', 'runs']);
    expect([inQuery.status, inQuery.stderr.includes('querysecret')]).toEqual([2, false]);
  });

  it('never shows a password given as a query parameter of the URL either', async () => {
    // Nothing listens on port 1: the connection is refused at once, and the error names the store.
    const result = await runAf(project.root, ['--store', 'postgres://af@127.0.0.1:1/af?password=topsecret&sslpassword=alsosecret', 'migrate', '--check']);
    expect(result.status).toBe(6);
    expect(result.stderr).toContain('E_STORE');
    expect(result.stderr).toContain('password=***');
    expect(result.stderr + result.stdout).not.toMatch(/topsecret|alsosecret/);
  });

  it('af runner needs a PostgreSQL store: exit 2 saying how to name one', async () => {
    const result = await runAf(project.root, ['runner']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('af runner takes runs from the run queue, which only a PostgreSQL store has: pass --store postgres://');
  });
});
