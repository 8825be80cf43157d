// The RunSink contract (core/run-record): what an agent's run relies on when it hands its record over, run against every
// implementation (test/contracts/implementations).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../core/run-record.js';
import { runRecord } from '../store/helpers.js';
import { RUN_SINKS, type RunSinkFixture } from './implementations.js';

describe.each(RUN_SINKS)('RunSink: $name', ({ open }) => {
  let fixture: RunSinkFixture;
  beforeEach(async () => {
    fixture = await open();
  });
  afterEach(() => fixture.close());

  it('takes a record without waiting (write returns nothing), and after flush holds every field of every record, in order', async () => {
    const records: RunRecord[] = [
      runRecord(3),
      runRecord(1, { outcome: 'error', errorCode: 'E_TIMEOUT', denials: [{ permission: 'net', target: 'x:1' }], grantsUsed: ['env:LOG_LEVEL', 'kv'], parentId: 'parent', depth: 2 }),
      runRecord(2, { grantsUsed: [], tools: {}, inputShape: { depth: 2, maxArrayLength: 4, maxStringLength: 9, topLevelKeys: 2, lengths: { items: 4 } } }),
      // The per-run memory figure and the limits the run ran under (with the input measure a byInput rule used)...
      runRecord(4, { heapGrowthBytes: 786_432, limits: { cpuMs: 120, timeoutMs: 900, memoryMb: 64, measure: { name: '/items', value: 4096 } } }),
      // ...and a run a limit stopped: censored by it, with no memory figure (absent, never 0).
      runRecord(5, { outcome: 'error', errorCode: 'E_CPU_LIMIT', censoredBy: 'cpuMs', limits: { cpuMs: 50, timeoutMs: 5000, memoryMb: 128 } }),
    ];
    for (const record of records) expect(fixture.sink.write(record)).toBeUndefined();
    await fixture.sink.flush();
    expect(await fixture.readBack()).toEqual(records);
  });

  it('flushes with nothing written, and makes what was written durable on close', async () => {
    await fixture.sink.flush();
    expect(await fixture.readBack()).toEqual([]);
    const records = Array.from({ length: 25 }, (_, i) => runRecord(i));
    for (const record of records) fixture.sink.write(record);
    await fixture.sink.close();
    expect(await fixture.readBack()).toEqual(records);
  });
});
