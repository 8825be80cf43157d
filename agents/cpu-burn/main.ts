// Counts primes below `input.n` by trial division: deliberately plain integer work with no allocation.
import { countPrimes } from './primes.ts';

export default function run(input: { n: number }) {
  return { primes: countPrimes(input.n) };
}
