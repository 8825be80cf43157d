/** @module sandbox/message-batcher — coalesces IPC messages between the supervisor and a host into one write per event-loop turn. */
/**
 * Queues messages and writes them once per turn of the event loop: under load several runs, results and
 * capacity reports share one IPC write (one serialisation, one syscall, one wake-up of the other side) instead of one each.
 * A message someone is waiting on (a tool call, its answer) goes with {@link pushNow}: written before this turn
 * ends, with whatever else is queued, instead of after the event loop's next poll.
 */
export class MessageBatcher<M> {
  readonly #write: (message: M | { t: 'batch'; m: M[] }) => void;
  readonly #beforeFlush: (() => M | undefined) | undefined;
  #queue: M[] = [];
  #scheduled = false;
  #soon = false;
  readonly #flushScheduled = (): void => {
    this.#scheduled = false;
    this.flush();
  };
  readonly #flushSoon = (): void => {
    this.#soon = false;
    if (this.#queue.length > 0) this.flush();
  };

  /**
   * @param write sends one message (or one batch) over the channel.
   * @param beforeFlush returns a last message to add to each write (a summary such as the host's capacity), or undefined.
   */
  constructor(write: (message: M | { t: 'batch'; m: M[] }) => void, beforeFlush?: () => M | undefined) {
    this.#write = write;
    this.#beforeFlush = beforeFlush;
  }

  push(message: M): void {
    this.#queue.push(message);
    this.schedule();
  }

  /**
   * Queues a message the other side is waiting on and writes the queue in a microtask: at once, yet the calls an
   * agent makes in one go (`Promise.all` of many `kv.get`) still share one write. The turn's scheduled flush then
   * finds nothing left, or only what came later.
   */
  pushNow(message: M): void {
    this.#queue.push(message);
    if (this.#soon) return;
    this.#soon = true;
    queueMicrotask(this.#flushSoon);
  }

  /** Makes sure a flush is coming, e.g. when `beforeFlush` has something new to say. */
  schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#flushScheduled);
  }

  /** Writes what is queued now. */
  flush(): void {
    const last = this.#beforeFlush?.();
    if (last !== undefined) this.#queue.push(last);
    const queue = this.#queue;
    if (queue.length === 0) return;
    this.#queue = [];
    this.#write(queue.length === 1 ? (queue[0] as M) : { t: 'batch', m: queue });
  }
}
