/** @module learner/tf — loads TensorFlow.js once with the best backend here: tfjs-node if installed, else WebAssembly (SIMD) from the package's own files, else cpu. */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from './tf-api.js';

let ready: Promise<string> | undefined;

/**
 * Initialises TensorFlow.js and returns the backend in use. Nothing is fetched: the wasm binaries
 * are read from `@tensorflow/tfjs-backend-wasm`'s own `dist/` folder (the bundle holds its code, not its binaries).
 */
export function initTf(): Promise<string> {
  ready ??= chooseBackend();
  return ready;
}

async function chooseBackend(): Promise<string> {
  const require = createRequire(import.meta.url);
  // tfjs-node is optional (its install downloads libtensorflow, which fails offline): use it when a user has it.
  // Its backend registers in the engine and kernel registry TensorFlow.js keeps on globalThis, which our bundled copy shares.
  try {
    require.resolve('@tensorflow/tfjs-node');
    await import('@tensorflow/tfjs-node' as string);
    if (await tf.setBackend('tensorflow')) return finish('tensorflow');
  } catch {
    // not installed
  }
  try {
    tf.setWasmPaths(`${path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist')}${path.sep}`);
    if (await tf.setBackend('wasm')) return finish('wasm');
  } catch {
    // fall through to cpu
  }
  await tf.setBackend('cpu');
  return finish('cpu');
}

async function finish(name: string): Promise<string> {
  await tf.ready();
  return name;
}

export { tf };
