// Finding 7: the audit log could be cut short undetected (delete the last entries and the `audit_head` row), and an
// entry whose data was no longer JSON made `af audit-log verify` crash with E_INTERNAL. Now the head is anchored in a
// keyed checkpoint in the keys folder, outside the database, and verify names the first bad entry for every kind of
// damage. Real project folders, real SQLite files edited through a second connection (as someone with the file would),
// the real `af` command in-process, real child processes for concurrent appends.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApiServer } from '../../api/index.js';
import { runAf } from '../helpers/cli.js';
import { resolveConfig } from '../../core/config.js';
import { createFactory } from '../../runtime/index.js';
import { entryHash, GENESIS_HASH, INSTALLATION_TENANT, openStore } from '../../store/index.js';
import { createProject, type TempProject } from '../helpers/project.js';

const CHILDREN = path.resolve(import.meta.dirname, 'children');

let project: TempProject;
let config: ReturnType<typeof resolveConfig>;

beforeEach(() => {
  project = createProject();
  config = resolveConfig({ root: project.root, processEnv: {} });
});
afterEach(() => project.remove());

async function af(...args: string[]) {
  return runAf(project.root, args);
}

interface Verdict {
  ok: boolean;
  entries: number;
  firstBad?: { seq: number; kind: string; message: string };
  anchor?: { seq: number; since: number; unanchored: number; created: boolean } | null;
}

/** `af audit-log verify --json`: the exit status and the verdict it printed. */
async function verify(): Promise<{ status: number; verdict: Verdict; stderr: string }> {
  const result = await af('audit-log', 'verify', '--json');
  return { status: result.status, verdict: JSON.parse(result.stdout) as Verdict, stderr: result.stderr };
}

/** Appends through the project's store, opened as `af` opens it. */
async function append(count: number, from = 1): Promise<void> {
  const store = openStore({ path: config.dbPath, auditAnchorDir: config.keysDir });
  try {
    for (let i = from; i < from + count; i++) store.audit.append({ type: i % 2 ? 'key.created' : 'policy.denied', actor: 'cli', subject: `s${i}`, data: { i } });
  } finally {
    await store.close();
  }
}

/** Edits the database through a second connection, as someone with write access to `.af/` would. */
function tamper(sql: string): void {
  const db = new Database(config.dbPath);
  db.exec(sql);
  db.close();
}

/** The audit table rebuilt without its constraints, so NULLs, other types and duplicate numbers can be written. */
const LOOSEN = `ALTER TABLE audit RENAME TO audit_strict; CREATE TABLE audit (seq, at, type, actor, subject, data, prev_hash, hash);
  INSERT INTO audit SELECT * FROM audit_strict; DROP TABLE audit_strict;`;

const anchorFile = () => path.join(config.keysDir, 'audit-anchor.json');

describe('finding 7: entries cut from the end', () => {
  beforeEach(() => append(10));

  it('deleting the last entries and the audit_head row fails verify, naming the truncation and the anchored entry', async () => {
    tamper('DELETE FROM audit WHERE seq >= 9; DELETE FROM audit_head;');
    const { status, verdict, stderr } = await verify();
    expect(status).toBe(3);
    expect(verdict).toMatchObject({ ok: false, entries: 8, firstBad: { seq: 9, kind: 'truncated' } });
    expect(verdict.firstBad?.message).toMatch(/^entries after #8 are missing: the anchor \(written .*\) says the log reached entry #10$/);
    expect(stderr).toBe('');
    const text = await af('audit-log', 'verify');
    expect(text.status).toBe(3);
    expect(text.stdout).toContain('✗ audit log broken at entry #9 (truncated): entries after #8 are missing');
  });

  it('deleting every entry and the head row fails verify at entry #1', async () => {
    tamper('DELETE FROM audit; DELETE FROM audit_head;');
    const { status, verdict } = await verify();
    expect(status).toBe(3);
    expect(verdict).toMatchObject({ ok: false, entries: 0, firstBad: { seq: 1, kind: 'truncated', message: expect.stringContaining('entries after #0 are missing') } });
  });

  it('cutting only the last entry (and the head row) is caught, with a hint for the case of a killed writer', async () => {
    tamper('DELETE FROM audit WHERE seq = 10; DELETE FROM audit_head;');
    const { status, verdict } = await verify();
    expect(status).toBe(3);
    expect(verdict.firstBad).toMatchObject({ seq: 10, kind: 'truncated' });
    expect(verdict.firstBad?.message).toContain('a process killed while appending it would leave the same trace (entry #10 never committed): if you know why, `af audit-log reanchor');
  });

  it('appends after the cut do not launder it: the anchor stays on the entry it vouched for', async () => {
    tamper('DELETE FROM audit WHERE seq >= 9; DELETE FROM audit_head;');
    await append(3, 100);
    const { status, verdict } = await verify();
    expect(status).toBe(3);
    expect(verdict).toMatchObject({ ok: false, entries: 11, firstBad: { seq: 10, kind: 'rewritten', message: 'entry #10 is not the entry the anchor vouches for: the log was rewritten at or before it' } });
  });

  it('a log rebuilt from scratch with a valid chain (and a matching head row) is caught', async () => {
    // Hash chains hold no secret: anyone can compute a fresh, internally valid one.
    let prev = GENESIS_HASH;
    const rows: string[] = [];
    for (let seq = 1; seq <= 12; seq++) {
      const entry = { seq, at: 1_700_000_000_000 + seq, type: 'forged', actor: 'x', subject: 'y', data: {}, prevHash: prev };
      const hash = entryHash(entry);
      rows.push(`(${seq}, ${entry.at}, 'forged', 'x', 'y', '{}', '${prev}', '${hash}')`);
      prev = hash;
    }
    tamper(`DELETE FROM audit; INSERT INTO audit VALUES ${rows.join(', ')}; UPDATE audit_head SET seq = 12, hash = '${prev}';`);
    const { status, verdict } = await verify();
    expect(status).toBe(3);
    expect(verdict).toMatchObject({ ok: false, entries: 12, firstBad: { seq: 10, kind: 'rewritten' } });
  });

  it('the anchor cannot be edited to match: a changed checkpoint fails its MAC', async () => {
    tamper('DELETE FROM audit WHERE seq >= 9; DELETE FROM audit_head;');
    const checkpoint = JSON.parse(readFileSync(anchorFile(), 'utf8')) as Record<string, unknown>;
    const db = new Database(config.dbPath);
    const eight = db.prepare('SELECT hash FROM audit WHERE seq = 8').get() as { hash: string };
    db.close();
    writeFileSync(anchorFile(), JSON.stringify({ ...checkpoint, seq: 8, hash: eight.hash }));
    const { status, verdict } = await verify();
    expect(status).toBe(3);
    expect(verdict.firstBad).toMatchObject({ seq: 1, kind: 'anchor-invalid', message: expect.stringContaining('its MAC does not match') });
  });

  it('a deleted anchor is reported, not silently recreated, by verify and by later appends', async () => {
    tamper('DELETE FROM audit WHERE seq >= 9; DELETE FROM audit_head;');
    rmSync(anchorFile());
    await append(1, 50);
    expect(existsSync(anchorFile())).toBe(false);
    const { status, verdict } = await verify();
    expect(status).toBe(3);
    expect(verdict.firstBad).toMatchObject({ kind: 'anchor-missing', message: expect.stringContaining('is missing while its key is there') });
  });

  it('a checkpoint whose key was deleted is not taken for a project that was never anchored', async () => {
    rmSync(path.join(config.keysDir, 'audit-anchor.key'));
    const { status, verdict } = await verify();
    expect(status).toBe(3);
    expect(verdict.firstBad).toMatchObject({ kind: 'anchor-invalid', message: expect.stringContaining('audit-anchor.key is missing') });
  });

  it('keeps the anchor and its key out of the database, readable and writable by the owner only', () => {
    expect(statSync(config.keysDir).mode & 0o777).toBe(0o700);
    expect(statSync(anchorFile()).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(config.keysDir, 'audit-anchor.key')).mode & 0o777).toBe(0o600);
    const key = readFileSync(path.join(config.keysDir, 'audit-anchor.key'), 'utf8').trim();
    expect(readFileSync(config.dbPath).includes(Buffer.from(key))).toBe(false);
  });
});

describe('finding 7: damaged entries are named, never a crash', () => {
  beforeEach(() => append(10));

  it('an entry whose data is no longer JSON: verify names it and exits 3, not E_INTERNAL', async () => {
    tamper(`UPDATE audit SET data = '{"i":4,' WHERE seq = 4`);
    const { status, verdict, stderr } = await verify();
    expect(status).toBe(3);
    expect(verdict).toEqual({ ok: false, entries: 3, firstBad: { seq: 4, kind: 'malformed', message: 'entry #4 was edited: its data is not valid JSON' } });
    expect(stderr).not.toContain('E_INTERNAL');
    const text = await af('audit-log', 'verify');
    expect(text.status).toBe(3);
    expect(text.stdout).toBe('✗ audit log broken at entry #4 (malformed): entry #4 was edited: its data is not valid JSON (3 entries before it are intact)\n');
  });

  it.each([
    ['data NULL', `UPDATE audit SET data = NULL WHERE seq = 3`, 'entry #3 was edited: its data is NULL, not JSON text'],
    ['data a JSON array', `UPDATE audit SET data = '[1,2]' WHERE seq = 3`, 'entry #3 was edited: its data is JSON but not an object (an array)'],
    ['data a blob', `UPDATE audit SET data = X'00ff' WHERE seq = 3`, 'entry #3 was edited: its data is a 2-byte blob, not JSON text'],
    ['data with a number JSON cannot hash', `UPDATE audit SET data = '{"i":1e999}' WHERE seq = 3`, 'entry #3 was edited: its data cannot be hashed (canonicalJson: Infinity has no JSON form)'],
    ['time as text', `UPDATE audit SET at = 'yesterday' WHERE seq = 3`, 'entry #3 was edited: its time is text of 9 characters, not a number'],
    ['actor NULL', `UPDATE audit SET actor = NULL WHERE seq = 3`, 'entry #3 was edited: its actor is NULL, not text'],
    ['hash NULL', `UPDATE audit SET hash = NULL WHERE seq = 3`, 'entry #3 was edited: its hash is NULL, not a SHA-256 hex digest'],
    ['number NULL', `UPDATE audit SET seq = NULL WHERE seq = 3`, 'the entry where #1 should be is numbered with NULL, not a whole number from 1'],
    ['number as text', `UPDATE audit SET seq = 'three' WHERE seq = 3`, 'entry #3 is missing (deleted)'],
  ])('%s', async (_what, sql, message) => {
    tamper(LOOSEN + sql);
    const { status, verdict, stderr } = await verify();
    expect(stderr).toBe('');
    expect(status).toBe(3);
    expect(verdict.firstBad?.message).toBe(message);
  });

  it.each([
    ['a deleted entry in the middle', 'DELETE FROM audit WHERE seq = 5', { seq: 5, kind: 'missing', message: 'entry #5 is missing (deleted)' }],
    ['several deleted entries', 'DELETE FROM audit WHERE seq BETWEEN 4 AND 6', { seq: 4, kind: 'missing', message: 'entries #4–#6 are missing (deleted)' }],
    [
      'two whole rows swapped',
      'UPDATE audit SET seq = -1 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = 4; UPDATE audit SET seq = 4 WHERE seq = -1;',
      { seq: 3, kind: 'edited', message: 'entry #3 was edited: its content does not match its hash' },
    ],
  ])('%s', async (_what, sql, firstBad) => {
    tamper(sql);
    const { status, verdict } = await verify();
    expect(status).toBe(3);
    expect(verdict.firstBad).toEqual(firstBad);
  });

  it('a duplicated entry is named as such', async () => {
    tamper(`${LOOSEN} INSERT INTO audit SELECT * FROM audit WHERE seq = 6;`);
    const { status, verdict } = await verify();
    expect(status).toBe(3);
    expect(verdict.firstBad).toEqual({ seq: 6, kind: 'duplicate', message: 'entry #6 appears more than once' });
  });

  it('a dropped audit table is reported as unreadable, not a crash', async () => {
    tamper('DROP TABLE audit;');
    const { status, verdict, stderr } = await verify();
    expect(stderr).toBe('');
    expect(status).toBe(3);
    expect(verdict.firstBad).toMatchObject({ seq: 1, kind: 'unreadable', message: expect.stringContaining('no such table: audit') });
  });

  it('data holding terminal escapes is never echoed: the message says what is wrong, not what is there', async () => {
    tamper(`UPDATE audit SET data = '{"x":"' || char(27) || ']0;owned' || char(7) || char(27) || '[2J' WHERE seq = 5`);
    const text = await af('audit-log', 'verify');
    expect(text.status).toBe(3);
    expect(text.stdout).toContain('entry #5 was edited: its data is not valid JSON');
    expect(text.stdout).not.toMatch(/[\u001b\u0007]/);
  });

  it('`af audit-log list` and `af store export` still work over a damaged entry and show it', async () => {
    tamper(`UPDATE audit SET data = 'not json' WHERE seq = 4`);
    const list = await af('audit-log', 'list', '--json');
    expect(list.status).toBe(0);
    const entries = JSON.parse(list.stdout) as Array<{ seq: number; data: Record<string, unknown> }>;
    expect(entries.find((entry) => entry.seq === 4)?.data).toEqual({ unreadable: 'not json' });
    const exported = await af('store', 'export', path.join(project.root, 'out.jsonl.zst'), '--json');
    expect(exported.status).toBe(0);
    expect(JSON.parse(exported.stdout)).toMatchObject({ audit: 10 });
  });

  it('GET /v1/audit lists a damaged entry (its data as text) instead of failing with E_INTERNAL', async () => {
    tamper(`UPDATE audit SET data = 'not json' WHERE seq = 2`);
    const store = openStore({ path: config.dbPath, auditAnchorDir: config.keysDir });
    const factory = await createFactory({ root: project.root, hosts: 1, store });
    const { key } = store.tenants.createApiKey(INSTALLATION_TENANT, 'admin', 'auditor');
    const app = createApiServer({ factory });
    try {
      const response = await app.inject({ url: '/v1/audit?limit=100', headers: { authorization: `Bearer ${key}` } });
      expect(response.statusCode).toBe(200);
      const { entries } = JSON.parse(response.body) as { entries: Array<{ seq: number; data: Record<string, unknown> }> };
      expect(entries.find((entry) => entry.seq === 2)?.data).toEqual({ unreadable: 'not json' });
    } finally {
      await app.close();
      await factory.close();
      await store.close();
    }
  });

  it('a deleted head row alone neither breaks appends (they went back to #1 and failed) nor the chain', async () => {
    tamper('DELETE FROM audit_head;');
    await append(2, 11);
    const { status, verdict } = await verify();
    expect(status).toBe(0);
    expect(verdict).toMatchObject({ ok: true, entries: 12, anchor: { seq: 12, since: 0, unanchored: 0, created: false } });
  });
});

describe('anchoring without false alarms', () => {
  it('a fresh project is anchored from its first entry by the first append, through the real CLI', async () => {
    expect((await af('keys', 'api', 'create', '--tenant', 't', '--role', 'viewer')).status).toBe(0);
    expect((await af('keys', 'api', 'create', '--tenant', 't', '--role', 'admin')).status).toBe(0);
    const { status, verdict } = await verify();
    expect(status).toBe(0);
    expect(verdict).toMatchObject({ ok: true, entries: 2, anchor: { seq: 2, since: 0, unanchored: 0, created: false } });
    tamper('DELETE FROM audit WHERE seq = 2; DELETE FROM audit_head;');
    expect((await verify()).verdict.firstBad).toMatchObject({ seq: 2, kind: 'truncated' });
  });

  it('a database from before anchors: the first verify anchors it as found, and truncation is caught from then on', async () => {
    // Written without an anchor folder, as versions before anchors did.
    const old = openStore({ path: config.dbPath });
    for (let i = 1; i <= 5; i++) old.audit.append({ type: 'old', subject: `s${i}` });
    await old.close();
    const first = await verify();
    expect(first.status).toBe(0);
    expect(first.verdict).toMatchObject({ ok: true, entries: 5, anchor: { seq: 5, since: 5, created: true } });
    expect((await af('audit-log', 'verify')).stdout).toContain('entries up to #5 were taken as found when the anchor was created');
    tamper('DELETE FROM audit WHERE seq = 5; DELETE FROM audit_head;');
    expect((await verify()).verdict.firstBad).toMatchObject({ seq: 5, kind: 'truncated' });
  });

  it('entries appended by a process without the anchor are reported unanchored, then taken in by the next append, which says so in the log', async () => {
    await append(3);
    const old = openStore({ path: config.dbPath });
    old.audit.append({ type: 'old', subject: 'x' });
    await old.close();
    expect((await verify()).verdict).toMatchObject({ ok: true, entries: 4, anchor: { seq: 3, unanchored: 1 } });
    await append(1, 5);
    expect((await verify()).verdict).toMatchObject({ ok: true, entries: 6, anchor: { seq: 6, unanchored: 0 } });
    const list = await af('audit-log', 'list', '--json');
    const entries = JSON.parse(list.stdout) as Array<{ seq: number; type: string; data: Record<string, unknown> }>;
    expect(entries.find((entry) => entry.seq === 5)).toMatchObject({ type: 'audit.unanchored', data: { from: 4, to: 4 } });
  });

  it('entries forged by someone who can write the database are never taken in silently', async () => {
    await append(3);
    // A valid chain continued by hand, as anyone with the database and the (public) hashing rule can.
    const db = new Database(config.dbPath);
    const last = db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string };
    const forged = { seq: last.seq + 1, at: Date.now(), type: 'key.revoked', actor: 'cli', subject: 'never-happened', data: { forged: true }, prevHash: last.hash };
    db.prepare('INSERT INTO audit (seq, at, type, actor, subject, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)').run(
      forged.seq, forged.at, forged.type, forged.actor, forged.subject, JSON.stringify(forged.data), forged.prevHash, entryHash(forged),
    );
    db.close();
    await append(1, 5);
    const list = await af('audit-log', 'list', '--json');
    const entries = JSON.parse(list.stdout) as Array<{ seq: number; type: string; data: Record<string, unknown> }>;
    expect(entries.find((entry) => entry.type === 'audit.unanchored')).toMatchObject({ seq: 5, data: { from: 4, to: 4 } });
  });

  it('an append inside a transaction that rolls back leaves the anchor where it was', async () => {
    await append(3);
    const before = readFileSync(anchorFile(), 'utf8');
    const store = openStore({ path: config.dbPath, auditAnchorDir: config.keysDir });
    expect(() =>
      store.db.transaction(() => {
        store.audit.append({ type: 'x', subject: 'rolled back' });
        throw new Error('caller failed');
      })(),
    ).toThrow('caller failed');
    await store.close();
    expect(readFileSync(anchorFile(), 'utf8')).toBe(before);
    expect((await verify()).verdict).toMatchObject({ ok: true, entries: 3 });
  });

  it('`af store restore` of an older backup re-anchors on purpose and records it in the log', async () => {
    await append(3);
    const backup = path.join(project.root, 'backup.db');
    expect((await af('store', 'backup', backup)).status).toBe(0);
    await append(4, 4);
    const restored = await af('store', 'restore', backup, '--json');
    expect(restored.status).toBe(0);
    expect(JSON.parse(restored.stdout)).toMatchObject({ reanchoredAt: 4 });
    expect((await verify()).verdict).toMatchObject({ ok: true, entries: 4, anchor: { seq: 4, since: 3 } });
    const [entry] = JSON.parse((await af('audit-log', 'list', '--json', '--limit', '1')).stdout) as Array<{ type: string; data: { reason: string; previous: { seq: number } } }>;
    expect(entry).toMatchObject({ type: 'audit.reanchored', data: { reason: `store restored from ${backup}`, previous: { seq: 7 } } });
  });

  it('`af audit-log reanchor` accepts a damaged anchor after a look, and needs a reason', async () => {
    await append(3);
    rmSync(anchorFile());
    expect((await verify()).status).toBe(3);
    expect((await af('audit-log', 'reanchor')).status).toBe(2);
    const done = await af('audit-log', 'reanchor', '--reason', 'anchor lost with a disk', '--json');
    expect(done.status).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ seq: 4, type: 'audit.reanchored', data: { previous: 'missing' } });
    expect((await verify()).verdict).toMatchObject({ ok: true, entries: 4, anchor: { seq: 4, since: 3 } });
  });

  it('four processes appending at once keep one chain and an anchor on its head', async () => {
    await append(1);
    const run = promisify(execFile);
    await Promise.all(['a', 'b', 'c', 'd'].map((name) => run(process.execPath, [path.join(CHILDREN, 'audit-appender.mjs'), config.dbPath, config.keysDir, name, '60'])));
    const { status, verdict } = await verify();
    expect(status).toBe(0);
    expect(verdict).toMatchObject({ ok: true, entries: 241, anchor: { seq: 241, unanchored: 0 } });
  }, 60_000);
});
