// The agent code every peer runs, as one plain script, so each peer executes byte-identical JavaScript.
// Inputs and outputs cross every boundary as JSON text: each peer has to copy data in and out anyway,
// and one format for all keeps the comparison about the isolation mechanism, not the serialiser.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformSync } from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));

/** agents/cpu-burn/primes.ts with its types stripped: the same function the factory runs in the sandbox. */
export const PRIMES_TS = readFileSync(path.join(here, '../../agents/cpu-burn/primes.ts'), 'utf8');
const PRIMES_JS = transformSync(PRIMES_TS, { loader: 'ts', format: 'esm' }).code.replace(/^export\s+/m, '');

/** The two workloads: a trivial echo and the CPU-bound prime count. */
export const AGENTS = {
  trivial: '(input) => input',
  primes: '(input) => countPrimes(input.n)',
};

/** A classic script defining `globalThis.__run(json) → json` for the given workload. */
export function agentScript(kind) {
  if (!(kind in AGENTS)) throw new Error(`unknown workload ${kind}`);
  return `${PRIMES_JS}\nconst __agent = ${AGENTS[kind]};\nglobalThis.__run = (json) => JSON.stringify(__agent(JSON.parse(json)));\n`;
}

let compiled = 0;

/**
 * countPrimes freshly compiled in this process (a unique source each call, so V8's compilation cache and type
 * feedback start cold): the native baseline for code that is also fresh in its unit, so JIT warm-up is paid on
 * both sides of the ratio.
 */
export function freshNativePrimes() {
  return new Function(`// fresh ${compiled++}\n${PRIMES_JS}\nreturn countPrimes;`)();
}

/** countPrimes compiled in this process as a module, as the runtime benchmark does. */
export async function nativePrimes() {
  const { code } = transformSync(PRIMES_TS, { loader: 'ts', format: 'esm' });
  const module = await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
  return module.countPrimes;
}
