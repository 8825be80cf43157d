/** @module agent — the agent contract as a published type (`agent-factory/agent`): `defineAgent` and the `ctx` an agent is given. */

// What an agent author imports. Two consumers read this module:
// - the author's type checker, through package.json `exports["./agent"]` (dist/agent/index.d.ts);
// - the bundler, which never reads this file: templates/agent-module.ts gives esbuild a fixed, one-function virtual
//   module for the same specifier, so a template bundles the same on every machine and reaches no node_modules.
// The shapes below are those the sandbox prelude (sandbox/prelude.ts, makeCtx) builds; keep them in step with it.

/** A value that survives JSON: what inputs, outputs, kv values, config and spawn results are made of. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** Fields attached to a log line; serialised as JSON. */
export type LogFields = Record<string, unknown>;

/** `ctx.log`: structured lines in the run record; `console.*` inside an agent goes here too. Over `limits.logKb`, lines are dropped and counted. */
export interface Log {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** `ctx.kv`: the template's own key-value store, one namespace per tenant, bounded by `limits.kvKb`. */
export interface Kv {
  /** @returns the value stored under `key`, or `undefined` when there is none. */
  get<T = unknown>(key: string): Promise<T | undefined>;
  /** Stores a JSON-serialisable value; fails with `E_KV_QUOTA` when the namespace would exceed `limits.kvKb`. */
  set(key: string, value: unknown): Promise<void>;
  /** @returns whether the key existed. */
  delete(key: string): Promise<boolean>;
  /** Keys that start with `prefix`, in byte order of their UTF-8 (code point order), at most `limit` (up to 10,000). @default { prefix: '', limit: 1000 } */
  list(options?: { prefix?: string; limit?: number }): Promise<string[]>;
}

/** `ctx.env`: environment variables named in `permissions.env`. */
export interface Env {
  /** @returns the variable's value, or `undefined` when it is unset. @throws `E_PERMISSION_DENIED` for a name not granted. */
  get(name: string): string | undefined;
}

/** Headers of a {@link FetchResponse}, names in lower case. */
export interface FetchHeaders extends Iterable<[string, string]> {
  get(name: string): string | null;
  has(name: string): boolean;
  forEach(callback: (value: string, name: string, headers: FetchHeaders) => void): void;
  entries(): IterableIterator<[string, string]>;
}

/** What `ctx.fetch` accepts for a request: a subset of the web `RequestInit`. The body is sent as UTF-8 text. */
export interface FetchInit {
  method?: string;
  headers?: Record<string, string> | ReadonlyArray<readonly [string, string]> | { forEach(callback: (value: string, name: string) => void): void; get(name: string): string | null };
  body?: string | ArrayBuffer | ArrayBufferView | null;
}

/** What `ctx.fetch` resolves to: a subset of the web `Response`, its body already read (bounded) by the host. */
export interface FetchResponse {
  readonly ok: boolean;
  readonly status: number;
  readonly statusText: string;
  /** The final URL, after redirects (each one re-checked against `permissions.net`). */
  readonly url: string;
  readonly redirected: boolean;
  readonly headers: FetchHeaders;
  readonly bodyUsed: boolean;
  text(): Promise<string>;
  json<T = unknown>(): Promise<T>;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** `ctx.signal`: aborted when the run is cancelled (timeout, limit, or the caller gave up). */
export interface RunSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  onabort: ((event: { type: 'abort' }) => void) | null;
  addEventListener(type: 'abort', listener: (event: { type: 'abort' }) => void): void;
  removeEventListener(type: 'abort', listener: (event: { type: 'abort' }) => void): void;
  throwIfAborted(): void;
}

/** Deeply read-only: `ctx.config` is frozen all the way down. */
export type DeepReadonly<T> = T extends (infer U)[] ? ReadonlyArray<DeepReadonly<U>> : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/**
 * The second argument of an agent: the only way out of the sandbox. Every tool is always present, whatever the
 * template grants (as in Deno: one stable shape), and every call is checked against the template's `permissions`; a call
 * that is not granted throws an error whose `code` is `E_PERMISSION_DENIED` and whose message names the manifest key
 * that would grant it. The denial is recorded in the run's `denials` and in the audit log.
 * @typeParam Config the shape of `config` in agent.json.
 */
export interface Context<Config extends object = Record<string, unknown>> {
  readonly log: Log;
  /** `config` from agent.json, after inheritance and the environment overlay; frozen. */
  readonly config: DeepReadonly<Config>;
  readonly signal: RunSignal;
  /** Needs `permissions.env`. */
  readonly env: Env;
  /** Needs `"kv": true` in `permissions`; always present, so without it every call rejects with `E_PERMISSION_DENIED`. */
  readonly kv: Kv;
  /** HTTP(S) to the hosts in `permissions.net`; redirects are re-checked. */
  fetch(input: string | { readonly url: string } | { readonly href: string; toString(): string }, init?: FetchInit): Promise<FetchResponse>;
  /** Needs the path (or a folder above it) in `permissions.read`; relative paths are from the template folder. */
  readTextFile(path: string): Promise<string>;
  /** Needs the path (or a folder above it) in `permissions.write`. */
  writeTextFile(path: string, text: string): Promise<void>;
  /** Runs another template named in `permissions.spawn` with its own permissions, and returns its output. */
  spawn<T = unknown>(name: string, input?: unknown): Promise<T>;
}

/**
 * An agent: called once per run with the input (already checked against agent.json `input`) and `ctx`;
 * what it returns (checked against `output`) is the run's output.
 */
export type Agent<Input = unknown, Output = unknown, Config extends object = Record<string, unknown>> = (input: Input, ctx: Context<Config>) => Output | Promise<Output>;

/**
 * Declares an agent: returns `run` itself (it costs nothing at run time) and types `ctx` for you.
 * Annotate `input` (and `ctx` as `Context<Config>` to type `ctx.config`); the output type is inferred.
 * @example
 * ```ts
 * import { defineAgent } from 'agent-factory/agent';
 *
 * export default defineAgent(async (input: { name?: string }, ctx) => {
 *   ctx.log.info('greeting', { name: input.name });
 *   return { greeting: `Hello, ${input.name ?? 'world'}` };
 * });
 * ```
 */
export function defineAgent<Input = unknown, Output = unknown, Config extends object = Record<string, unknown>>(run: Agent<Input, Output, Config>): Agent<Input, Output, Config> {
  return run;
}
