/** @module tui/ring-buffer — a fixed-capacity list that forgets its oldest entries: history a long session keeps without growing. */

export class RingBuffer<T> {
  readonly capacity: number;
  #items: Array<T | undefined>;
  #start = 0;
  #size = 0;

  constructor(capacity: number) {
    if (!(Number.isInteger(capacity) && capacity > 0)) throw new TypeError('RingBuffer: capacity must be a positive integer');
    this.capacity = capacity;
    this.#items = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.#size;
  }

  /** Adds at the newest end; when full, the oldest entry is dropped to make room. */
  push(item: T): void {
    const end = (this.#start + this.#size) % this.capacity;
    this.#items[end] = item;
    if (this.#size < this.capacity) this.#size++;
    else this.#start = (this.#start + 1) % this.capacity;
  }

  /** The newest entry, if any. */
  last(): T | undefined {
    return this.#size === 0 ? undefined : this.#items[(this.#start + this.#size - 1) % this.capacity];
  }

  /** Up to `count` of the newest entries, newest first. */
  newest(count: number): T[] {
    const out: T[] = [];
    for (let i = 0; i < Math.min(count, this.#size); i++) out.push(this.#items[(this.#start + this.#size - 1 - i) % this.capacity] as T);
    return out;
  }
}
