// Crash safety and concurrent writers on real files and real processes.
import { spawn, execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../store/index.js';
import { tempDir } from './helpers.js';

const CHILDREN = path.resolve(import.meta.dirname, 'children');
const run = promisify(execFile);
let temp: ReturnType<typeof tempDir>;
afterEach(() => temp.remove());

describe('crash safety', () => {
  it('loses at most one batch when the writer is killed with SIGKILL mid-write, and the file stays sound', async () => {
    temp = tempDir();
    const batchSize = 500;
    const child = spawn(process.execPath, [path.join(CHILDREN, 'writer.mjs'), temp.db, String(batchSize)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let lastIssued = 0;
    let buffer = '';
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        for (const line of lines) lastIssued = Number(line.split(' ')[1]);
        // Kill in the middle of heavy writing, once several batches are in.
        if (lastIssued >= 20_000) resolve();
      });
    });
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));

    const db = new Database(temp.db);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    const { n } = db.prepare('SELECT count(*) AS n FROM runs').get() as { n: number };
    const ids = db.prepare('SELECT id FROM runs ORDER BY id').all() as Array<{ id: string }>;
    db.close();
    // Batches commit in order: what is there is exactly the first n records issued.
    expect(ids.map((row) => row.id)).toEqual(Array.from({ length: n }, (_, i) => `run-${String(i).padStart(8, '0')}`));
    // At most one batch plus the tick in progress (100 records, issued after the last line we read) was lost.
    expect(n).toBeGreaterThan(0);
    expect(lastIssued + 100 - n).toBeLessThanOrEqual(batchSize + 100);
  });
});

describe('concurrent writers', () => {
  it('four processes write one database at once: no SQLITE_BUSY reaches them and nothing is lost', async () => {
    temp = tempDir();
    openStore({ path: temp.db }).db.close();
    const perProcess = 5000;
    const results = await Promise.all(
      ['p1', 'p2', 'p3', 'p4'].map((name) => run(process.execPath, [path.join(CHILDREN, 'concurrent.mjs'), temp.db, name, String(perProcess)]).then(({ stdout }) => JSON.parse(stdout))),
    );
    expect(results.map((r) => [r.written, r.dropped])).toEqual([[perProcess, 0], [perProcess, 0], [perProcess, 0], [perProcess, 0]]);
    const store = openStore({ path: temp.db });
    try {
      expect(store.queries.count()).toBe(4 * perProcess);
      expect(store.kv.list({ template: 'shared', tenant: 't' }, { limit: 10_000 })).toHaveLength(4 * (perProcess / 50));
      expect(store.audit.verify()).toMatchObject({ ok: true, entries: 4 * (perProcess / 50) });
      expect(store.integrityProblems()).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
