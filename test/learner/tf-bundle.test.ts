// The learner's TensorFlow.js as it ships: dist/learner/tf-api.js, loaded by plain Node (not vite), trains on wasm.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bundle = `${root}dist/learner/tf-api.js`;

// What the learner needs of TensorFlow.js: a backend (wasm, not the cpu fallback that would hide a broken wasm
// bundle), chained ops (`tensor.slice`), gradients (an optimizer step lowers the loss) and layers.
const script = `
const { initTf, tf } = await import(${JSON.stringify(`${root}dist/learner/tf.js`)});
const backend = await initTf();
const x = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
const y = tf.tensor2d([[1], [2], [3]]);
const model = tf.sequential();
model.add(tf.layers.dense({ inputShape: [2], units: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }) }));
const optimizer = tf.train.adam(0.1);
const losses = [];
for (let step = 0; step < 20; step++) losses.push(optimizer.minimize(() => tf.losses.meanSquaredError(y, model.apply(x)), true).dataSync()[0]);
const backends = Object.keys(tf.engine().registryFactory).sort();
console.log(JSON.stringify({ backend, backends, slice: x.slice([0, 1], [-1, 1]).arraySync(), first: losses[0], last: losses.at(-1) }));
`;

describe('the TensorFlow.js bundle in dist', () => {
  it('loads in plain Node and trains on the wasm backend', () => {
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const out = JSON.parse(result.stdout) as { backend: string; backends: string[]; slice: number[][]; first: number; last: number };
    expect(out.backend).toBe('wasm');
    expect(out.backends).toEqual(['cpu', 'wasm']);
    expect(out.slice).toEqual([[2], [4], [6]]);
    expect(out.last).toBeLessThan(out.first / 2);
  });

  it('holds one copy of TensorFlow.js: it loads no @tensorflow package at run time', () => {
    const text = readFileSync(bundle, 'utf8');
    expect(text).not.toMatch(/(?:\bfrom|\bimport|\brequire)\s*\(?\s*["']@tensorflow\//);
  });
});
