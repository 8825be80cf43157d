/** @module core/batcher — gathers calls made while a batch is on its way and sends them as the next batch: one round trip (one commit) for many callers under load, no added wait when idle. */

/**
 * Calls `send` with the items submitted, one batch at a time: the first item goes at once; those submitted while a
 * batch is on its way wait for it and go together next (at most `maxBatch` per batch). `send` answers per item, in
 * order: a value, or an Error for that item alone; when `send` rejects, every item of its batch rejects with it.
 */
export class Batcher<Item, Answer> {
  readonly #send: (items: Item[]) => Promise<Array<Answer | Error>>;
  readonly #maxBatch: number;
  readonly #waiting: Array<{ item: Item; resolve(answer: Answer): void; reject(error: Error): void }> = [];
  #isSending = false;

  constructor(send: (items: Item[]) => Promise<Array<Answer | Error>>, options: { maxBatch?: number } = {}) {
    this.#send = send;
    this.#maxBatch = Math.max(1, options.maxBatch ?? 100);
  }

  submit(item: Item): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      this.#waiting.push({ item, resolve, reject });
      void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    if (this.#isSending) return;
    this.#isSending = true;
    try {
      while (this.#waiting.length > 0) {
        const batch = this.#waiting.splice(0, this.#maxBatch);
        try {
          const answers = await this.#send(batch.map((entry) => entry.item));
          batch.forEach((entry, index) => {
            const answer = answers[index];
            if (answer instanceof Error) entry.reject(answer);
            else if (index >= answers.length) entry.reject(new Error('the batch returned no answer for this item'));
            else entry.resolve(answer as Answer);
          });
        } catch (error) {
          for (const entry of batch) entry.reject(error as Error);
        }
      }
    } finally {
      this.#isSending = false;
    }
  }
}
