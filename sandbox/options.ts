/** @module sandbox/options — resolves every SandboxOptions default in one place and rejects bad options with a TypeError. */
import os from 'node:os';
import { systemClock, type Clock } from '../core/clock.js';
import { silentLogger, type Logger } from '../core/logger.js';
import type { SandboxOptions, ToolServices } from './types.js';

export interface ResolvedSandboxOptions {
  isolation: 'process' | 'inline';
  hosts: number;
  hostMemoryMb: number;
  maxIsolatesPerPool: number;
  isolateMaxRuns: number;
  heapProbeEvery: number;
  fetchMaxBytes: number;
  readMaxBytes: number;
  services: ToolServices;
  logger: Logger;
  clock: Clock;
  processEnv: Record<string, string | undefined>;
  lockdown: 'auto' | 'off';
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1) throw new TypeError(`createSandbox: option "${name}" must be a positive integer (got ${String(value)})`);
  return v;
}

export function resolveSandboxOptions(options: SandboxOptions): ResolvedSandboxOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('createSandbox: options must be an object');
  const isolation = options.isolation ?? 'process';
  if (isolation !== 'process' && isolation !== 'inline') throw new TypeError(`createSandbox: option "isolation" must be 'process' or 'inline' (got ${String(isolation)})`);
  const lockdown = options.lockdown ?? 'auto';
  if (lockdown !== 'auto' && lockdown !== 'off') throw new TypeError(`createSandbox: option "lockdown" must be 'auto' or 'off' (got ${String(lockdown)})`);
  const services = options.services;
  if (!services || typeof services.spawn !== 'function' || !services.kv) throw new TypeError('createSandbox: option "services" must provide kv and spawn');
  return {
    isolation,
    hosts: positiveInt('hosts', options.hosts, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length),
    hostMemoryMb: positiveInt('hostMemoryMb', options.hostMemoryMb, 1024),
    maxIsolatesPerPool: positiveInt('maxIsolatesPerPool', options.maxIsolatesPerPool, 4),
    isolateMaxRuns: positiveInt('isolateMaxRuns', options.isolateMaxRuns, 2000),
    heapProbeEvery: positiveInt('heapProbeEvery', options.heapProbeEvery, 8),
    fetchMaxBytes: positiveInt('fetchMaxBytes', options.fetchMaxBytes, 4 * 1024 * 1024),
    readMaxBytes: positiveInt('readMaxBytes', options.readMaxBytes, 8 * 1024 * 1024),
    services,
    logger: options.logger ?? silentLogger,
    clock: options.clock ?? systemClock,
    processEnv: options.processEnv ?? process.env,
    lockdown,
  };
}
