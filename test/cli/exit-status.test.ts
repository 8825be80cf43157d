// Errors as a user meets them through the real CLI: each with its own code, an exit status from the one table, and a
// message that says what to do.
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SCHEMA_VERSION } from '../../store/migrations.js';
import { runAf } from '../helpers/cli.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

let project: TempProject;
beforeEach(() => {
  project = createProject(simpleTemplate('echo'));
});
afterEach(() => project.remove());

const af = (args: string[]) => runAf(project.root, args);

describe('signing with no signer key here', () => {
  it('is E_SIGNER_KEY_MISSING (not an unsigned template), exit 3, saying how to make a key', async () => {
    const result = await af(['sign', 'echo']);
    expect(result.status).toBe(3);
    expect(result.stderr).toContain('E_SIGNER_KEY_MISSING: no usable signer key in ');
    expect(result.stderr).toContain('`af keys init`');
    expect(result.stderr).not.toContain('E_SIGNATURE_MISSING');
    expect(existsSync(path.join(project.agentsDir, 'echo/agent.sig'))).toBe(false);

    const json = await af(['sign', '--all', '--json']);
    expect(json.status).toBe(3);
    expect(JSON.parse(json.stdout.trim().split('\n').at(-1) ?? '')).toMatchObject({ ok: false, error: { code: 'E_SIGNER_KEY_MISSING' } });
  });

  it('once `af keys init` made one, signs', async () => {
    expect((await af(['keys', 'init'])).status).toBe(0);
    expect((await af(['sign', 'echo'])).status).toBe(0);
  });
});

describe('a store newer than this build', () => {
  it('is E_STORE, exit 6, saying to upgrade or use another store, and is left as it was', async () => {
    const file = path.join(project.root, '.af', 'factory.db');
    mkdirSync(path.dirname(file), { recursive: true });
    const newer = new Database(file);
    newer.exec('CREATE TABLE from_the_future (x INTEGER)');
    newer.pragma(`user_version = ${SCHEMA_VERSION + 3}`);
    newer.close();

    const result = await af(['runs', 'list']);
    expect(result.status).toBe(6);
    expect(result.stderr).toContain(`E_STORE: the store at ${file} has schema version ${SCHEMA_VERSION + 3}, newer than this Agent Factory (schema ${SCHEMA_VERSION})`);
    expect(result.stderr).toContain('upgrade agent-factory');
    expect(result.stderr).toContain('point af at another store (--root, AF_ROOT or AF_HOME)');
    expect(result.stderr).not.toMatch(/\n\s+at /);

    const after = new Database(file, { readonly: true });
    expect(after.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION + 3);
    expect(after.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all()).toEqual([{ name: 'from_the_future' }]);
    after.close();
  });
});
