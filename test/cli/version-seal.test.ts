// Version rows are sealed under a key in the keys folder: someone who can write .af/factory.db (but not .af/keys) can no
// longer forge or edit a version that `af rollback` writes into the project, a canary routes to, or a run executes.
// Real projects, real keys, real SQLite files edited with better-sqlite3, and the real `af` binary.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { sha256 } from '../../templates/bundle.js';
import { SCHEMA_VERSION } from '../../store/index.js';
import type { RawManifest } from '../../templates/manifest.js';
import { templateDigest } from '../../templates/resolve.js';
import { runAf } from '../helpers/cli.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

let project: TempProject | undefined;
afterEach(() => {
  project?.remove();
  project = undefined;
});

const p = () => project as TempProject;
const af = (...args: string[]) => runAf(p().root, args);
const onDisk = (file: string) => readFileSync(path.join(p().agentsDir, 'alpha', file), 'utf8');

async function run(...args: string[]): Promise<{ output?: unknown; code?: string; stderr: string }> {
  const ran = await af(...args, '--input', '{}', '--json');
  const report = JSON.parse(ran.stdout) as { ok: boolean; output?: unknown; error?: { code: string } };
  return report.ok ? { output: report.output, stderr: ran.stderr } : { code: report.error?.code as string, stderr: ran.stderr };
}

/** alpha 1.0.0 and 1.1.0 (on disk), both signed, so both recorded, sealed; beta 1.0.0 signed. */
async function twoSignedVersions(): Promise<void> {
  project = createProject({
    ...simpleTemplate('alpha', {}, "export default () => ({ who: 'v1' });\n"),
    ...simpleTemplate('beta', {}, "export default () => ({ who: 'beta' });\n"),
  });
  expect((await af('keys', 'init')).status).toBe(0);
  expect((await af('sign', '--all')).status).toBe(0);
  p().write('agents/alpha/agent.json', { name: 'alpha', version: '1.1.0', entry: 'main.ts' });
  p().write('agents/alpha/main.ts', "export default () => ({ who: 'v2' });\n");
  expect((await af('sign', 'alpha')).status).toBe(0);
}

function withDb<T>(work: (db: Database.Database) => T): T {
  const db = new Database(path.join(p().root, '.af/factory.db'));
  try {
    return work(db);
  } finally {
    db.close();
  }
}

const FORGED_SOURCE = "export default () => ({ who: 'FORGED' });\n";

/**
 * A version whose manifest, source hashes, digest, files and bundle all agree with each other, as someone who can write
 * the database can make one: its bundle is 1.1.0's with the output changed, so it runs if it is believed.
 */
function forgedRow(db: Database.Database, name: string, version: string): Record<string, unknown> {
  const real = db.prepare("SELECT * FROM template_versions WHERE name = 'alpha' AND version = '1.1.0'").get() as { bundle: string };
  const manifest = { name, version, entry: 'main.ts' } as RawManifest;
  const sources = { 'main.ts': sha256(FORGED_SOURCE) };
  return {
    name, version, digest: templateDigest(manifest, sources), manifest: JSON.stringify(manifest), sources: JSON.stringify(sources),
    bundle: real.bundle.replace("'v2'", "'FORGED'"), signature: null, recorded_at: Date.now() + 60_000,
    manifest_file: `${JSON.stringify(manifest, null, 2)}\n`, source_files: JSON.stringify({ 'main.ts': Buffer.from(FORGED_SOURCE).toString('base64') }),
  };
}

function insertForged(name: string, version: string): void {
  withDb((db) => {
    db.prepare(`INSERT INTO template_versions (name, version, digest, manifest, sources, bundle, signature, recorded_at, manifest_file, source_files)
      VALUES (@name, @version, @digest, @manifest, @sources, @bundle, @signature, @recorded_at, @manifest_file, @source_files)`).run(forgedRow(db, name, version));
  });
}

function expectRefused(result: { status: number; stderr: string }, fragment: string): void {
  expect(result.status).toBe(3);
  expect(result.stderr).toContain('E_TRUST_STATE');
  expect(result.stderr).toContain(fragment);
}

function expectUntouched(): void {
  expect(onDisk('main.ts')).toContain("'v2'");
  expect(JSON.parse(onDisk('agent.json')).version).toBe('1.1.0');
}

describe('version rows forged or edited in the database', () => {
  it('af rollback refuses a forged unsigned version and writes nothing; a plain rollback never picks it', async () => {
    await twoSignedVersions();
    insertForged('alpha', '0.9.0');
    const refused = await af('rollback', 'alpha', '--to', '0.9.0');
    expectRefused(refused, 'version 0.9.0 of "alpha" in the store');
    expect(refused.stderr).toContain('it has no seal');
    expect(refused.stderr).toContain('af sign alpha');
    expectUntouched();
    // The forged row is the newest recorded: the default target is still the previous sealed version.
    const rolled = await af('rollback', 'alpha');
    expect(rolled.status).toBe(0);
    expect(rolled.stdout).toContain('to 1.0.0');
    expect(onDisk('main.ts')).toContain("'v1'");
    const listed = JSON.parse((await af('versions', 'list', 'alpha', '--json')).stdout) as { versions: Array<{ version: string; unsealed?: boolean }> };
    expect(listed.versions.filter((v) => v.unsealed).map((v) => v.version)).toEqual(['0.9.0']);
  });

  it('a canary never routes to a forged version, and af rollout refuses to start one', async () => {
    await twoSignedVersions();
    insertForged('alpha', '2.0.0');
    expectRefused(await af('rollout', 'alpha', '--candidate', '2.0.0', '--weight', '1'), 'version 2.0.0 of "alpha" in the store');
    // Written straight into the database, as the forger would.
    withDb((db) => db.prepare("INSERT INTO rollouts (template, stable_version, candidate_version, weight, state, started_at) VALUES ('alpha', '1.1.0', '2.0.0', 1, 'canary', ?)").run(Date.now()));
    // Canaries route outside dev only (dev runs what is on disk).
    const ran = await run('--env', 'prod', 'run', 'alpha');
    expect(ran.output).not.toEqual({ who: 'FORGED' });
    expect(ran.code).toBe('E_TRUST_STATE');
    expect(ran.stderr).toContain('version 2.0.0 of "alpha" in the store');
    expect((await run('--env', 'dev', 'run', 'alpha')).output).toEqual({ who: 'v2' });
  });

  for (const [what, edit] of [
    ['its source files (with hashes and digest to match)', (db: Database.Database) => {
      const forged = forgedRow(db, 'alpha', '1.0.0');
      return db.prepare("UPDATE template_versions SET sources = ?, digest = ?, source_files = ?, bundle = ?, signature = NULL WHERE name = 'alpha' AND version = '1.0.0'")
        .run(forged.sources, forged.digest, forged.source_files, forged.bundle).changes;
    }],
    ['its manifest and agent.json (with the digest to match)', (db: Database.Database) => {
      const row = db.prepare("SELECT sources FROM template_versions WHERE name = 'alpha' AND version = '1.0.0'").get() as { sources: string };
      const manifest = { name: 'alpha', version: '1.0.0', entry: 'main.ts', permissions: { spawn: ['beta'] } } as RawManifest;
      return db.prepare("UPDATE template_versions SET manifest = ?, manifest_file = ?, digest = ? WHERE name = 'alpha' AND version = '1.0.0'")
        .run(JSON.stringify(manifest), JSON.stringify(manifest), templateDigest(manifest, JSON.parse(row.sources))).changes;
    }],
    ['only its digest', (db: Database.Database) => db.prepare("UPDATE template_versions SET digest = ? WHERE name = 'alpha' AND version = '1.0.0'").run('0'.repeat(64)).changes],
  ] as const) {
    it(`af rollback refuses a sealed version when ${what} was edited`, async () => {
      await twoSignedVersions();
      expect(withDb(edit)).toBe(1);
      expectRefused(await af('rollback', 'alpha', '--to', '1.0.0'), 'its seal does not match its content');
      expectUntouched();
    });
  }

  it('another payload of the class: sealed rows with their files swapped, or replayed under another name or version, are refused', async () => {
    await twoSignedVersions();
    withDb((db) => {
      const rows = db.prepare("SELECT version, digest, sources, source_files FROM template_versions WHERE name = 'alpha' ORDER BY version").all() as Array<Record<string, string>>;
      const swap = db.prepare("UPDATE template_versions SET digest = ?, sources = ?, source_files = ? WHERE name = 'alpha' AND version = ?");
      // 1.0.0 keeps its agent.json but carries 1.1.0's files (with their hashes and digest), and the other way round.
      swap.run(`${rows[1]!.digest}`.replace(/^./, 'x'), rows[1]!.sources, rows[1]!.source_files, '1.0.0');
      swap.run(rows[0]!.digest, rows[0]!.sources, rows[0]!.source_files, '1.1.0');
      db.prepare("UPDATE template_versions SET digest = ? WHERE name = 'alpha' AND version = '1.0.0'").run(rows[1]!.digest.replace(/^./, 'f'));
      // beta's sealed row, seal and all, as version 0.5.0 of alpha; and alpha 1.1.0's as 0.6.0.
      db.exec("INSERT INTO template_versions SELECT 'alpha', '0.5.0', digest, manifest, sources, bundle, signature, recorded_at, manifest_file, source_files, seal FROM template_versions WHERE name = 'beta'");
      db.exec("INSERT INTO template_versions SELECT name, '0.6.0', 'a' || substr(digest, 2), manifest, sources, bundle, signature, recorded_at, manifest_file, source_files, seal FROM template_versions WHERE name = 'alpha' AND version = '1.1.0'");
    });
    for (const version of ['1.0.0', '0.5.0', '0.6.0']) {
      expectRefused(await af('rollback', 'alpha', '--to', version), `version ${version} of "alpha" in the store`);
      expectUntouched();
    }
  });
});

describe('sealed versions keep working', () => {
  it('sign → rollback → run → roll forward → run, in dev and prod', async () => {
    await twoSignedVersions();
    expect((await af('rollback', 'alpha')).status).toBe(0);
    expect((await run('--env', 'prod', 'run', 'alpha')).output).toEqual({ who: 'v1' });
    expect((await run('run', 'alpha')).output).toEqual({ who: 'v1' });
    expect((await af('rollback', 'alpha', '--to', '1.1.0')).status).toBe(0);
    expect((await run('--env', 'prod', 'run', 'alpha')).output).toEqual({ who: 'v2' });
    // A canary of a stored sealed version runs it (a stored-version resolve).
    expect((await af('rollout', 'alpha', '--candidate', '1.0.0', '--weight', '1')).status).toBe(0);
    expect((await run('--env', 'prod', 'run', 'alpha')).output).toEqual({ who: 'v1' });
    const listed = JSON.parse((await af('versions', 'list', 'alpha', '--json')).stdout) as { versions: Array<{ unsealed?: boolean }> };
    expect(listed.versions.some((v) => v.unsealed)).toBe(false);
  });

  it('a database from before the seal: signed rows a trusted key vouches for are sealed on first open; others stay refused, saying how to record them again', async () => {
    await twoSignedVersions();
    withDb((db) => {
      // An unsigned version that is not on disk, and one carrying 1.1.0's signature over other content.
      db.prepare(`INSERT INTO template_versions (name, version, digest, manifest, sources, bundle, signature, recorded_at, manifest_file, source_files)
        VALUES (@name, @version, @digest, @manifest, @sources, @bundle, @signature, @recorded_at, @manifest_file, @source_files)`).run(forgedRow(db, 'alpha', '0.9.0'));
      const signature = (db.prepare("SELECT signature FROM template_versions WHERE name = 'alpha' AND version = '1.1.0'").get() as { signature: string }).signature;
      db.prepare(`INSERT INTO template_versions (name, version, digest, manifest, sources, bundle, signature, recorded_at, manifest_file, source_files)
        VALUES (@name, @version, @digest, @manifest, @sources, @bundle, @signature, @recorded_at, @manifest_file, @source_files)`).run({ ...forgedRow(db, 'alpha', '0.8.0'), signature });
      // As schema 6 left it: no seal column, and the runs column not yet renamed (migration 8).
      db.exec('ALTER TABLE template_versions DROP COLUMN seal');
      db.exec('ALTER TABLE runs RENAME COLUMN heap_used_at_end_bytes TO heap_peak_bytes');
      // Nor the columns of migration 9.
      for (const column of ['heap_growth_bytes', 'censored_by', 'limits']) db.exec(`ALTER TABLE runs DROP COLUMN ${column}`);
      db.pragma('user_version = 6');
    });
    const listed = JSON.parse((await af('versions', 'list', 'alpha', '--json')).stdout) as { versions: Array<{ version: string; unsealed?: boolean }> };
    expect(listed.versions.filter((v) => v.unsealed).map((v) => v.version).sort()).toEqual(['0.8.0', '0.9.0']);
    withDb((db) => expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION));
    for (const version of ['0.8.0', '0.9.0']) {
      const refused = await af('rollback', 'alpha', '--to', version);
      expectRefused(refused, 'recorded before version rows were sealed');
      expect(refused.stderr).toContain('put its files back in the template folder');
      expectUntouched();
    }
    expect((await af('rollback', 'alpha', '--to', '1.0.0')).status).toBe(0);
    expect((await run('--env', 'prod', 'run', 'alpha')).output).toEqual({ who: 'v1' });
  });
});
