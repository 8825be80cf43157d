// A real sandbox host process, driven over its IPC channel as the supervisor drives it: what it writes per run.
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forkHost, hostForkPlan, locateHostEntry } from '../../sandbox/prestarted-host.js';
import type { FromHost, ToHost } from '../../sandbox/protocol.js';
import { makeSpec } from './helpers.js';

describe('sandbox host messages', () => {
  let child: ChildProcess;
  const received: FromHost[] = [];
  let waiters: Array<() => void> = [];
  const send = (message: ToHost) => child.send(message);
  const until = async (check: () => boolean): Promise<void> => {
    while (!check()) await new Promise<void>((resolve) => waiters.push(resolve));
  };

  beforeAll(() => {
    // Lockdown off: this test is about the protocol, and the layers are tested with the supervisor that applies them.
    child = forkHost(hostForkPlan(locateHostEntry(), 0, 'off', []));
    child.on('message', (message: FromHost) => {
      if (message.t === 'batch') received.push(...message.m);
      else received.push(message);
      const woken = waiters;
      waiters = [];
      for (const wake of woken) wake();
    });
  });
  afterAll(async () => {
    const closed = new Promise((resolve) => child.once('close', resolve));
    send({ t: 'close' });
    await closed;
  });

  it('reports a template\'s ready contexts only when the count changed: a reused context given back after each run is not reported again', async () => {
    const spec = makeSpec({ name: 'echo-reused', source: 'export default (input) => input;', pool: { prewarm: 1, reuseContext: true } });
    send({ t: 'init', settings: { maxIsolatesPerPool: 1, isolateMaxRuns: 10_000, heapProbeEvery: 8, hostMemoryMb: 0 } });
    send({ t: 'register', spec });
    const reports = () => received.flatMap((m) => (m.t === 'capacity' && m.ready[spec.digest] !== undefined ? [m.ready[spec.digest] as number] : []));
    await until(() => reports().includes(1));
    for (let id = 1; id <= 20; id++) {
      send({ t: 'run', id, digest: spec.digest, input: JSON.stringify({ n: id }), tenant: 'acme', env: 'dev', depth: 0 });
      await until(() => received.some((m) => m.t === 'result' && m.id === id));
      const result = received.find((m) => m.t === 'result' && m.id === id) as Extract<FromHost, { t: 'result' }>;
      expect(result.result.outputJson).toBe(JSON.stringify({ n: id }));
    }
    // Let any coalesced report (it waits up to 2 ms for a write to ride on) go out.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const counts = reports();
    // What the supervisor relies on: the last count it was told is the count there is (one context, ready again).
    expect(counts.at(-1)).toBe(1);
    // And no report repeats the count before it: 20 runs, not 20 reports of "1".
    for (let i = 1; i < counts.length; i++) expect(counts[i], `report ${i} of ${JSON.stringify(counts)}`).not.toBe(counts[i - 1]);
  });
});
