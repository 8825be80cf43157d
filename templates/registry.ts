/** @module templates/registry — resolves templates by name through an LRU+TTL cache, and reloads them when their files change. */
import path from 'node:path';
import { LRUCache } from 'lru-cache';
import type { Awaitable } from '../core/awaitable.js';
import { type Clock, systemClock } from '../core/clock.js';
import { FactoryError, toFactoryError } from '../core/errors.js';
import { type Logger, silentLogger } from '../core/logger.js';
import { BundleCache } from './bundle-cache.js';
import { discoverTemplateNames } from './discover.js';
import { type BundleSource, type ResolveContext, type ResolvedTemplate, resolveTemplate } from './resolve.js';
import type { SignatureFile } from './signature.js';
import { resolveStoredVersion, type StoredVersion } from './stored-version.js';
import { TemplateWatcher } from './watcher.js';

/**
 * What the registry needs of a trust gate ({@link TrustGate} is the one there is): turn a freshly resolved template
 * into a `T` or throw, and re-check a cached `T` on every hit. Its `T` is what `resolve` returns.
 */
export interface TemplateAdmission<T extends ResolvedTemplate> {
  admit(template: ResolvedTemplate, storedSignature?: SignatureFile): T;
  recheck(template: T): void;
  isDevEnvironment(env: string): boolean;
}

export interface TemplateRegistryOptions<T extends ResolvedTemplate = ResolvedTemplate> {
  /** Folder holding one folder per template. */
  agentsDir: string;
  /** Paths in messages are shown relative to this folder. @default agentsDir's parent */
  displayRoot?: string;
  /** Bundle cache folder; omit to bundle in memory only. */
  bundleCacheDir?: string;
  /** Environment used when `resolve` is given none. @default 'dev' */
  env?: string;
  /** Most resolved templates kept. @default 500 */
  maxEntries?: number;
  /** A cached template is re-read from disk after this long even without a file event. @default 60_000 */
  ttlMs?: number;
  /** Reload templates when their files change. @default false */
  watch?: boolean;
  /**
   * Signature and policy checks: with a gate, `resolve` returns only trusted templates (`T` is the gate's
   * `TrustedTemplate`) and re-checks revocation on every hit. Without one (inspection, tests), templates are resolved
   * but not trusted.
   */
  trust?: TemplateAdmission<T>;
  /** Called with every template a cold resolve produced (and the gate admitted): to record versions. */
  onResolved?(template: T): void;
  /** Finds a version that is not the one on disk (canaries, rollbacks): the store's template versions. */
  versionSource?(name: string, version: string): Awaitable<StoredVersion | undefined>;
  logger?: Logger;
  clock?: Clock;
}

export interface RegistryResolveOptions {
  /** @default the registry's env */
  env?: string;
  /** Exact version wanted; the version on disk is the only one until versions are stored. */
  version?: string;
}

export interface RegistryInspectOptions extends RegistryResolveOptions {
  /** Where the bundle may come from; `build` to sign what was built here. @default 'cache' */
  bundleFrom?: BundleSource;
}

/**
 * Failures after which the last good version keeps serving: an edit that broke the template, or that is
 * not signed yet. Revoked or expired keys are never papered over.
 */
const SERVE_LAST_GOOD_ON = new Set(['E_TEMPLATE_INVALID', 'E_TEMPLATE_IMPORT', 'E_SIGNATURE_MISSING', 'E_SIGNATURE_INVALID', 'E_POLICY_DENIED']);

/** A template that currently fails to load while its last good version keeps serving. */
export interface ReloadFailure {
  name: string;
  error: FactoryError;
  /** Version still being served, if any. */
  servingVersion?: string;
}

/**
 * Resolves templates by name. A cache hit costs a map lookup; a miss runs the cold path
 * (load → merge → overlay → bundle → digest). With `watch`, an edit is picked up within
 * milliseconds, and an edit that breaks a template keeps its last good version serving.
 *
 * `T` is what `resolve` returns: `TrustedTemplate` for a registry given a trust gate (the type is inferred from it),
 * `ResolvedTemplate` for one without (inspection, signing). A narrower `T` without a gate does not compile.
 */
export class TemplateRegistry<out T extends ResolvedTemplate = ResolvedTemplate> {
  readonly #context: ResolveContext;
  readonly #env: string;
  /** Its methods only: a registry of trusted templates stays usable where any registry is asked for (`out T`). */
  readonly #cache: TemplateCache<T>;
  /** Last successfully resolved template per cache key: what keeps serving after a broken edit. */
  readonly #lastGood = new Map<string, T>();
  /** Cold resolves under way, with the generation they started in: one started before a change is never joined after it. */
  readonly #inFlight = new Map<string, { generation: number; promise: Promise<T> }>();
  readonly #failures = new Map<string, ReloadFailure>();
  readonly #logger: Logger;
  readonly #trust: TemplateAdmission<T> | undefined;
  /** A method of an object, not a function-typed field: a field taking a `T` would make `T` contravariant (`out T`). */
  readonly #hooks: Pick<TemplateRegistryOptions<T>, 'onResolved'>;
  readonly #versionSource: ((name: string, version: string) => Awaitable<StoredVersion | undefined>) | undefined;
  #watcher: TemplateWatcher | undefined;
  #generation = 0;

  constructor(options: TemplateRegistryOptions<T> & (ResolvedTemplate extends T ? unknown : { trust: TemplateAdmission<T> })) {
    const resolved = resolveRegistryOptions(options);
    this.#context = {
      agentsDir: resolved.agentsDir,
      displayRoot: resolved.displayRoot,
      ...(resolved.bundleCacheDir ? { bundleCache: new BundleCache(resolved.bundleCacheDir) } : {}),
      logger: resolved.logger,
    };
    this.#env = resolved.env;
    this.#logger = resolved.logger;
    this.#trust = options.trust;
    this.#hooks = { ...(options.onResolved ? { onResolved: options.onResolved } : {}) };
    this.#versionSource = options.versionSource;
    const clock = resolved.clock;
    this.#cache = new LRUCache<string, T>({
      max: resolved.maxEntries,
      ttl: resolved.ttlMs,
      // lru-cache reads time through `perf.now()`; injecting the clock lets tests move time.
      perf: { now: () => clock.monotonic() },
      // Read the clock on every check: the default caches it for 1 ms of real time, which a manual clock cannot move.
      ttlResolution: 0,
      ttlAutopurge: false,
    });
    if (resolved.watch) this.watch();
  }

  get agentsDir(): string {
    return this.#context.agentsDir;
  }

  get env(): string {
    return this.#env;
  }

  /** The cached template for `name` if present and fresh; never touches the disk. */
  peek(name: string, options: RegistryResolveOptions = {}): T | undefined {
    const found = this.#cache.get(cacheKey(name, options.env ?? this.#env));
    if (found && options.version !== undefined && found.version !== options.version) return undefined;
    return found;
  }

  /**
   * Resolves a runnable template.
   * @throws FactoryError `E_TEMPLATE_NOT_FOUND`, `E_TEMPLATE_INVALID` or `E_TEMPLATE_IMPORT`.
   */
  resolve(name: string, options: RegistryResolveOptions = {}): Promise<T> {
    const env = options.env ?? this.#env;
    if (options.version !== undefined && this.#versionSource) return this.#resolveVersion(name, options.version, env);
    const key = cacheKey(name, env);
    const hit = this.#cache.get(key);
    if (hit) {
      try {
        // A cached verification still answers to revocation and expiry on every use.
        this.#trust?.recheck(hit);
        return Promise.resolve(checkVersion(hit, options.version));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.#resolveCold(name, env, key).then((template) => checkVersion(template, options.version));
  }

  /**
   * Resolves `name` from disk now, as a new process would: no cached entry, no resolve already under way, and no last
   * good version kept serving after a failed edit (the failure is thrown). `af run` handed to a running `af serve` uses
   * it, so an edit just saved is what runs. The result becomes the cached entry unless a change arrived meanwhile.
   */
  async resolveFresh(name: string, options: { env?: string } = {}): Promise<T> {
    const env = options.env ?? this.#env;
    const key = cacheKey(name, env);
    const generation = this.#generation;
    const bundleFrom: BundleSource = this.#trust && !this.#trust.isDevEnvironment(env) ? 'signed-cache' : 'cache';
    const template = this.#admit(await resolveTemplate(this.#context, name, { env, bundleFrom }));
    this.#hooks.onResolved?.(template);
    if (generation === this.#generation) this.#cache.set(key, template);
    this.#lastGood.set(key, template);
    this.#failures.delete(name);
    return template;
  }

  /** Resolves including abstract templates, bypassing the cache; for inspection (`af templates show`), signing and verifying. */
  inspect(name: string, options: RegistryInspectOptions = {}): Promise<ResolvedTemplate> {
    return resolveTemplate(this.#context, name, { env: options.env ?? this.#env, allowAbstract: true, ...(options.bundleFrom ? { bundleFrom: options.bundleFrom } : {}) });
  }

  /** Names of every template folder, valid or not. */
  names(): string[] {
    return discoverTemplateNames(this.#context.agentsDir);
  }

  /** Templates whose latest edit failed to load, with the error; each keeps its last good version serving. */
  failures(): ReloadFailure[] {
    return [...this.#failures.values()];
  }

  /** Starts reloading templates when their files change. Idempotent. */
  watch(): void {
    if (this.#watcher) return;
    this.#watcher = new TemplateWatcher(this.#context.agentsDir, (names) => this.#onChange(names), this.#logger);
  }

  /** Forgets every cached template; the next resolve reads from disk. */
  clear(): void {
    this.#cache.clear();
    this.#generation++;
  }

  close(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
    this.#cache.clear();
    this.#lastGood.clear();
  }

  /** A specific version: the one on disk when it matches, else the stored one, rebuilt and admitted. */
  async #resolveVersion(name: string, version: string, env: string): Promise<T> {
    const key = `${cacheKey(name, env)}\u0000${version}`;
    const hit = this.#cache.get(key);
    if (hit) {
      this.#trust?.recheck(hit);
      return hit;
    }
    const onDisk = await this.resolve(name, { env });
    if (onDisk.version === version) return onDisk;
    const stored = await this.#versionSource?.(name, version);
    if (!stored) {
      throw new FactoryError('E_TEMPLATE_NOT_FOUND', `version ${version} of template "${name}" is not available; version ${onDisk.version} is in ${onDisk.file}, and the store has no ${version}`);
    }
    const rebuilt = resolveStoredVersion(stored, env, onDisk.dir, onDisk.file);
    const template = this.#admit(rebuilt, stored.signature as SignatureFile | undefined);
    this.#cache.set(key, template);
    return template;
  }

  /** The gate's admission; without a gate `T` is `ResolvedTemplate` (the constructor's type demands a gate for any other). */
  #admit(resolved: ResolvedTemplate, storedSignature?: SignatureFile): T {
    return this.#trust ? this.#trust.admit(resolved, storedSignature) : (resolved as T);
  }

  #resolveCold(name: string, env: string, key: string): Promise<T> {
    const generation = this.#generation;
    const pending = this.#inFlight.get(key);
    // A resolve that began before the latest change (an edit, a new agent.sig, clear()) read the old files.
    if (pending && pending.generation === generation) return pending.promise;
    // Outside dev the bundle cache is `.af/`, writable by people who cannot sign: reuse only the signed bytes.
    const bundleFrom: BundleSource = this.#trust && !this.#trust.isDevEnvironment(env) ? 'signed-cache' : 'cache';
    const promise = resolveTemplate(this.#context, name, { env, bundleFrom })
      .then((resolved) => {
        const template = this.#admit(resolved);
        this.#hooks.onResolved?.(template);
        // A change that arrived while this resolve ran makes its result stale: do not cache it.
        if (generation === this.#generation) this.#cache.set(key, template);
        this.#lastGood.set(key, template);
        this.#failures.delete(name);
        return template;
      })
      .catch((error: unknown) => {
        const failure = toFactoryError(error);
        const lastGood = this.#lastGood.get(key);
        if (lastGood && SERVE_LAST_GOOD_ON.has(failure.code)) {
          this.#trust?.recheck(lastGood);
          this.#recordFailure(name, failure, lastGood.version);
          return lastGood;
        }
        throw failure;
      })
      .finally(() => {
        if (this.#inFlight.get(key)?.promise === promise) this.#inFlight.delete(key);
      });
    this.#inFlight.set(key, { generation, promise });
    return promise;
  }

  #recordFailure(name: string, error: FactoryError, servingVersion: string | undefined): void {
    const previous = this.#failures.get(name);
    this.#failures.set(name, { name, error, ...(servingVersion !== undefined ? { servingVersion } : {}) });
    if (previous?.error.message !== error.message) {
      this.#logger.error(`template "${name}" failed to reload; still serving version ${servingVersion ?? '(none)'}: ${error.message}`, { code: error.code });
    }
  }

  /** Called by the watcher with the template folders that changed. */
  #onChange(changed: ReadonlySet<string>): void {
    this.#generation++;
    const affected: Array<{ key: string; name: string; env: string }> = [];
    for (const key of new Set([...this.#cache.keys(), ...this.#lastGood.keys()])) {
      const template = this.#cache.peek(key) ?? this.#lastGood.get(key);
      const { name, env } = parseKey(key);
      // A template is affected when it or any ancestor changed.
      if (changed.has(name) || template?.chain.some((link) => changed.has(link))) affected.push({ key, name, env });
    }
    for (const { key } of affected) this.#cache.delete(key);
    // Re-resolve now, so the next resolve is a hit and a broken edit is reported right away. Only the on-disk entries:
    // a stored version's entry (its key names the version) is rebuilt from the store when next asked for, never from
    // the edited folder.
    for (const { key, name, env } of affected) {
      if (isVersionKey(key)) continue;
      this.#resolveCold(name, env, key).then(
        (template) => this.#logger.info(`reloaded template "${name}" ${template.version} (${env})`),
        (error: unknown) => {
          const failure = toFactoryError(error);
          if (failure.code === 'E_TEMPLATE_NOT_FOUND') {
            this.#lastGood.delete(key);
            this.#failures.delete(name);
            this.#logger.info(`template "${name}" was removed`);
          }
        },
      );
    }
  }
}

/** What the registry uses of its LRU cache. */
interface TemplateCache<T extends ResolvedTemplate> {
  get(key: string): T | undefined;
  peek(key: string): T | undefined;
  set(key: string, value: T): unknown;
  delete(key: string): boolean;
  clear(): void;
  keys(): Iterable<string>;
}

function resolveRegistryOptions(options: TemplateRegistryOptions) {
  if (typeof options.agentsDir !== 'string' || options.agentsDir === '') {
    throw new TypeError('TemplateRegistry: option "agentsDir" must be a non-empty path');
  }
  const maxEntries = options.maxEntries ?? 500;
  const ttlMs = options.ttlMs ?? 60_000;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new TypeError('TemplateRegistry: option "maxEntries" must be a positive integer');
  if (!(ttlMs > 0)) throw new TypeError('TemplateRegistry: option "ttlMs" must be a positive number');
  return {
    agentsDir: options.agentsDir,
    displayRoot: options.displayRoot ?? path.dirname(path.resolve(options.agentsDir)),
    bundleCacheDir: options.bundleCacheDir,
    env: options.env ?? 'dev',
    maxEntries,
    ttlMs,
    watch: options.watch ?? false,
    logger: options.logger ?? silentLogger,
    clock: options.clock ?? systemClock,
  };
}

function cacheKey(name: string, env: string): string {
  return `${name}\u0000${env}`;
}

/** Keys of stored versions are `name\0env\0version`; on-disk ones are `name\0env`. */
function isVersionKey(key: string): boolean {
  return key.split('\u0000').length > 2;
}

function parseKey(key: string): { name: string; env: string } {
  const [name = '', env = ''] = key.split('\u0000');
  return { name, env };
}

function checkVersion<T extends ResolvedTemplate>(template: T, version: string | undefined): T {
  if (version === undefined || template.version === version) return template;
  throw new FactoryError(
    'E_TEMPLATE_NOT_FOUND',
    `version ${version} of template "${template.name}" is not available; version ${template.version} is in ${template.file}`,
  );
}
