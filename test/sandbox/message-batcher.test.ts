// The IPC outbox: one write per turn under load, and a message someone waits on (a tool call, its answer) written
// before the turn ends, sharing its write with whatever else is queued.
import { describe, expect, it } from 'vitest';
import { MessageBatcher } from '../../sandbox/message-batcher.js';

type M = { t: string; n?: number };

function outbox(beforeFlush?: () => M | undefined) {
  const writes: Array<M | { t: 'batch'; m: M[] }> = [];
  return { writes, batcher: new MessageBatcher<M>((message) => writes.push(message), beforeFlush) };
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('MessageBatcher', () => {
  it('writes the messages queued in one turn together, after the turn', async () => {
    const { writes, batcher } = outbox();
    batcher.push({ t: 'run', n: 1 });
    batcher.push({ t: 'run', n: 2 });
    await Promise.resolve();
    expect(writes).toEqual([]);
    await nextTurn();
    expect(writes).toEqual([{ t: 'batch', m: [{ t: 'run', n: 1 }, { t: 'run', n: 2 }] }]);
  });

  it('writes a message pushed with pushNow before the turn ends, with what was queued before it, in one write', async () => {
    const { writes, batcher } = outbox();
    batcher.push({ t: 'run', n: 1 });
    batcher.pushNow({ t: 'svc', n: 2 });
    batcher.pushNow({ t: 'svc', n: 3 });
    // A microtask later, not after the event loop's next poll: the host waiting on the answer is not held up.
    await Promise.resolve();
    expect(writes).toEqual([{ t: 'batch', m: [{ t: 'run', n: 1 }, { t: 'svc', n: 2 }, { t: 'svc', n: 3 }] }]);
    // The turn's own flush finds nothing left: no empty or duplicate write.
    await nextTurn();
    expect(writes).toHaveLength(1);
  });

  it('adds the summary of beforeFlush to each write, and writes nothing when both are empty', async () => {
    let summary: M | undefined = { t: 'capacity', n: 4 };
    const { writes, batcher } = outbox(() => {
      const out = summary;
      summary = undefined;
      return out;
    });
    batcher.pushNow({ t: 'result', n: 1 });
    await Promise.resolve();
    expect(writes).toEqual([{ t: 'batch', m: [{ t: 'result', n: 1 }, { t: 'capacity', n: 4 }] }]);
    batcher.schedule();
    await nextTurn();
    expect(writes).toHaveLength(1);
  });
});
