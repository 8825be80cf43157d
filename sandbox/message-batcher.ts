/** @module sandbox/message-batcher — coalesces IPC messages between the supervisor and a host into one write per event-loop turn. */
/**
 * Queues messages and writes them once per turn of the event loop: under load several runs, results and
 * capacity reports share one IPC write (one serialisation, one syscall) instead of one each.
 */
export class MessageBatcher<M> {
  readonly #write: (message: M | { t: 'batch'; m: M[] }) => void;
  readonly #beforeFlush: (() => M | undefined) | undefined;
  #queue: M[] = [];
  #scheduled = false;

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

  /** Makes sure a flush is coming, e.g. when `beforeFlush` has something new to say. */
  schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Writes what is queued now. */
  flush(): void {
    this.#scheduled = false;
    const last = this.#beforeFlush?.();
    if (last !== undefined) this.#queue.push(last);
    const queue = this.#queue;
    if (queue.length === 0) return;
    this.#queue = [];
    this.#write(queue.length === 1 ? (queue[0] as M) : { t: 'batch', m: queue });
  }
}
