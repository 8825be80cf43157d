// Writes a throwaway project of benchmark templates: { name: { manifest, source } } → agents/<name>/.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function createBenchProject(templates) {
  const root = mkdtempSync(path.join(os.tmpdir(), 'af-bench-'));
  for (const [name, { manifest = {}, source }] of Object.entries(templates)) {
    const dir = path.join(root, 'agents', name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'agent.json'), JSON.stringify({ name, version: '1.0.0', entry: 'main.ts', ...manifest }, null, 2));
    writeFileSync(path.join(dir, 'main.ts'), source);
  }
  return { root };
}
