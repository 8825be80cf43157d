// Template version rows are sealed (HMAC under a key in the keys folder): rows forged or edited with SQLite directly,
// by someone who can write the database but not the keys folder, are refused by every reader.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, SCHEMA_VERSION, type Store, type TemplateVersionInput, VERSION_SEAL_KEY_FILE } from '../../store/index.js';
import { tempDir } from './helpers.js';

let temp: ReturnType<typeof tempDir>;
let keysDir: string;
let store: Store | undefined;

beforeEach(() => {
  temp = tempDir();
  keysDir = path.join(temp.dir, 'keys');
});
afterEach(async () => {
  await store?.close();
  store = undefined;
  temp.remove();
});

function version(name: string, v: string, main: string): TemplateVersionInput {
  return {
    name, version: v, digest: `${name}-${v}-${main.length}`.padEnd(64, '0'), manifest: { name, version: v, entry: 'main.ts' },
    sources: { 'main.ts': `hash-of-${main}` }, bundle: `bundle(${main})`, manifestFile: JSON.stringify({ name, version: v, entry: 'main.ts' }),
    sourceFiles: { 'main.ts': Buffer.from(main).toString('base64') },
  };
}

function open(): Store {
  store = openStore({ path: temp.db, auditAnchorDir: keysDir });
  return store;
}

/** A second connection, as someone with write access to the database file only. */
function withDb(work: (db: Database.Database) => void): void {
  const db = new Database(temp.db);
  try {
    work(db);
  } finally {
    db.close();
  }
}

function refused(fn: () => unknown, fragment: string): void {
  expect(fn).toThrow(expect.objectContaining({ code: 'E_TRUST_STATE', message: expect.stringContaining(fragment) }));
}

describe('sealed template version rows', () => {
  it('writes every row sealed with a key of its own in the keys folder, and reads it back', () => {
    const s = open();
    s.versions.record(version('hello', '1.0.0', 'v1'));
    s.versions.record({ ...version('hello', '1.0.0', 'v1'), signature: { keyId: 'k' } });
    expect(s.versions.get('hello', '1.0.0')).toMatchObject({ version: '1.0.0', signature: { keyId: 'k' } });
    expect(s.versions.list('hello')).toEqual([expect.not.objectContaining({ unsealed: true })]);
    expect(readFileSync(path.join(keysDir, VERSION_SEAL_KEY_FILE), 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
    withDb((db) => expect(db.prepare('SELECT seal FROM template_versions').get()).toEqual({ seal: expect.stringMatching(/^[0-9a-f]{64}$/) }));
  });

  it('refuses a row inserted with SQLite, naming the template and version and what to do; lists it as unsealed', () => {
    open().versions.record(version('hello', '1.0.0', 'v1'));
    withDb((db) => {
      db.prepare('INSERT INTO template_versions (name, version, digest, manifest, sources, bundle, signature, recorded_at, manifest_file, source_files) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)')
        .run('hello', '0.9.0', 'f'.repeat(64), '{"name":"hello","version":"0.9.0"}', '{"main.ts":"x"}', 'evil()', Date.now() + 1000, '{}', '{"main.ts":"ZXZpbA=="}');
    });
    const s = store as Store;
    refused(() => s.versions.get('hello', '0.9.0'), 'version 0.9.0 of "hello" in the store');
    refused(() => s.versions.byDigest('hello', 'f'.repeat(64)), 'it has no seal');
    refused(() => s.versions.get('hello', '0.9.0'), 'af sign hello');
    expect(s.versions.get('hello', '0.9.0', { unsealed: 'skip' })).toBeUndefined();
    expect(s.versions.list('hello').map((v) => [v.version, v.unsealed ?? false])).toEqual([['1.0.0', false], ['0.9.0', true]]);
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
    it(`refuses a sealed row whose ${column} was edited`, () => {
      open().versions.record(version('hello', '1.0.0', 'v1'));
      withDb((db) => expect(db.prepare(`UPDATE template_versions SET ${column} = ?`).run(value).changes).toBe(1));
      const digest = column === 'digest' ? 'e'.repeat(64) : version('hello', '1.0.0', 'v1').digest;
      refused(() => (store as Store).versions.get('hello', '1.0.0'), 'its seal does not match its content');
      refused(() => (store as Store).versions.byDigest('hello', digest), 'version 1.0.0 of "hello"');
    });
  }

  it('refuses sealed rows whose source files were swapped, and a sealed row replayed under another name or version', () => {
    const s = open();
    s.versions.record(version('hello', '1.0.0', 'one'));
    s.versions.record(version('hello', '1.1.0', 'two!'));
    s.versions.record(version('other', '1.0.0', 'other'));
    withDb((db) => {
      const rows = db.prepare("SELECT version, source_files, seal FROM template_versions WHERE name = 'hello'").all() as Array<{ version: string; source_files: string; seal: string }>;
      const swap = db.prepare("UPDATE template_versions SET source_files = ? WHERE name = 'hello' AND version = ?");
      swap.run(rows[1]!.source_files, rows[0]!.version);
      swap.run(rows[0]!.source_files, rows[1]!.version);
      // Replay: the whole sealed row of "other" copied as a version of "hello", and again as another version of "other".
      db.exec("INSERT INTO template_versions SELECT 'hello', '3.0.0', digest, manifest, sources, bundle, signature, recorded_at, manifest_file, source_files, seal FROM template_versions WHERE name = 'other'");
      db.exec("INSERT INTO template_versions SELECT name, '4.0.0', digest || 'x', manifest, sources, bundle, signature, recorded_at, manifest_file, source_files, seal FROM template_versions WHERE name = 'other'");
    });
    refused(() => s.versions.get('hello', '1.0.0'), 'its seal does not match');
    refused(() => s.versions.get('hello', '1.1.0'), 'its seal does not match');
    refused(() => s.versions.get('hello', '3.0.0'), 'version 3.0.0 of "hello"');
    refused(() => s.versions.get('other', '4.0.0'), 'version 4.0.0 of "other"');
    expect(s.versions.get('other', '1.0.0')?.bundle).toBe('bundle(other)');
  });

  it('a forged row never displaces a sealed one of the same version, and recording a digest again replaces a forged row instead of merging into it', () => {
    const s = open();
    s.versions.record({ ...version('hello', '1.0.0', 'v1'), signature: { keyId: 'k' } });
    const forged = version('hello', '1.0.0', 'evil-evil');
    withDb((db) => {
      // Newer, and "signed": the lookup would prefer it if it were believed.
      db.prepare('INSERT INTO template_versions (name, version, digest, manifest, sources, bundle, signature, recorded_at, manifest_file, source_files) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run('hello', '1.0.0', forged.digest, JSON.stringify(forged.manifest), JSON.stringify(forged.sources), 'evil()', '{"keyId":"k"}', Date.now() + 10_000, forged.manifestFile, JSON.stringify(forged.sourceFiles));
      // A forged row under a digest that is recorded legitimately later, carrying files a merge would keep.
      db.prepare('INSERT INTO template_versions (name, version, digest, manifest, sources, bundle, signature, recorded_at, manifest_file, source_files) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, NULL, ?)')
        .run('hello', '2.0.0', version('hello', '2.0.0', 'v2').digest, '{}', '{}', 'evil()', 1, '{"main.ts":"ZXZpbA=="}');
    });
    expect(s.versions.get('hello', '1.0.0')?.bundle).toBe('bundle(v1)');
    s.versions.record(version('hello', '2.0.0', 'v2'));
    expect(s.versions.get('hello', '2.0.0')).toMatchObject({ bundle: 'bundle(v2)', sourceFiles: { 'main.ts': Buffer.from('v2').toString('base64') } });
  });

  it('a process that cannot use the key only adds unsealed rows (refused), and never changes a sealed one', async () => {
    open().versions.record(version('hello', '1.0.0', 'v1'));
    await (store as Store).close();
    // Standing in for a key this process may not read (tests run as root here, which reads any file).
    const keyFile = path.join(keysDir, VERSION_SEAL_KEY_FILE);
    const key = readFileSync(keyFile);
    writeFileSync(keyFile, 'not a key\n');
    const s = open();
    s.versions.record({ ...version('hello', '1.0.0', 'v1'), signature: { keyId: 'k' } });
    s.versions.record(version('hello', '1.1.0', 'v2'));
    refused(() => s.versions.get('hello', '1.0.0'), 'the seal key cannot be read');
    writeFileSync(keyFile, key);
    withDb((db) => expect(db.prepare('SELECT version, signature, seal IS NULL AS unsealed FROM template_versions ORDER BY version').all()).toEqual([
      { version: '1.0.0', signature: null, unsealed: 0 },
      { version: '1.1.0', signature: null, unsealed: 1 },
    ]));
    expect(s.versions.get('hello', '1.0.0')?.bundle).toBe('bundle(v1)');
    refused(() => s.versions.get('hello', '1.1.0'), 'it has no seal');
  });

  it('a database from before the seal (schema 6) opens: its rows are unsealed and refused until vouched for or recorded again', async () => {
    const s = open();
    s.versions.record(version('hello', '1.0.0', 'v1'));
    s.versions.record({ ...version('hello', '1.1.0', 'v2'), signature: { keyId: 'k' } });
    await s.close();
    withDb((db) => {
      // As schema 6 left it: no seal column, and the runs column not yet renamed (migration 8).
      db.exec('ALTER TABLE template_versions DROP COLUMN seal');
      db.exec('ALTER TABLE runs RENAME COLUMN heap_used_at_end_bytes TO heap_peak_bytes');
      // Nor the columns of migration 9.
      for (const column of ['heap_growth_bytes', 'censored_by', 'limits']) db.exec(`ALTER TABLE runs DROP COLUMN ${column}`);
      db.pragma('user_version = 6');
    });
    const reopened = open();
    expect(reopened.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    refused(() => reopened.versions.get('hello', '1.0.0'), 'recorded before version rows were sealed');
    // Only what the caller vouches for is sealed (a trusted signature: templates/stored-version), as it is.
    expect(reopened.versions.sealVouched(() => (v) => v.version === '1.1.0')).toBe(1);
    expect(reopened.versions.get('hello', '1.1.0')?.bundle).toBe('bundle(v2)');
    // Unsigned rows are not even offered for vouching; recorded again from the files, they are sealed.
    expect(reopened.versions.sealVouched(() => () => true)).toBe(0);
    refused(() => reopened.versions.get('hello', '1.0.0'), 'it has no seal');
    reopened.versions.record(version('hello', '1.0.0', 'v1'));
    expect(reopened.versions.get('hello', '1.0.0')?.bundle).toBe('bundle(v1)');
  });

  it('a store opened without a keys folder (scratch) neither seals nor checks', () => {
    store = openStore({ path: temp.db });
    store.versions.record(version('hello', '1.0.0', 'v1'));
    expect(store.versions.get('hello', '1.0.0')).toBeDefined();
    expect(existsSync(keysDir)).toBe(false);
  });
});
