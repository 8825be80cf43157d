// Crafted run records for learner tests: a template whose heap grows with input size, with seeded noise.
import type { RunRecord } from '../../core/run-record.js';

/** A tiny seeded PRNG (mulberry32), so every test sees the same "random" runs. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface CraftOptions {
  template?: string;
  digest?: string;
  count: number;
  startAt?: number;
  /** Milliseconds between runs. */
  spacingMs?: number;
  seed?: number;
  /** Heap MB for an input of `size` items. */
  heapMb?: (size: number, noise: number) => number;
  /** CPU and wall ms for an input of `size` items. @default 1 + size/60 + noise, 2 + size/50 + noise */
  cpuMs?: (size: number, noise: number) => number;
  runMs?: (size: number, noise: number) => number;
  tools?: (size: number) => Record<string, number>;
  /** Whether a run of this size fails (and with what code). */
  fails?: (size: number) => RunRecord['errorCode'] | undefined;
  size?: (random: () => number) => number;
}

export function craftRuns(options: CraftOptions): RunRecord[] {
  const random = seeded(options.seed ?? 1);
  const start = options.startAt ?? Date.parse('2026-10-01T00:00:00Z');
  const spacing = options.spacingMs ?? 60_000;
  const records: RunRecord[] = [];
  for (let i = 0; i < options.count; i++) {
    const size = options.size ? options.size(random) : Math.floor(random() * 1000);
    const noise = random();
    const errorCode = options.fails?.(size);
    const heapMb = options.heapMb ? options.heapMb(size, noise) : 4 + size / 100 + noise;
    records.push({
      id: `r${i}`,
      template: options.template ?? 'sized',
      version: '1.0.0',
      digest: options.digest ?? 'd'.repeat(64),
      env: 'dev',
      tenant: 'default',
      startedAt: start + i * spacing,
      createMs: 0.05,
      runMs: options.runMs ? options.runMs(size, noise) : 2 + size / 50 + noise,
      cpuMs: options.cpuMs ? options.cpuMs(size, noise) : 1 + size / 60 + noise,
      heapUsedAtEndBytes: Math.round(heapMb * 1024 * 1024),
      // A killed run has no memory figure of its own.
      ...(errorCode === 'E_CPU_LIMIT' || errorCode === 'E_TIMEOUT' || errorCode === 'E_MEMORY_LIMIT' ? {} : { heapGrowthBytes: Math.round(heapMb * 1024 * 1024) }),
      inputBytes: 20 + size * 8,
      outputBytes: 40,
      outcome: errorCode ? 'error' : 'ok',
      ...(errorCode ? { errorCode } : {}),
      tools: options.tools ? options.tools(size) : { log: 1 },
      denials: [],
      logsDropped: 0,
      depth: 0,
      inputShape: { depth: 2, maxArrayLength: size, maxStringLength: 5, topLevelKeys: 1, lengths: { items: size } },
    });
  }
  return records;
}
