// The audit log's hash chain: intact, and every kind of tampering named at the first bad entry.
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../store/index.js';
import { tempDir } from './helpers.js';

let temp: ReturnType<typeof tempDir>;
let store: Store;

beforeEach(() => {
  temp = tempDir();
  store = openStore({ path: temp.db });
  for (let i = 1; i <= 10; i++) store.audit.append({ type: i % 2 ? 'key.created' : 'policy.denied', actor: 'cli', subject: `s${i}`, data: { i } });
});
afterEach(async () => {
  await store.close();
  temp.remove();
});

/** Tampers through a separate connection, as someone editing the file would. */
function tamper(sql: string): void {
  const db = new Database(temp.db);
  db.exec(sql);
  db.close();
}

describe('audit log', () => {
  it('chains every entry to the one before and verifies intact', () => {
    const entries = store.audit.list({ limit: 100 }).reverse();
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (let i = 1; i < entries.length; i++) expect(entries[i]?.prevHash).toBe(entries[i - 1]?.hash);
    expect(store.audit.verify()).toEqual({ ok: true, entries: 10, head: entries[9]?.hash, anchor: null });
    expect(store.audit.list({ type: 'policy.denied' })).toHaveLength(5);
  });

  it.each([
    ['an edited entry', "UPDATE audit SET data = '{\"i\":99}' WHERE seq = 4", { seq: 4, kind: 'edited', message: 'entry #4 was edited: its content does not match its hash' }],
    ['an edited actor', "UPDATE audit SET actor = 'someone-else' WHERE seq = 7", { seq: 7, kind: 'edited', message: 'entry #7 was edited: its content does not match its hash' }],
    ['a deleted entry', 'DELETE FROM audit WHERE seq = 5', { seq: 5, kind: 'missing', message: 'entry #5 is missing (deleted)' }],
    ['deleted entries at the end', 'DELETE FROM audit WHERE seq >= 9', { seq: 9, kind: 'truncated', message: 'entries after #8 are missing: the head row says entry #10 was written' }],
    [
      'two entries swapped',
      `UPDATE audit SET seq = -1 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = 4; UPDATE audit SET seq = 4 WHERE seq = -1;`,
      { seq: 3, kind: 'edited', message: 'entry #3 was edited: its content does not match its hash' },
    ],
  ])('names the first bad entry after %s', (_what, sql, firstBad) => {
    tamper(sql);
    const result = store.audit.verify();
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.firstBad).toEqual(firstBad);
  });

  it('catches a rewritten entry whose own hash was recomputed, at the entry after it', async () => {
    const { entryHash } = await import('../../store/index.js');
    const [six] = store.audit.list({ afterSeq: 5, limit: 100 }).reverse();
    const forged = { ...six!, subject: 'forged' };
    const hash = entryHash(forged);
    tamper(`UPDATE audit SET subject = 'forged', hash = '${hash}' WHERE seq = 6`);
    const result = store.audit.verify();
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.firstBad).toEqual({ seq: 7, kind: 'unlinked', message: 'entry #7 does not follow entry #6: the chain was reordered or rewritten' });
  });

  it('keeps one chain when two processes append at once', async () => {
    const other = openStore({ path: temp.db });
    for (let i = 0; i < 50; i++) {
      store.audit.append({ type: 'a', subject: 'one' });
      other.audit.append({ type: 'b', subject: 'two' });
    }
    await other.close();
    expect(store.audit.verify()).toMatchObject({ ok: true, entries: 110 });
  });
});
