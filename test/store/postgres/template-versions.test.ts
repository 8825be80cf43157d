// Template versions in PostgreSQL: the SQLite module's cases (test/store/version-seal.test.ts) on a real server, rows
// forged or edited with SQL by someone without the keys folder refused, and two nodes sharing what either records.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock, type ManualClock } from '../../../core/clock.js';
import { PgDatabase } from '../../../store/postgres/connection.js';
import { migratePostgres } from '../../../store/postgres/migrations.js';
import { PgTemplateVersions } from '../../../store/postgres/template-versions.js';
import type { TemplateVersionInput } from '../../../store/template-versions.js';
import { VERSION_SEAL_KEY_FILE, VersionSeal } from '../../../store/version-seal.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';

let database: TestDatabase;
let nodes: PgDatabase[];
let db: PgDatabase;
let dir: string;
let keysDir: string;
let clock: ManualClock;

function version(name: string, v: string, main: string): TemplateVersionInput {
  return {
    name, version: v, digest: `${name}-${v}-${main.length}`.padEnd(64, '0'), manifest: { name, version: v, entry: 'main.ts' },
    sources: { 'main.ts': `hash-of-${main}` }, bundle: `bundle(${main})`, manifestFile: JSON.stringify({ name, version: v, entry: 'main.ts' }),
    sourceFiles: { 'main.ts': Buffer.from(main).toString('base64') },
  };
}

/** Versions on a node of its own (its own pool), sealed with the keys folder unless `sealed` is false. */
function open(sealed = true): PgTemplateVersions {
  const handle = new PgDatabase(database.url);
  nodes.push(handle);
  return new PgTemplateVersions(handle, clock, sealed ? new VersionSeal(keysDir) : undefined);
}

async function refused(promise: Promise<unknown>, fragment: string): Promise<void> {
  await expect(promise).rejects.toMatchObject({ code: 'E_TRUST_STATE', message: expect.stringContaining(fragment) });
}

const INSERT_RAW = 'INSERT INTO template_versions (name, version, digest, manifest, sources, bundle, signature, recorded_at, manifest_file, source_files) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)';

beforeEach(async () => {
  database = await createTestDatabase();
  db = new PgDatabase(database.url);
  nodes = [db];
  await migratePostgres(db);
  dir = mkdtempSync(path.join(os.tmpdir(), 'af-pg-versions-'));
  keysDir = path.join(dir, 'keys');
  clock = createManualClock(1_700_000_000_000);
});

afterEach(async () => {
  for (const handle of nodes) await handle.close();
  await database.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('PgTemplateVersions', () => {
  it('writes every row sealed with a key of its own in the keys folder, and reads it back', async () => {
    const versions = open();
    expect(versions.isSealed).toBe(true);
    await versions.record(version('hello', '1.0.0', 'v1'));
    clock.advance(1);
    await versions.record({ ...version('hello', '1.0.0', 'v1'), signature: { keyId: 'k' } });
    expect(await versions.get('hello', '1.0.0')).toMatchObject({ version: '1.0.0', signature: { keyId: 'k' }, bundle: 'bundle(v1)', recordedAt: 1_700_000_000_000, sourceFiles: { 'main.ts': Buffer.from('v1').toString('base64') } });
    expect(await versions.list('hello')).toEqual([{ version: '1.0.0', digest: version('hello', '1.0.0', 'v1').digest, signed: true, recordedAt: 1_700_000_000_000 }]);
    expect(readFileSync(path.join(keysDir, VERSION_SEAL_KEY_FILE), 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
    expect(await db.rows('SELECT seal FROM template_versions')).toEqual([{ seal: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
    expect(await versions.get('hello', '2.0.0')).toBeUndefined();
    expect(await versions.byDigest('hello', 'nope')).toBeUndefined();
  });

  it('prefers the newest signed record of a version, then the newest', async () => {
    const versions = open(false);
    await versions.record({ ...version('hello', '1.0.0', 'signed'), signature: { keyId: 'k' } });
    clock.advance(10);
    await versions.record(version('hello', '1.0.0', 'e1'));
    clock.advance(10);
    await versions.record(version('hello', '1.0.0', 'edit-22'));
    expect((await versions.get('hello', '1.0.0'))?.bundle).toBe('bundle(signed)');
    await db.query("DELETE FROM template_versions WHERE signature IS NOT NULL");
    expect((await versions.get('hello', '1.0.0'))?.bundle).toBe('bundle(edit-22)');
    expect((await versions.list('hello')).map((v) => v.recordedAt)).toEqual([1_700_000_000_010, 1_700_000_000_020]);
  });

  it('without a seal keeps the first record of a digest, filling in a later signature with the bundle it covers', async () => {
    const versions = open(false);
    expect(versions.isSealed).toBe(false);
    await versions.record({ ...version('hello', '1.0.0', 'v1'), manifestFile: undefined });
    clock.advance(5);
    await versions.record({ ...version('hello', '1.0.0', 'v1'), bundle: 'rebuilt', signature: { keyId: 'k' } });
    const got = await versions.get('hello', '1.0.0');
    expect(got).toMatchObject({ bundle: 'rebuilt', signature: { keyId: 'k' }, recordedAt: 1_700_000_000_000, manifestFile: version('hello', '1.0.0', 'v1').manifestFile });
    // The same signature again keeps the bundle it already covers.
    await versions.record({ ...version('hello', '1.0.0', 'v1'), bundle: 'other', signature: { keyId: 'k' } });
    expect((await versions.get('hello', '1.0.0'))?.bundle).toBe('rebuilt');
    expect(await db.rows('SELECT seal FROM template_versions')).toEqual([{ seal: null }]);
  });

  it('refuses a row inserted with SQL, naming the template and version and what to do; lists it as unsealed', async () => {
    const versions = open();
    await versions.record(version('hello', '1.0.0', 'v1'));
    await db.query(INSERT_RAW, ['hello', '0.9.0', 'f'.repeat(64), '{"name":"hello","version":"0.9.0"}', '{"main.ts":"x"}', 'evil()', null, 1_700_000_001_000, '{}', '{"main.ts":"ZXZpbA=="}']);
    await refused(versions.get('hello', '0.9.0'), 'version 0.9.0 of "hello" in the store');
    await refused(versions.byDigest('hello', 'f'.repeat(64)), 'it has no seal');
    await refused(versions.get('hello', '0.9.0'), 'af sign hello');
    expect(await versions.get('hello', '0.9.0', { unsealed: 'skip' })).toBeUndefined();
    expect(await versions.byDigest('hello', 'f'.repeat(64), { unsealed: 'skip' })).toBeUndefined();
    expect((await versions.list('hello')).map((v) => [v.version, v.unsealed ?? false])).toEqual([['1.0.0', false], ['0.9.0', true]]);
  });

  for (const [column, value] of [
    ['source_files', `{"main.ts":"${Buffer.from('evil').toString('base64')}"}`],
    ['sources', '{"main.ts":"another-hash"}'],
    ['digest', 'e'.repeat(64)],
    ['manifest', '{"name":"hello","version":"1.0.0","entry":"main.ts","permissions":{"spawn":true}}'],
    ['manifest_file', '{"name":"hello","version":"1.0.0","entry":"evil.ts"}'],
    ['bundle', 'evil()'],
    ['signature', '{"keyId":"forged"}'],
    ['recorded_at', 1],
  ] as const) {
    it(`refuses a sealed row whose ${column} was edited`, async () => {
      const versions = open();
      await versions.record(version('hello', '1.0.0', 'v1'));
      // The column name is one of this test's own, never input.
      expect((await db.query(`UPDATE template_versions SET ${column} = $1`, [value])).rowCount).toBe(1);
      const digest = column === 'digest' ? 'e'.repeat(64) : version('hello', '1.0.0', 'v1').digest;
      await refused(versions.get('hello', '1.0.0'), 'its seal does not match its content');
      await refused(versions.byDigest('hello', digest), 'version 1.0.0 of "hello"');
    });
  }

  it('refuses a sealed row replayed under another name or version', async () => {
    const versions = open();
    await versions.record(version('other', '1.0.0', 'other'));
    await db.query("INSERT INTO template_versions SELECT 'hello', '3.0.0', digest, manifest, sources, bundle, signature, recorded_at, manifest_file, source_files, seal FROM template_versions WHERE name = 'other'");
    await db.query("INSERT INTO template_versions SELECT name, '4.0.0', digest || 'x', manifest, sources, bundle, signature, recorded_at, manifest_file, source_files, seal FROM template_versions WHERE name = 'other'");
    await refused(versions.get('hello', '3.0.0'), 'version 3.0.0 of "hello"');
    await refused(versions.get('other', '4.0.0'), 'version 4.0.0 of "other"');
    expect((await versions.get('other', '1.0.0'))?.bundle).toBe('bundle(other)');
  });

  it('a forged row never displaces a sealed one of the same version, and recording a digest again replaces a forged row instead of merging into it', async () => {
    const versions = open();
    await versions.record({ ...version('hello', '1.0.0', 'v1'), signature: { keyId: 'k' } });
    const forged = version('hello', '1.0.0', 'evil-evil');
    await db.query(INSERT_RAW, ['hello', '1.0.0', forged.digest, JSON.stringify(forged.manifest), JSON.stringify(forged.sources), 'evil()', '{"keyId":"k"}', 1_700_000_010_000, forged.manifestFile, JSON.stringify(forged.sourceFiles)]);
    await db.query(INSERT_RAW, ['hello', '2.0.0', version('hello', '2.0.0', 'v2').digest, '{}', '{}', 'evil()', null, 1, null, '{"main.ts":"ZXZpbA=="}']);
    expect((await versions.get('hello', '1.0.0'))?.bundle).toBe('bundle(v1)');
    await versions.record(version('hello', '2.0.0', 'v2'));
    expect(await versions.get('hello', '2.0.0')).toMatchObject({ bundle: 'bundle(v2)', sourceFiles: { 'main.ts': Buffer.from('v2').toString('base64') } });
  });

  it('a process that cannot use the key only adds unsealed rows (refused), and never changes a sealed one', async () => {
    await open().record(version('hello', '1.0.0', 'v1'));
    const keyFile = path.join(keysDir, VERSION_SEAL_KEY_FILE);
    const key = readFileSync(keyFile);
    writeFileSync(keyFile, 'not a key\n');
    const versions = open();
    await versions.record({ ...version('hello', '1.0.0', 'v1'), signature: { keyId: 'k' } });
    await versions.record(version('hello', '1.1.0', 'v2'));
    await refused(versions.get('hello', '1.0.0'), 'the seal key cannot be read');
    writeFileSync(keyFile, key);
    expect(await db.rows('SELECT version, signature, seal IS NULL AS unsealed FROM template_versions ORDER BY version')).toEqual([
      { version: '1.0.0', signature: null, unsealed: false },
      { version: '1.1.0', signature: null, unsealed: true },
    ]);
    expect((await versions.get('hello', '1.0.0'))?.bundle).toBe('bundle(v1)');
    await refused(versions.get('hello', '1.1.0'), 'it has no seal');
  });

  it('seals only the unsealed signed rows vouched for, as they are; unsigned ones are recorded again instead', async () => {
    // Rows as a store without seals (or an import) left them.
    const scratch = open(false);
    await scratch.record(version('hello', '1.0.0', 'v1'));
    await scratch.record({ ...version('hello', '1.1.0', 'v2'), signature: { keyId: 'k' } });
    await scratch.record({ ...version('hello', '1.2.0', 'v3'), signature: { keyId: 'k' } });
    const versions = open();
    await refused(versions.get('hello', '1.1.0'), 'it has no seal');
    let offered: string[] = [];
    expect(await versions.sealVouched(() => (v) => {
      offered.push(v.version);
      return v.version === '1.1.0';
    })).toBe(1);
    expect(offered.sort()).toEqual(['1.1.0', '1.2.0']);
    expect((await versions.get('hello', '1.1.0'))?.bundle).toBe('bundle(v2)');
    await refused(versions.get('hello', '1.2.0'), 'it has no seal');
    offered = [];
    expect(await versions.sealVouched(() => (v) => v.version === '1.1.0')).toBe(0);
    await refused(versions.get('hello', '1.0.0'), 'it has no seal');
    await versions.record(version('hello', '1.0.0', 'v1'));
    expect((await versions.get('hello', '1.0.0'))?.bundle).toBe('bundle(v1)');
    // A store without a seal seals nothing.
    expect(await scratch.sealVouched(() => () => true)).toBe(0);
  });

  it('two nodes: each reads what the other recorded, and recording one digest on both at once leaves one sealed row with the signature', async () => {
    const a = open();
    const b = open();
    await a.record(version('hello', '1.0.0', 'v1'));
    expect((await b.get('hello', '1.0.0'))?.bundle).toBe('bundle(v1)');
    for (let i = 0; i < 10; i++) {
      const input = version('race', `1.0.${i}`, `body-${i}`);
      await Promise.all([a.record(input), b.record({ ...input, bundle: `signed-${i}`, signature: { keyId: 'k' } })]);
      // Whichever came first, the signed record wins the merge, and the row stays sealed.
      expect(await a.get('race', `1.0.${i}`)).toMatchObject({ bundle: `signed-${i}`, signature: { keyId: 'k' } });
    }
    expect(await db.rows("SELECT count(*)::int AS n FROM template_versions WHERE name = 'race' AND seal IS NOT NULL")).toEqual([{ n: 10 }]);
  });
});
