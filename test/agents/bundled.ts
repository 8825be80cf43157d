// A real factory over a throwaway copy of the bundled agents, in a non-dev environment that trusts only the DEMO
// root: every run also proves the agent's committed signature verifies.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEMO_KEYS_DIR, loadDemoKeys, trustDemoRoot } from '../../cli/commands/demo.js';
import { type AgentFactory, createFactory, createMemoryRunSink, type MemoryRunSink } from '../../runtime/index.js';
import { JsonTrustStore } from '../../templates/index.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const REPO_AGENTS = path.join(REPO_ROOT, 'agents');
export const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'agents');

export interface BundledFactory {
  factory: AgentFactory;
  sink: MemoryRunSink;
  root: string;
  close(): Promise<void>;
}

/** @param projectFrom a folder whose package.json and package-lock.json become the auditor's ./project */
export async function openBundledFactory(options: { projectFrom?: string } = {}): Promise<BundledFactory> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'af-bundled-'));
  cpSync(REPO_AGENTS, path.join(root, 'agents'), { recursive: true, filter: (source) => path.basename(source) !== DEMO_KEYS_DIR });
  if (options.projectFrom) {
    const project = path.join(root, 'agents', 'supply-chain-auditor', 'project');
    mkdirSync(project);
    for (const file of ['package.json', 'package-lock.json']) cpSync(path.join(options.projectFrom, file), path.join(project, file));
  }
  const trustStore = new JsonTrustStore(path.join(root, 'trust.json'), { pollMs: 0 });
  await trustDemoRoot(trustStore, 'demo', loadDemoKeys(REPO_AGENTS));
  const sink = createMemoryRunSink();
  const factory = await createFactory({ root, home: path.join(root, '.af'), env: 'demo', devEnvironments: [], store: false, runSink: sink, trustStore, hosts: 1 });
  return {
    factory,
    sink,
    root,
    close: async () => {
      await factory.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export const readFixture = (relative: string) => readFileSync(path.join(FIXTURES, relative), 'utf8');
