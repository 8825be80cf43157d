/** @module cli/commands/bench — `af bench [--quick] [name...]`: runs the benchmark suite (benchmarks/run.mjs) of a source checkout in a child process. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FactoryError } from '../../core/errors.js';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-status.js';

export interface BenchCommandOptions {
  /** Smaller sample counts; the whole suite in under a minute. Writes benchmarks/results/quick.json only. */
  quick?: boolean;
  /** Benchmark name prefixes (`peers`, `runtime`, …); all when empty. */
  only?: string[];
}

const RUNNER = path.join('benchmarks', 'run.mjs');

/** Variables that choose a project, its state or its environment: never passed to the benchmarks. */
const STATE_VARIABLES: readonly string[] = ['AF_ROOT', 'AF_HOME', 'AF_KEYS_DIR', 'AF_ENV'];

/**
 * Runs benchmarks/run.mjs in a child `node --no-node-snapshot` (isolated-vm needs the flag in every process that
 * loads it) with inherited stdio, from the repository root found from this module's location, and returns the
 * child's exit status (1 when a benchmark failed). A full run writes benchmarks/results/latest.json and BENCHMARKS.md.
 * @throws FactoryError `E_USAGE` when no benchmarks/ folder is found (an installed package ships without it).
 */
export async function benchCommand(context: CommandContext, options: BenchCommandOptions = {}): Promise<number> {
  const root = findRepoRoot(path.dirname(fileURLToPath(import.meta.url)));
  if (root === undefined) {
    throw new FactoryError('E_USAGE', `no ${RUNNER} above ${fileURLToPath(import.meta.url)}: af bench runs from a source checkout of agent-factory (npm run bench)`);
  }
  const args = ['--no-node-snapshot', path.join(root, RUNNER), ...(options.quick ? ['--quick'] : []), ...(options.only ?? [])];
  context.logger.debug('running the benchmark suite', { root, args });
  // Every benchmark makes its own temporary project and state; the caller's AF_* variables would point the
  // benchmarks' factories, `af keys init` and `af sign` at the caller's store and keys instead.
  const env = Object.fromEntries(Object.entries(context.streams.env).filter(([name]) => !STATE_VARIABLES.includes(name)));
  return new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit', env });
    child.once('error', (error) => reject(new FactoryError('E_USAGE', `cannot start ${process.execPath}: ${error.message}`, { cause: error })));
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 + 15 : EXIT.internal)));
  });
}

/** The nearest folder at or above `start` holding benchmarks/run.mjs and a package.json (works from cli/ and dist/cli/). */
export function findRepoRoot(start: string): string | undefined {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, RUNNER)) && existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return undefined;
  }
}
