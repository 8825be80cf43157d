// Test helpers: bundle agent sources the way templates/ does, build specs, and make sandboxes with recorded services.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { DEFAULT_LIMITS, DEFAULT_PERMISSIONS, DEFAULT_POOL, type AgentSpec, type Limits, type Permissions, type PoolSettings } from '../../core/agent-spec.js';
import { FactoryError } from '../../core/errors.js';
import { createMemoryKvStore, createSandbox, type DenialEvent, type Sandbox, type SandboxOptions, type SandboxRunResult, type SpawnRequest } from '../../sandbox/index.js';

export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/sandbox');

/** Turns JS/TS source into the bundle format the sandbox receives (an IIFE assigning `__afModule`). */
export function bundle(contents: string): string {
  const result = buildSync({
    stdin: { contents, loader: 'ts' },
    bundle: true,
    format: 'iife',
    globalName: '__afModule',
    platform: 'neutral',
    write: false,
    target: 'es2022',
  });
  return result.outputFiles[0]!.text;
}

export function fixtureSource(name: string): string {
  return readFileSync(path.join(FIXTURES, name), 'utf8');
}

export interface SpecInput {
  name?: string;
  source: string;
  dir?: string;
  permissions?: Partial<Permissions>;
  limits?: Partial<Limits>;
  pool?: Partial<PoolSettings>;
  config?: Record<string, unknown>;
}

export function makeSpec(input: SpecInput): AgentSpec {
  const code = bundle(input.source);
  const permissions = { ...DEFAULT_PERMISSIONS, ...input.permissions } as Permissions;
  const limits = { ...DEFAULT_LIMITS, ...input.limits } as Limits;
  const pool = { ...DEFAULT_POOL, ...input.pool } as PoolSettings;
  const name = input.name ?? 'test-agent';
  const config = input.config ?? {};
  const digest = createHash('sha256').update(JSON.stringify({ name, code, permissions, limits, pool, config, dir: input.dir })).digest('hex');
  return { digest, name, version: '1.0.0', dir: input.dir ?? FIXTURES, code, permissions, limits, pool, config };
}

export function fixtureSpec(file: string, rest: Omit<SpecInput, 'source'> = {}): AgentSpec {
  return makeSpec({ name: file.replace(/\.[jt]s$/, ''), ...rest, source: fixtureSource(file) });
}

export interface Harness {
  sandbox: Sandbox;
  denials: DenialEvent[];
  spawns: SpawnRequest[];
  specs: Map<string, AgentSpec>;
  run(spec: AgentSpec, input?: unknown, opts?: { tenant?: string; depth?: number; signal?: AbortSignal }): Promise<SandboxRunResult>;
}

/** A sandbox whose spawn runs named specs in the same sandbox, as the runtime will. */
export function makeHarness(options: Partial<SandboxOptions> = {}): Harness {
  const denials: DenialEvent[] = [];
  const spawns: SpawnRequest[] = [];
  const specs = new Map<string, AgentSpec>();
  const kv = createMemoryKvStore();
  const harness: Harness = {
    denials,
    spawns,
    specs,
    sandbox: undefined as unknown as Sandbox,
    async run(spec, input, opts = {}) {
      const slot = harness.sandbox.reserve(spec);
      try {
        return await harness.sandbox.run(slot, input, { tenant: opts.tenant ?? 't1', env: 'dev', depth: opts.depth ?? 0, signal: opts.signal });
      } finally {
        harness.sandbox.release(slot);
      }
    },
  };
  harness.sandbox = createSandbox({
    hosts: 1,
    ...options,
    services: {
      kv,
      async spawn(request) {
        spawns.push({ ...request, signal: undefined });
        const spec = specs.get(request.name);
        if (!spec) throw new FactoryError('E_TEMPLATE_NOT_FOUND', `no template ${request.name}`);
        const result = await harness.run(spec, request.input, { tenant: request.tenant, depth: request.depth });
        if (!result.ok) throw new FactoryError(result.error.code, result.error.message);
        return result.output;
      },
      onDenial: (d) => denials.push(d),
    },
  });
  return harness;
}

export const HEALTHY = makeSpec({ name: 'healthy', source: 'export default async (input: { n: number }) => ({ doubled: input.n * 2 });' });
