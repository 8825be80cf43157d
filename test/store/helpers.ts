// Shared helpers for store tests: temp database folders and run records.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RunRecord } from '../../core/run-record.js';

export function tempDir(): { dir: string; db: string; remove(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'af-store-'));
  return { dir, db: path.join(dir, 'factory.db'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function runRecord(n: number, overrides: Partial<RunRecord> = {}): RunRecord {
  return {
    id: `run-${String(n).padStart(8, '0')}`,
    template: 'hello',
    version: '1.0.0',
    digest: 'd'.repeat(64),
    env: 'dev',
    tenant: 'default',
    startedAt: 1_700_000_000_000 + n,
    createMs: 0.1,
    runMs: 1 + (n % 10),
    cpuMs: 0.5,
    heapUsedAtEndBytes: 1_000_000 + n,
    inputBytes: 20,
    outputBytes: 30,
    outcome: 'ok',
    tools: { kv: 2 },
    denials: [],
    logsDropped: 0,
    depth: 0,
    inputShape: { depth: 1, maxArrayLength: 0, maxStringLength: 3, topLevelKeys: 1 },
    ...overrides,
  };
}
