// Measures agent.run p50/p95/p99 on a warm agent with and without debug.captureFailures (successful and failing runs).
// Usage: node --no-node-snapshot scripts/measure-capture.mjs "$PWD/dist" [plain]   (plain: only the template without capture, for builds before it existed)
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
const dist = process.argv[2];
const { createFactory } = await import(path.join(dist, 'index.js'));
const root = mkdtempSync(path.join(os.tmpdir(), 'af-cap-'));
const tpl = (name, extra) => {
  mkdirSync(path.join(root, 'agents', name), { recursive: true });
  writeFileSync(path.join(root, 'agents', name, 'agent.json'), JSON.stringify({ name, version: '1.0.0', entry: 'main.js', ...extra }));
  writeFileSync(path.join(root, 'agents', name, 'main.js'), 'export default (input) => { if (input.fail) throw new Error("no"); return { n: input.n }; };\n');
};
tpl('plain', {});
if (process.argv[3] !== 'plain') tpl('captured', { debug: { captureFailures: true } });
const factory = await createFactory({ root, hosts: 1, prewarm: true });
const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];
const input = { n: 1, text: 'x'.repeat(200) };
const out = {};
const names = process.argv[3] === 'plain' ? ['plain'] : ['plain', 'captured'];
for (const round of [0, 1]) for (const name of names) {
  const agent = await factory.createAgent(name);
  for (let i = 0; i < 500; i++) await agent.run(input);
  const times = [];
  for (let i = 0; i < 5000; i++) { const t = performance.now(); await agent.run(input); times.push(performance.now() - t); }
  await agent.dispose();
  times.sort((a, b) => a - b);
  if (round === 1) out[name] = { p50: pct(times, 50).toFixed(4), p95: pct(times, 95).toFixed(4), p99: pct(times, 99).toFixed(4) };
}
// Failure path cost (for information): opted-in vs not.
for (const name of names) {
  const agent = await factory.createAgent(name);
  const times = [];
  for (let i = 0; i < 1500; i++) { const t = performance.now(); await agent.runSettled({ ...input, fail: true }); if (i >= 300) times.push(performance.now() - t); }
  await agent.dispose();
  times.sort((a, b) => a - b);
  out[`${name} (failing)`] = { p50: pct(times, 50).toFixed(4), p95: pct(times, 95).toFixed(4), p99: pct(times, 99).toFixed(4) };
}
await factory.close();
rmSync(root, { recursive: true, force: true });
console.log(JSON.stringify(out));
