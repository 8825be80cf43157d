// Signature verification, uncached and cached, and `af sign --all` on 100 templates.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { JsonTrustStore, KeyRing, SignatureVerifier, signDigest } from '../dist/index.js';
import { medianOfRounds, metric, runStandalone, sample, summarise, toMs } from './lib/measure.mjs';
import { createBenchProject } from './lib/project.mjs';

const AF = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin/af.js');

export default async function bench({ quick = false } = {}) {
  const scale = quick ? 0.2 : 1;
  const home = mkdtempSync(path.join(os.tmpdir(), 'af-bench-trust-'));
  try {
    const trust = new JsonTrustStore(path.join(home, 'trust.json'), { pollMs: 0 });
    const keyRing = new KeyRing({ keysDir: path.join(home, 'keys'), trust });
    await keyRing.init();
    const signer = keyRing.signer();

    // Distinct digests, so every verification misses the cache (the parsed roots are kept, as in a running factory).
    const count = Math.round(3000 * scale);
    const signed = Array.from({ length: count + 200 }, () => {
      const digest = randomBytes(32).toString('hex');
      return { digest, signature: signDigest(digest, signer, Date.now()) };
    });
    const verifier = new SignatureVerifier(trust);
    const uncached = await sample((i) => verifier.verify(signed[i % signed.length].digest, signed[i % signed.length].signature), {
      warmup: 200,
      samples: count,
    });
    const hot = signed[0];
    const cached = await sample(() => verifier.verify(hot.digest, hot.signature), { warmup: 2000, samples: Math.round(20000 * scale) });

    // af sign --all: a whole process, 100 templates, keys in the project's .af.
    const templates = Object.fromEntries(
      Array.from({ length: 100 }, (_, i) => [`agent-${String(i).padStart(3, '0')}`, { source: `export default (input) => ({ n: ${i}, input });\n` }]),
    );
    const project = createBenchProject(templates);
    execFileSync(AF, ['keys', 'init'], { cwd: project.root, stdio: 'ignore' });
    const rounds = quick ? 1 : 3;
    const signAll = await medianOfRounds(rounds, () => {
      const started = performance.now();
      execFileSync(AF, ['sign', '--all'], { cwd: project.root, stdio: 'ignore' });
      return (performance.now() - started) / 1000;
    });
    rmSync(project.root, { recursive: true, force: true });

    return {
      name: 'trust',
      title: 'Trust: signature verification and signing',
      metrics: [
        metric('verify, uncached signature (RSA-2048, node:crypto)', 'ms', toMs(uncached), { stat: 'p95', max: 0.2 }),
        metric('verify, cached (revocation and expiry re-checked)', 'µs', cached, { stat: 'p95', max: 5 }),
        metric('`af sign --all`, 100 templates, whole process', 's', { ...summarise([signAll]), n: rounds }),
      ],
      notes: [
        'Uncached: a signature not seen before, by a signer whose certificate the verifier has already parsed and chain-checked (done once per signer certificate, like the parsed roots).',
        `\`af sign --all\`: median of ${rounds} runs of the whole process; the first bundles every template, later runs read the bundle cache.`,
      ],
    };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

await runStandalone(import.meta.url, bench);
