/** @module core/awaitable — a value, or a promise of it: what an interface returns when one implementation answers at once and another over the network. */
export type Awaitable<T> = T | Promise<T>;
