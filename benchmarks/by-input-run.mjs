// agent.run of a trivial agent with and without a limits.byInput rule (inline and process isolation), in µs, to show
// the rule costs the run path nothing measurable. Standalone: `node benchmarks/by-input-run.mjs [distDir] [--no-rule]`
// (distDir defaults to ./dist; point it at another build to compare; --no-rule for a build that has no byInput;
// --inline for inline isolation only).
import { rmSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { summarise } from './lib/measure.mjs';
import { createBenchProject } from './lib/project.mjs';

const args = process.argv.slice(2);
const distDir = path.resolve(args.find((a) => !a.startsWith('--')) ?? 'dist');
const withRule = !args.includes('--no-rule');
const { createFactory, createMemoryRunSink } = await import(pathToFileURL(path.join(distDir, 'runtime', 'index.js')).href);

const SOURCE = 'export default (input) => ({ n: input.items.length });\n';
const templates = { plain: { manifest: { limits: { cpuMs: 1000 } }, source: SOURCE } };
if (withRule) templates.ruled = { manifest: { limits: { cpuMs: 1000, byInput: { measure: '/items', cpuMs: { base: 50, exponent: 1 }, timeoutMs: { base: 100, exponent: 0.5 } } } }, source: SOURCE };

const { root } = createBenchProject(templates);
const input = { items: [1, 2, 3, 4, 5, 6, 7, 8] };
const ROUNDS = 5;
const SAMPLES = 2000;
const results = {};
for (const isolation of args.includes('--inline') ? ['inline'] : ['inline', 'process']) {
  const factory = await createFactory({ root, isolation, hosts: 1, store: false, runSink: createMemoryRunSink() });
  for (const name of Object.keys(templates)) {
    const agent = await factory.createAgent(name);
    const samples = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < 200; i++) await agent.run(input);
      for (let i = 0; i < SAMPLES; i++) {
        const start = process.hrtime.bigint();
        await agent.run(input);
        samples.push(Number(process.hrtime.bigint() - start) / 1000);
      }
    }
    await agent.dispose();
    const s = summarise(samples);
    results[`${isolation} ${name}`] = { p50: s.p50.toFixed(1), p95: s.p95.toFixed(1), p99: s.p99.toFixed(1), n: s.n };
  }
  await factory.close();
}
console.table(results);
rmSync(root, { recursive: true, force: true });
