/** @module templates/resolve — the cold path from a template name to a resolved template: load the extends chain, merge, overlay, bundle, digest. */
import { statSync } from 'node:fs';
import path from 'node:path';
import { type AgentSpec, DEFAULT_LIMITS, DEFAULT_PERMISSIONS, DEFAULT_POOL, type Limits, type Permissions, type PoolSettings } from '../core/agent-spec.js';
import { FactoryError, type Problem } from '../core/errors.js';
import { type Logger } from '../core/logger.js';
import { type Bundle, bundleTemplate, sha256 } from './bundle.js';
import { byInputChainProblems } from './by-input-check.js';
import type { BundleCache } from './bundle-cache.js';
import { canonicalJson } from '../core/canonical-json.js';
import { compileDataSchema, type DataValidator, InvalidSchemaError } from './data-schema.js';
import { templateDir } from './discover.js';
import type { RawManifest, ResolvedManifest } from './manifest.js';
import { mergeManifests, mergeOverlay } from './merge.js';
import { readSignatureFile, type SignatureFile } from './signature.js';
import { at, invalid, loadTemplateFile, type TemplateFile } from './template-file.js';

/** Longest `extends` chain: a template and at most this many ancestors. */
export const MAX_EXTENDS_DEPTH = 8;

/** Where templates are and how paths are shown. */
export interface ResolveContext {
  agentsDir: string;
  /** Paths in messages are relative to this folder (the project root). */
  displayRoot: string;
  bundleCache?: BundleCache;
  /** Told when a cache entry was passed over because its code is not the signed bundle. */
  logger?: Logger;
}

/**
 * Where the bundle may come from.
 * - `cache`: a bundle cache entry whose sources are unchanged (dev: whatever it holds may run there anyway);
 * - `signed-cache`: a cache entry only when its code hashes to the bundle hash `agent.sig` names, else a
 *   fresh build (outside dev: `.af/` is writable by people who cannot sign);
 * - `build`: always a fresh build (signing: what is signed must not be read from the cache).
 */
export type BundleSource = 'cache' | 'signed-cache' | 'build';

/** A template ready to run in one environment. Immutable. */
export interface ResolvedTemplate {
  readonly name: string;
  readonly version: string;
  readonly env: string;
  /** Real path of the template folder. */
  readonly dir: string;
  /** `agent.json` as shown to users. */
  readonly file: string;
  /** Template names from the root ancestor to this template. */
  readonly chain: readonly string[];
  readonly abstract: boolean;
  /**
   * The template's own `agent.json` text, exactly as read and parsed for this resolve: what `inherited` (and so the
   * digest the signature covers) was made from. Recorded with a version instead of reading the file again, which could
   * have changed since. Absent for a version rebuilt from the store (its row keeps the text it was recorded with).
   */
  readonly manifestText?: string;
  /** The manifest after `extends`, before the environment overlay (with `environments`): what is signed. */
  readonly inherited: Readonly<RawManifest>;
  /** The manifest after `extends` and the overlay, defaults filled in: what runs. */
  readonly manifest: Readonly<ResolvedManifest>;
  /**
   * SHA-256 over the canonical JSON of `inherited` and the hash of every bundled source file.
   * Independent of the environment, so one signature covers every environment.
   */
  readonly digest: string;
  readonly sources: Readonly<Record<string, string>>;
  /** The bundle script (empty for abstract templates). */
  readonly code: string;
  /** SHA-256 of `code`: outside dev it must be the one `agent.sig` signed. */
  readonly bundleSha256: string;
  /** Where `code` came from: built in this process from the sources hashed in `digest`, the bundle cache, or the store. */
  readonly bundleOrigin: 'built' | 'cache' | 'store';
  /**
   * `agent.sig` as read to pick the cached bundle (`signed-cache` only), NOT verified: the trust gate verifies
   * this very one, so the file is read once and what chose the bundle is what gets checked.
   */
  readonly signatureFile?: Readonly<SignatureFile>;
  /** What the sandbox receives; its digest also covers the environment's effective manifest. */
  readonly spec: Readonly<AgentSpec>;
  readonly validateInput: DataValidator;
  readonly validateOutput: DataValidator;
}

/**
 * Loads `name` and its ancestors, root ancestor first.
 * @throws FactoryError for a missing parent, a cycle, a chain deeper than {@link MAX_EXTENDS_DEPTH}, or an invalid file.
 */
export function loadChain(context: ResolveContext, name: string): TemplateFile[] {
  const chain: TemplateFile[] = [];
  const names: string[] = [];
  let current = loadTemplateFile(templateDir(context.agentsDir, name, context.displayRoot), context.displayRoot);
  for (;;) {
    chain.unshift(current);
    names.push(current.name);
    const parentName = current.manifest.extends;
    if (parentName === undefined) return chain;
    if (names.includes(parentName)) {
      throw invalid(current.file, [at(current.source, current.file, '/extends', `cyclic extends: ${[...names, parentName].join(' → ')}; remove "extends" from one of them`)]);
    }
    if (names.length > MAX_EXTENDS_DEPTH) {
      throw invalid(current.file, [
        at(current.source, current.file, '/extends', `extends chain is deeper than ${MAX_EXTENDS_DEPTH}: ${[...names, parentName].join(' → ')}; flatten it`),
      ]);
    }
    let parent: TemplateFile;
    try {
      parent = loadTemplateFile(templateDir(context.agentsDir, parentName, context.displayRoot), context.displayRoot);
    } catch (error) {
      if (error instanceof FactoryError && error.code === 'E_TEMPLATE_NOT_FOUND') {
        throw invalid(current.file, [
          at(current.source, current.file, '/extends', `extends "${parentName}", but there is no template named "${parentName}"; create it or fix the name`),
        ]);
      }
      throw error;
    }
    current = parent;
  }
}

/** Merges a chain (root first) into one manifest with the `extends` rules. */
export function inheritChain(chain: readonly TemplateFile[]): RawManifest {
  let merged: RawManifest | undefined;
  for (const link of chain) merged = merged ? mergeManifests(merged, link.manifest) : mergeManifests({} as RawManifest, link.manifest);
  if (!merged) throw new TypeError('inheritChain: empty chain');
  return merged;
}

/** Applies `environments.<env>` (merged last) and fills every default. */
export function applyEnvironment(inherited: RawManifest, env: string): ResolvedManifest {
  const { environments, abstract: _abstract, extends: _extends, $schema: _schema, ...base } = inherited;
  const overlay = environments?.[env];
  const effective = (overlay ? mergeOverlay(base as Record<string, unknown>, overlay as Record<string, unknown>) : base) as RawManifest;
  return {
    name: effective.name,
    version: effective.version,
    ...(inherited.extends !== undefined ? { extends: inherited.extends } : {}),
    description: effective.description ?? '',
    entry: effective.entry ?? '',
    permissions: withDefaults<Permissions>(DEFAULT_PERMISSIONS, effective.permissions),
    limits: withDefaults<Limits>(DEFAULT_LIMITS, effective.limits),
    pool: withDefaults<PoolSettings>(DEFAULT_POOL, effective.pool),
    ...(effective.input !== undefined && effective.input !== null ? { input: effective.input } : {}),
    ...(effective.output !== undefined && effective.output !== null ? { output: effective.output } : {}),
    config: effective.config ?? {},
    // Only when on: a manifest without it resolves exactly as before, so its sandbox spec (and pool) is unchanged.
    ...(effective.debug?.captureFailures === true
      ? { debug: { captureFailures: true, maxCaptureKb: typeof effective.debug.maxCaptureKb === 'number' ? effective.debug.maxCaptureKb : DEFAULT_CAPTURE_KB } }
      : {}),
  };
}

/** KB kept of each part of a captured failed run when `debug.maxCaptureKb` is not set. */
export const DEFAULT_CAPTURE_KB = 64;

function withDefaults<T extends object>(defaults: Readonly<T>, given: unknown): T {
  const result = { ...defaults } as Record<string, unknown>;
  if (given && typeof given === 'object') {
    for (const [key, value] of Object.entries(given)) if (value !== null && value !== undefined) result[key] = Array.isArray(value) ? [...value] : value;
  }
  return result as T;
}

export interface ResolveOptions {
  env: string;
  /** Resolve abstract templates too (for inspection); they cannot run. @default false */
  allowAbstract?: boolean;
  /** @default 'cache' */
  bundleFrom?: BundleSource;
}

/**
 * The whole cold path: chain → merge → overlay → schemas → bundle (cached by content) → digest.
 * @throws FactoryError `E_TEMPLATE_NOT_FOUND`, `E_TEMPLATE_INVALID` or `E_TEMPLATE_IMPORT`, each naming file and place.
 */
export async function resolveTemplate(context: ResolveContext, name: string, options: ResolveOptions): Promise<ResolvedTemplate> {
  const chain = loadChain(context, name);
  const self = chain[chain.length - 1] as TemplateFile;
  const inherited = inheritChain(chain);
  const isAbstract = self.manifest.abstract === true;
  if (isAbstract && !options.allowAbstract) {
    throw new FactoryError('E_TEMPLATE_INVALID', `template "${name}" is abstract: it can only be extended, not run`, {
      problems: [at(self.source, self.file, '/abstract', 'abstract templates cannot be instantiated')],
    });
  }
  const manifest = applyEnvironment(inherited, options.env);

  const problems: Problem[] = [];
  if (!isAbstract && !manifest.entry) {
    problems.push(at(self.source, self.file, '', 'missing "entry": a template that is not abstract needs an entry file, its own or inherited (e.g. "entry": "main.ts")'));
  } else if (!isAbstract && !isFile(path.join(self.dir, manifest.entry))) {
    const owner = [...chain].reverse().find((link) => typeof link.manifest.entry === 'string') ?? self;
    problems.push(at(owner.source, owner.file, '/entry', `entry file ${manifest.entry} does not exist in ${path.dirname(self.file)}; create it or point "entry" at the agent's main file`));
  }
  problems.push(...byInputChainProblems(chain));
  const validateInput = compileOrReport(manifest.input, chain, '/input', problems);
  const validateOutput = compileOrReport(manifest.output, chain, '/output', problems);
  if (problems.length > 0) throw invalid(self.file, problems);

  let bundle: Bundle & { origin: ResolvedTemplate['bundleOrigin']; signatureFile?: SignatureFile } = { code: '', sources: {}, sha256: sha256(''), origin: 'built' };
  if (!isAbstract) bundle = await bundleWithCache(context, self, manifest.entry, options.bundleFrom ?? 'cache');

  const digest = templateDigest(inherited, bundle.sources);
  const spec = agentSpecOf(digest, manifest, self.dir, bundle.code);
  return Object.freeze({
    name: manifest.name,
    version: manifest.version,
    env: options.env,
    dir: self.dir,
    file: self.file,
    chain: Object.freeze(chain.map((link) => link.name)),
    abstract: isAbstract,
    manifestText: self.text,
    inherited: deepFreeze(inherited),
    manifest: deepFreeze(manifest),
    digest,
    sources: Object.freeze({ ...bundle.sources }),
    code: bundle.code,
    bundleSha256: bundle.sha256,
    bundleOrigin: bundle.origin,
    ...(bundle.signatureFile ? { signatureFile: bundle.signatureFile } : {}),
    spec,
    validateInput,
    validateOutput,
  });
}

/** SHA-256 over the canonical JSON of the inherited manifest and the source hashes: what is signed. */
export function templateDigest(inherited: RawManifest, sources: Record<string, string>): string {
  return sha256(canonicalJson({ format: 'af-digest-1', manifest: inherited, sources }));
}

/** What the sandbox receives; its digest also covers the environment's effective manifest, so environments never share a pool. */
export function agentSpecOf(digest: string, manifest: ResolvedManifest, dir: string, code: string): AgentSpec {
  return Object.freeze({
    digest: sha256(`${digest}\n${canonicalJson(manifest)}`),
    name: manifest.name,
    version: manifest.version,
    dir,
    code,
    permissions: manifest.permissions,
    limits: manifest.limits,
    pool: manifest.pool,
    config: manifest.config,
  });
}

async function bundleWithCache(context: ResolveContext, self: TemplateFile, entry: string, from: BundleSource): Promise<Bundle & { origin: 'built' | 'cache'; signatureFile?: SignatureFile }> {
  const { dir } = self;
  // Only says which bytes to look for: the trust gate verifies this agent.sig and checks the bundle against it.
  const signatureFile = from === 'signed-cache' ? unverifiedSignature(self) : undefined;
  const signed = signatureFile ? { signatureFile } : {};
  if (context.bundleCache && from !== 'build') {
    const signedSha256 = signatureFile?.bundle?.sha256;
    if (from === 'cache' || signedSha256 !== undefined) {
      const found = context.bundleCache.lookup(dir, entry, signedSha256);
      if (found.bundle) return { ...found.bundle, origin: 'cache', ...signed };
      if (found.isNotSigned) {
        context.logger?.warn(`the cached bundle of "${self.name}" does not match the bundle agent.sig names: discarded and built again from the signed sources (something other than af wrote the bundle cache)`);
      }
    }
  }
  const bundle = await bundleTemplate(dir, entry, context.displayRoot);
  context.bundleCache?.set(dir, entry, bundle);
  return { ...bundle, origin: 'built', ...signed };
}

/** The template's agent.sig, unverified; undefined when there is none or it is malformed (the gate reads it again and says why). */
function unverifiedSignature(self: TemplateFile): SignatureFile | undefined {
  try {
    const signature = readSignatureFile(self.dir, self.file.replace(/agent\.json$/, 'agent.sig'));
    return signature ? deepFreeze(signature) : undefined;
  } catch {
    return undefined;
  }
}

function compileOrReport(schema: ResolvedManifest['input'], chain: readonly TemplateFile[], pointer: '/input' | '/output', problems: Problem[]): DataValidator {
  try {
    return compileDataSchema(schema);
  } catch (error) {
    // Name the file of the nearest template that declares the schema.
    const key = pointer.slice(1) as 'input' | 'output';
    const owner = [...chain].reverse().find((link) => link.manifest[key] !== undefined) ?? (chain[chain.length - 1] as TemplateFile);
    const inner = error instanceof InvalidSchemaError ? error.pointer : '';
    problems.push(at(owner.source, owner.file, `${pointer}${inner}`, `invalid JSON Schema: ${(error as Error).message}`));
    return () => ({ valid: false, errors: [] });
  }
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
