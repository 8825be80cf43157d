/** @module learner/tf-api — the TensorFlow.js the learner uses (core with gradients and chained ops, layers, the wasm and cpu backends), bundled into one file at build time. */
// Why a bundle: tfjs-core's CommonJS main registers neither gradients nor chained ops (`tensor.slice()`), and its
// ES modules import without file extensions, which Node's loader refuses. scripts/build.mjs bundles this entry
// with esbuild from the packages' ES modules, so dist holds ONE copy of tfjs-core that layers and the backends
// register into (about 1.8 MB). Tests load that bundle too (vitest.config.ts), so they check what ships.
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js';
import '@tensorflow/tfjs-backend-cpu';

export * from '@tensorflow/tfjs-core';
export * from '@tensorflow/tfjs-layers';
export { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
