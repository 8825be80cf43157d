/** @module core/agent-spec — the shapes both planes agree on: permissions, limits, pool settings and what a sandbox is given to run. */
import type { NetAddressRule } from './net-address.js';

/** What a template may do. Everything absent is denied. */
export interface Permissions {
  /** Readable paths, relative to the template folder or absolute. */
  read: string[];
  /** Writable paths, relative to the template folder or absolute. */
  write: string[];
  /** Reachable hosts: `host` or `host:port`, `*.` wildcards allowed. */
  net: string[];
  /** Environment variables `ctx.env.get` may read. */
  env: string[];
  /** Whether `ctx.kv` is available. */
  kv: boolean;
  /** Template names `ctx.spawn` may start. */
  spawn: string[];
  /** Whether WebAssembly is available inside the isolate. */
  wasm: boolean;
}

/** The permissions granted as a list of entries, each entry a grant key `<kind>:<entry>`; `kv` is a key on its own. */
export const LISTED_PERMISSIONS = ['read', 'write', 'net', 'env', 'spawn'] as const;
export type ListedPermission = (typeof LISTED_PERMISSIONS)[number];

/**
 * Every grant of a template as a key: `read:./data`, `net:api.example.com`, `env:LOG_LEVEL`, `spawn:summarise`,
 * `kv`, `wasm`. Runs record the keys they used in the same form; least privilege compares the two.
 */
export function grantKeysOf(permissions: Permissions): string[] {
  const keys: string[] = [];
  for (const kind of LISTED_PERMISSIONS) for (const entry of permissions[kind]) keys.push(`${kind}:${entry}`);
  if (permissions.kv) keys.push('kv');
  if (permissions.wasm) keys.push('wasm');
  return keys;
}

/** Whether `key` (as {@link grantKeysOf} writes it) is granted. */
export function isGranted(permissions: Permissions, key: string): boolean {
  if (key === 'kv' || key === 'wasm') return permissions[key];
  const colon = key.indexOf(':');
  const kind = key.slice(0, colon) as ListedPermission;
  return colon > 0 && (LISTED_PERMISSIONS as readonly string[]).includes(kind) && permissions[kind].includes(key.slice(colon + 1));
}

/** Resource limits of one run, every one enforced by the host. */
export interface Limits {
  /** Isolate heap limit. */
  memoryMb: number;
  /** Wall time of a run, including awaited work. */
  timeoutMs: number;
  /** CPU time of a run inside the isolate. */
  cpuMs: number;
  /** Size of the JSON output. */
  outputKb: number;
  /** Bytes of log text per run. */
  logKb: number;
  /** Bytes of kv data per template and tenant. */
  kvKb: number;
  /** Maximum nesting of `ctx.spawn`. */
  spawnDepth: number;
  /** Maximum `ctx.spawn` calls per run. */
  spawnFanOut: number;
  /**
   * How `cpuMs` and `timeoutMs` follow the input: computed per run before it starts, from admission-time facts only.
   * Absent: every run gets the flat limits above.
   */
  byInput?: LimitsByInput;
}

/** The limits a byInput rule can set per run (the heap limit belongs to the isolate, shared across runs). */
export const BY_INPUT_RESOURCES = ['cpuMs', 'timeoutMs'] as const;
export type ByInputResource = (typeof BY_INPUT_RESOURCES)[number];

/**
 * `limits.byInput`: for input measure x (at least 1), a limit is min(max, max(min, ceil(base × x^exponent))). `max`
 * defaults to the flat limit, so a rule can only lower a limit for small inputs, never raise it past what the manifest and
 * policy allow; `min` (default 1) keeps the smallest inputs above what a run's own start costs.
 */
export interface LimitsByInput {
  /** `"inputBytes"` (UTF-8 bytes of the input's JSON) or a JSON pointer into the input (array or string length, object key count, a non-negative number's value). */
  measure: string;
  cpuMs?: PowerRule;
  timeoutMs?: PowerRule;
}

export interface PowerRule {
  base: number;
  exponent: number;
  /** The least limit any input gets. @default 1 */
  min?: number;
  max?: number;
}

/** The limits one run ran under, as recorded. */
export interface EffectiveLimits {
  cpuMs: number;
  timeoutMs: number;
  memoryMb: number;
  /** The input measure a byInput rule used (absent without one). */
  measure?: { name: string; value: number };
}

export interface PoolSettings {
  /** Contexts kept ready for this template. */
  prewarm: number;
  /** Run every call in one long-lived context instead of a fresh one. */
  reuseContext: boolean;
}

export const DEFAULT_PERMISSIONS: Readonly<Permissions> = Object.freeze({
  read: [],
  write: [],
  net: [],
  env: [],
  kv: false,
  spawn: [],
  wasm: false,
});

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  memoryMb: 64,
  timeoutMs: 5000,
  cpuMs: 5000,
  outputKb: 256,
  logKb: 64,
  kvKb: 1024,
  spawnDepth: 3,
  spawnFanOut: 16,
});

export const DEFAULT_POOL: Readonly<PoolSettings> = Object.freeze({ prewarm: 1, reuseContext: false });

/** The permission lists that `extends` unions rather than replaces. */
export const PERMISSION_LIST_KEYS = ['read', 'write', 'net', 'env', 'spawn'] as const;

/**
 * Everything a sandbox needs to run one template, and nothing it must not see:
 * no key, no manifest file, no path outside the template folder beyond the grants.
 */
export interface AgentSpec {
  /** Identifies exactly what runs; pools and caches key on it. */
  digest: string;
  name: string;
  version: string;
  /** Real path of the template folder; relative `read`/`write` grants resolve against it. */
  dir: string;
  /** The bundle: a script that assigns the module's exports to `globalThis.__afModule`. */
  code: string;
  permissions: Permissions;
  limits: Limits;
  pool: PoolSettings;
  /** `config` from the manifest, handed to the agent as `ctx.config`. */
  config: Record<string, unknown>;
  /**
   * Address ranges the host must never connect to, whatever name led there: the environment's policy, turned
   * into CIDRs when the template was admitted so the host only checks. Absent in a dev environment.
   */
  netDeny?: readonly NetAddressRule[];
}

/** Counts of tool calls by tool name, e.g. `{ kv: 3, fetch: 1 }`. */
export type ToolCounts = Record<string, number>;

/** Outcome of a run as recorded: `ok` or the error code it ended with. */
export type RunOutcome = 'ok' | 'error';
