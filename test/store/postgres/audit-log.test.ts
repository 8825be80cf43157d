// The PostgreSQL audit log: one chain per tenant plus a system chain, appended under per-chain advisory locks by
// several nodes at once, every kind of tampering named at the first bad place, and the anchor over all chain heads.
// Real PostgreSQL; tampering goes through a separate connection, as someone with write access to the database would.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../../core/clock.js';
import { entryHash } from '../../../store/audit-log.js';
import { PgAuditLog, SYSTEM_CHAIN } from '../../../store/postgres/audit-log.js';
import { CHAIN_ANCHOR_FILE } from '../../../store/postgres/chain-anchor.js';
import type { PgDatabase } from '../../../store/postgres/connection.js';
import { pgFixture, type PgFixture } from './pg-fixture.js';

const T0 = 1_700_000_000_000;

let pg: PgFixture;
let keys: string;
let clock: ReturnType<typeof createManualClock>;
beforeEach(async () => {
  pg = await pgFixture();
  keys = mkdtempSync(path.join(os.tmpdir(), 'af-pg-keys-'));
  clock = createManualClock(T0);
});
afterEach(async () => {
  await pg.close();
  rmSync(keys, { recursive: true, force: true });
});

/** An audit log on its own connection pool: another node. */
function node(options: { anchored?: boolean } = {}): PgAuditLog {
  return new PgAuditLog(pg.node(), clock, options.anchored ? { anchorDir: keys } : {});
}

/** Edits the database through another connection. */
async function tamper(sql: string, values: unknown[] = []): Promise<void> {
  await pg.node().query(sql, values);
}

async function chainRows(db: PgDatabase, chain: string): Promise<Array<{ seq: number; chain_seq: number; prev_hash: string; hash: string }>> {
  return db.rows('SELECT seq, chain_seq, prev_hash, hash FROM audit WHERE chain = $1 ORDER BY chain_seq', [chain]);
}

describe('appending', () => {
  it('chains entries per tenant and in the system chain, lists them by the log’s number newest first, and verifies', async () => {
    const audit = new PgAuditLog(pg.db, clock);
    await audit.append({ type: 'key.created', subject: 'k1', data: { name: 'signer-1' } });
    clock.advance(5);
    await audit.append({ type: 'policy.denied', actor: 'api', subject: 'hello', tenant: 'acme' });
    await audit.append({ type: 'key.revoked', actor: 'cli', subject: 'k1', tenant: SYSTEM_CHAIN });
    await audit.append({ type: 'policy.denied', subject: 'hello', tenant: 'acme' });
    const entries = await audit.list();
    expect(entries.map((e) => [e.seq, e.type, e.subject, e.at])).toEqual([
      [4, 'policy.denied', 'hello', T0 + 5], [3, 'key.revoked', 'k1', T0 + 5], [2, 'policy.denied', 'hello', T0 + 5], [1, 'key.created', 'k1', T0],
    ]);
    // Each entry follows the one before in its own chain, and its hash covers what `list` shows.
    expect(entries[1]?.prevHash).toBe(entries[3]?.hash);
    expect(entries[0]?.prevHash).toBe(entries[2]?.hash);
    for (const entry of entries) expect(entryHash(entry)).toBe(entry.hash);
    expect(await chainRows(pg.db, 'acme')).toMatchObject([{ seq: 2, chain_seq: 1 }, { seq: 4, chain_seq: 2 }]);
    expect(await chainRows(pg.db, SYSTEM_CHAIN)).toMatchObject([{ seq: 1, chain_seq: 1 }, { seq: 3, chain_seq: 2 }]);
    expect((await audit.list({ type: 'policy.denied', limit: 1 })).map((e) => e.seq)).toEqual([4]);
    expect((await audit.list({ subject: 'k1', type: 'key.revoked' })).map((e) => e.seq)).toEqual([3]);
    expect((await audit.list({ afterSeq: 2 })).map((e) => e.seq)).toEqual([4, 3]);
    expect(await audit.verify()).toMatchObject({ ok: true, entries: 4, anchor: null });
  });

  it('gives the system chain SQLite’s genesis and head, so a log of system entries reads as SQLite’s', async () => {
    const audit = new PgAuditLog(pg.db, clock);
    const first = await audit.append({ type: 'a', subject: 'x' });
    const second = await audit.append({ type: 'b', subject: 'y' });
    expect(first.prevHash).toBe('0'.repeat(64));
    expect(await audit.verify()).toEqual({ ok: true, entries: 2, head: second.hash, anchor: null });
  });

  it('keeps one gapless chain when two nodes append 200 entries to the same tenant at once', async () => {
    const [one, two] = [node(), node()];
    await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? one : two).append({ type: 'run.denied', subject: `s${i}`, tenant: 'acme', data: { i } })));
    const rows = await chainRows(pg.db, 'acme');
    expect(rows.map((row) => row.chain_seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    for (let i = 1; i < rows.length; i++) expect(rows[i]?.prev_hash).toBe(rows[i - 1]?.hash);
    expect(await pg.db.row('SELECT chain_seq FROM audit_heads WHERE chain = $1', ['acme'])).toEqual({ chain_seq: 200 });
    expect(await one.verify()).toMatchObject({ ok: true, entries: 200 });
  });

  /** Whether `append` completes, or is seen waiting on an advisory lock first. */
  async function completesOrWaits(append: Promise<unknown>): Promise<'completed' | 'waiting'> {
    let isDone = false;
    const done = append.then(() => {
      isDone = true;
    });
    for (;;) {
      if (isDone) return 'completed';
      const row = await pg.db.row<{ n: number }>("SELECT count(*)::bigint AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted");
      if (row?.n === 1) return 'waiting';
      await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 5))]);
    }
  }

  it('does not make one tenant wait for another’s lock, while the same tenant waits for it', async () => {
    const holder = pg.node();
    const held = new PgAuditLog(holder, clock);
    const other = node();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const isHolding = new Promise<void>((resolve) => (entered = resolve));
    // acme's chain lock is held by an open transaction until `release`.
    const holding = holder.transaction(async () => {
      await held.append({ type: 'a', subject: 'held', tenant: 'acme' });
      entered();
      await released;
    });
    await isHolding;
    // Another tenant's append (and a system one) completes while acme's lock is held; had it waited for that lock,
    // PostgreSQL would show it waiting on an advisory lock first.
    expect(await completesOrWaits(other.append({ type: 'b', subject: 'free', tenant: 'globex' }))).toBe('completed');
    expect(await completesOrWaits(other.append({ type: 'c', subject: 'system' }))).toBe('completed');
    // An append to acme waits for the lock.
    const waiting = other.append({ type: 'd', subject: 'waits', tenant: 'acme' });
    expect(await completesOrWaits(waiting)).toBe('waiting');
    release();
    await holding;
    expect(await waiting).toMatchObject({ subject: 'waits' });
    expect((await chainRows(pg.db, 'acme')).map((row) => row.chain_seq)).toEqual([1, 2]);
    expect(await other.verify()).toMatchObject({ ok: true, entries: 4 });
  });

  it('rolls an entry back with the caller’s transaction, and the chain goes on without a gap', async () => {
    const audit = new PgAuditLog(pg.db, clock);
    await audit.append({ type: 'a', subject: 'x', tenant: 'acme' });
    await expect(pg.db.transaction(async () => {
      await audit.append({ type: 'b', subject: 'rolled back', tenant: 'acme' });
      throw new Error('the run failed');
    })).rejects.toThrow('the run failed');
    await audit.append({ type: 'c', subject: 'y', tenant: 'acme' });
    expect((await audit.list()).map((e) => e.subject)).toEqual(['y', 'x']);
    expect(await audit.verify()).toMatchObject({ ok: true, entries: 2 });
  });
});

describe('tampering', () => {
  let audit: PgAuditLog;
  beforeEach(async () => {
    audit = new PgAuditLog(pg.db, clock);
    // Ten entries in acme's chain, interleaved with five in the system chain.
    for (let i = 1; i <= 10; i++) {
      await audit.append({ type: 'policy.denied', actor: 'api', subject: `s${i}`, tenant: 'acme', data: { i } });
      if (i % 2 === 0) await audit.append({ type: 'key.created', subject: `k${i}` });
    }
  });

  async function firstBad(log: PgAuditLog = audit) {
    const result = await log.verify();
    expect(result.ok).toBe(false);
    return result.ok ? undefined : result.firstBad;
  }

  it.each([
    ["an edited entry's data", "UPDATE audit SET data = '{\"i\":99}' WHERE chain = 'acme' AND chain_seq = 4", { seq: 4, kind: 'edited', message: "entry #4 of tenant acme's chain (log entry 5) was edited: its content does not match its hash" }],
    ['an edited actor', "UPDATE audit SET actor = 'someone-else' WHERE chain = '*' AND chain_seq = 2", { seq: 2, kind: 'edited', message: 'entry #2 of the system chain (log entry 6) was edited: its content does not match its hash' }],
    ['an entry renumbered in the log', "ALTER TABLE audit ALTER COLUMN seq DROP IDENTITY; UPDATE audit SET seq = 1000 WHERE chain = 'acme' AND chain_seq = 3", { seq: 3, kind: 'edited', message: "entry #3 of tenant acme's chain (log entry 1000) was edited: its content does not match its hash" }],
    ['a deleted middle entry', "DELETE FROM audit WHERE chain = 'acme' AND chain_seq = 5", { seq: 5, kind: 'missing', message: "entry #5 of tenant acme's chain is missing (deleted): the chain resumes at #6 (log entry 8)" }],
    ['two entries swapped in their chain', "UPDATE audit SET chain_seq = -1 WHERE chain = 'acme' AND chain_seq = 3; UPDATE audit SET chain_seq = 3 WHERE chain = 'acme' AND chain_seq = 4; UPDATE audit SET chain_seq = 4 WHERE chain = 'acme' AND chain_seq = -1", { seq: 3, kind: 'unlinked', message: "entry #3 of tenant acme's chain (log entry 5) does not follow entry #2: the chain was reordered or rewritten" }],
    ['the last entries deleted (the head row kept)', "DELETE FROM audit WHERE chain = 'acme' AND chain_seq >= 9", { seq: 9, kind: 'truncated', message: "entries after #8 of tenant acme's chain are missing: the head row says entry #10 was written" }],
    ['a whole chain deleted (its head row kept)', "DELETE FROM audit WHERE chain = 'acme'", { seq: 1, kind: 'truncated', message: "entries after #0 of tenant acme's chain are missing: the head row says entry #10 was written" }],
    ['an entry moved to another chain', "UPDATE audit SET chain = 'globex', chain_seq = 1 WHERE chain = 'acme' AND chain_seq = 1", { seq: 1, kind: 'missing', message: "entry #1 of tenant acme's chain is missing (deleted): the chain resumes at #2 (log entry 2)" }],
    ['a data field that is no longer JSON', "UPDATE audit SET data = 'not json' WHERE chain = 'acme' AND chain_seq = 2", { seq: 2, kind: 'malformed', message: "entry #2 of tenant acme's chain (log entry 2) was edited: its data is not valid JSON" }],
  ])('names the first bad place after %s', async (_what, sql, expected) => {
    await tamper(sql);
    expect(await firstBad()).toEqual(expected);
  });

  it('names a chain whose first entry came from another chain as unlinked: each tenant chain starts from its own genesis', async () => {
    await tamper("DELETE FROM audit WHERE chain = 'acme' AND chain_seq > 1; DELETE FROM audit_heads WHERE chain = 'acme'; UPDATE audit SET chain = 'globex' WHERE chain = 'acme'");
    expect(await firstBad()).toEqual({ seq: 1, kind: 'unlinked', message: "entry #1 of tenant globex's chain (log entry 1) does not follow entry #0: the chain was reordered or rewritten" });
  });

  it('catches a rewritten entry whose own hash was recomputed, at the entry after it', async () => {
    const [six] = (await audit.list({ limit: 100 })).filter((e) => e.subject === 's6');
    const forged = { ...six!, subject: 'forged' };
    await tamper("UPDATE audit SET subject = 'forged', hash = $1 WHERE seq = $2", [entryHash(forged), six!.seq]);
    expect(await firstBad()).toEqual({ seq: 7, kind: 'unlinked', message: "entry #7 of tenant acme's chain (log entry 10) does not follow entry #6: the chain was reordered or rewritten" });
  });

  it('says the table cannot be read when it was dropped, and throws E_STORE when the database cannot be reached', async () => {
    await tamper('DROP TABLE audit');
    expect(await firstBad()).toMatchObject({ seq: 1, kind: 'unreadable', message: expect.stringContaining('relation "audit" does not exist') });
    const closed = pg.node();
    await closed.close();
    await expect(new PgAuditLog(closed, clock).verify()).rejects.toMatchObject({ code: 'E_STORE' });
  });
});

describe('the anchor over all chain heads', () => {
  const anchorFile = () => path.join(keys, CHAIN_ANCHOR_FILE);
  let audit: PgAuditLog;
  beforeEach(async () => {
    audit = node({ anchored: true });
    for (let i = 1; i <= 10; i++) {
      await audit.append({ type: 'policy.denied', subject: `s${i}`, tenant: i % 2 ? 'acme' : 'globex', data: { i } });
      await audit.append({ type: 'key.created', subject: `k${i}` });
    }
  });

  async function verdict(log: PgAuditLog = audit) {
    return log.verify();
  }

  it('vouches for every chain’s head after each append, and verifies intact', async () => {
    const checkpoint = JSON.parse(readFileSync(anchorFile(), 'utf8')) as { heads: unknown[] };
    expect(checkpoint.heads).toEqual([
      ['*', 10, 20, expect.any(String)], ['acme', 5, 17, expect.any(String)], ['globex', 5, 19, expect.any(String)],
    ]);
    expect(await verdict()).toMatchObject({ ok: true, entries: 20, anchor: { seq: 20, since: 1, unanchored: 0, created: false } });
  });

  it('catches the last entries of a chain deleted together with its head row, naming the truncation', async () => {
    await tamper("DELETE FROM audit WHERE chain = 'globex' AND chain_seq >= 4; DELETE FROM audit_heads WHERE chain = 'globex'");
    const result = await verdict();
    expect(result).toMatchObject({ ok: false, entries: 18, firstBad: { seq: 4, kind: 'truncated' } });
    if (!result.ok) expect(result.firstBad.message).toMatch(/^entries after #3 of tenant globex's chain are missing: the anchor \(written .*\) says it reached entry #5$/);
  });

  it('catches a whole chain deleted with its head row', async () => {
    await tamper("DELETE FROM audit WHERE chain = 'acme'; DELETE FROM audit_heads WHERE chain = 'acme'");
    expect(await verdict()).toMatchObject({ ok: false, firstBad: { seq: 1, kind: 'truncated', message: expect.stringContaining("entries after #0 of tenant acme's chain are missing: the anchor") } });
  });

  it('appends after the cut do not launder it: the anchor stays on the head it vouched for, and the chain reads as rewritten', async () => {
    await tamper("DELETE FROM audit WHERE chain = 'acme' AND chain_seq >= 4; DELETE FROM audit_heads WHERE chain = 'acme'");
    for (let i = 0; i < 3; i++) await audit.append({ type: 'after', subject: `a${i}`, tenant: 'acme' });
    expect(await verdict()).toMatchObject({ ok: false, firstBad: { seq: 5, kind: 'rewritten', message: "entry #5 of tenant acme's chain is not the entry the anchor vouches for: the chain was rewritten at or before it" } });
  });

  it('counts entries another node appended without the anchor as unanchored, and takes them in at this node’s next append', async () => {
    const keyless = node();
    await keyless.append({ type: 'x', subject: 'y', tenant: 'initech' });
    await keyless.append({ type: 'x', subject: 'z', tenant: 'acme' });
    expect(await verdict()).toMatchObject({ ok: true, entries: 22, anchor: { unanchored: 2 } });
    await audit.append({ type: 'x', subject: 'w' });
    expect(await verdict()).toMatchObject({ ok: true, entries: 23, anchor: { seq: 23, unanchored: 0 } });
  });

  it('leaves the anchor alone for entries appended inside a caller’s transaction, until anchorHeads takes them in', async () => {
    const inside = new PgAuditLog(pg.db, clock, { anchorDir: keys });
    await pg.db.transaction(async () => {
      await inside.append({ type: 'run.completed', subject: 'r1', tenant: 'acme' });
      await inside.append({ type: 'run.completed', subject: 'r2', tenant: 'globex' });
    });
    expect(await verdict()).toMatchObject({ ok: true, entries: 22, anchor: { unanchored: 2 } });
    await expect(pg.db.transaction(() => inside.anchorHeads())).rejects.toMatchObject({ code: 'E_USAGE' });
    expect(await inside.anchorHeads()).toBe(true);
    expect(await verdict()).toMatchObject({ ok: true, entries: 22, anchor: { seq: 22, unanchored: 0 } });
    expect(await node().anchorHeads()).toBe(false);
  });

  it('refuses an edited checkpoint (its MAC), and reports a deleted one instead of recreating it', async () => {
    const checkpoint = JSON.parse(readFileSync(anchorFile(), 'utf8')) as { heads: Array<[string, number, number, string]> };
    checkpoint.heads = checkpoint.heads.filter(([chain]) => chain !== 'acme');
    writeFileSync(anchorFile(), JSON.stringify(checkpoint));
    expect(await verdict()).toMatchObject({ ok: false, firstBad: { seq: 1, kind: 'anchor-invalid', message: expect.stringContaining('its MAC does not match') } });
    rmSync(anchorFile());
    await audit.append({ type: 'x', subject: 'y' });
    expect(await verdict()).toMatchObject({ ok: false, firstBad: { seq: 1, kind: 'anchor-missing', message: expect.stringContaining('is missing while its key is there') } });
  });

  it('creates the anchor at the first verify of a log that has none, then catches a later cut', async () => {
    const plain = node();
    await plain.append({ type: 'x', subject: 'y', tenant: 'acme' });
    rmSync(keys, { recursive: true, force: true });
    const fresh = node({ anchored: true });
    expect(await fresh.verify()).toMatchObject({ ok: true, entries: 21, anchor: { created: true, unanchored: 0, since: 21 } });
    await tamper("DELETE FROM audit WHERE chain = 'acme' AND chain_seq = 6; DELETE FROM audit_heads WHERE chain = 'acme'");
    expect(await fresh.verify()).toMatchObject({ ok: false, firstBad: { seq: 6, kind: 'truncated' } });
  });

  it('reanchor accepts the log as it is, saying why in the system chain; refuses without a folder or inside a transaction', async () => {
    await tamper("DELETE FROM audit WHERE chain = 'acme' AND chain_seq >= 4; DELETE FROM audit WHERE chain = 'globex' AND chain_seq = 5");
    expect((await verdict()).ok).toBe(false);
    const entry = await audit.reanchor({ reason: 'restored from backup', actor: 'ada' });
    expect(entry).toMatchObject({ type: 'audit.reanchored', actor: 'ada', subject: 'audit-log', data: { reason: 'restored from backup', previous: { seq: 20, chains: 3 } } });
    expect(await verdict()).toMatchObject({ ok: true, entries: 18, anchor: { seq: entry.seq, since: entry.seq, unanchored: 0 } });
    await expect(node().reanchor({ reason: 'x' })).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(pg.db.transaction(() => new PgAuditLog(pg.db, clock, { anchorDir: keys }).reanchor({ reason: 'x' }))).rejects.toMatchObject({ code: 'E_USAGE', message: 'reanchor the audit log outside any open transaction' });
  });
});
