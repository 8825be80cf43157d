// core/batcher: calls made while a batch is on its way go together as the next batch; answers and errors per item.
import { describe, expect, it } from 'vitest';
import { Batcher } from '../../core/batcher.js';

/** A send whose batches the test releases by hand, recording what each held. */
function manualSend() {
  const batches: number[][] = [];
  const releases: Array<() => void> = [];
  const send = (items: number[]) => {
    batches.push(items);
    return new Promise<Array<number | Error>>((resolve) => {
      releases.push(() => resolve(items.map((item) => (item < 0 ? new Error(`no ${item}`) : item * 10))));
    });
  };
  return { batches, releases, send };
}

describe('Batcher', () => {
  it('sends the first item at once and the items that came meanwhile as one next batch, answering each in order', async () => {
    const { batches, releases, send } = manualSend();
    const batcher = new Batcher(send);
    const first = batcher.submit(1);
    const rest = [batcher.submit(2), batcher.submit(3), batcher.submit(4)];
    expect(batches).toEqual([[1]]);
    releases[0]?.();
    expect(await first).toBe(10);
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches).toEqual([[1], [2, 3, 4]]);
    releases[1]?.();
    expect(await Promise.all(rest)).toEqual([20, 30, 40]);
  });

  it('keeps each batch within maxBatch', async () => {
    const { batches, releases, send } = manualSend();
    const batcher = new Batcher(send, { maxBatch: 2 });
    const answers = [1, 2, 3, 4, 5].map((item) => batcher.submit(item));
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      releases[i]?.();
    }
    expect(await Promise.all(answers)).toEqual([10, 20, 30, 40, 50]);
    expect(batches).toEqual([[1], [2, 3], [4, 5]]);
  });

  it('rejects only the item whose answer is an error, and every item of a batch whose send rejects', async () => {
    const batcher = new Batcher(async (items: number[]) => items.map((item) => (item < 0 ? new Error(`no ${item}`) : item)));
    const [good, bad] = [batcher.submit(1), batcher.submit(-1)];
    expect(await good).toBe(1);
    await expect(bad).rejects.toThrow('no -1');
    const failing = new Batcher(async (): Promise<number[]> => {
      throw new Error('the database is down');
    });
    const both = [failing.submit(1), failing.submit(2)];
    for (const answer of both) await expect(answer).rejects.toThrow('the database is down');
    // It goes on after a failed batch.
    const after = new Batcher(async (items: number[]) => items);
    expect(await after.submit(7)).toBe(7);
  });

  it('rejects an item the batch gave no answer for', async () => {
    const batcher = new Batcher(async (items: number[]) => items.slice(0, 1));
    // 1 goes alone; 2 and 3 go together, and the answer for 3 is missing.
    const answers = [batcher.submit(1), batcher.submit(2), batcher.submit(3)];
    expect(await answers[0]).toBe(1);
    expect(await answers[1]).toBe(2);
    await expect(answers[2]).rejects.toThrow('no answer');
  });
});
