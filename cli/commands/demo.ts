/** @module cli/commands/demo — `af demo`: runs the bundled agents as a workload in throwaway state, trains the learner, prints what happened; and the DEMO signing key the bundled agents are signed with. */
import { X509Certificate } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { RunRecord } from '../../core/run-record.js';
import { FactoryError } from '../../core/errors.js';
import { plural } from '../../core/plural.js';
import type { Suggestion } from '../../core/suggestion.js';
import { learn, type LearnResult, rankSuggestions } from '../../learner/index.js';
import { openStore } from '../../store/index.js';
import { keyIdOfCertificate, type KeyRecord, TemplateRegistry, type TrustStore } from '../../templates/index.js';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-status.js';
import { formatTable, printJson } from '../io.js';
import { progressBar } from '../progress.js';
import { findRepoRoot } from './bench.js';

/** Where the demo key material lives, beside the agents it signs (so it ships with them). */
export const DEMO_KEYS_DIR = '.demo-keys';

/** Environments the demo root is never trusted in, whoever asks. */
export const DEMO_FORBIDDEN_ENVIRONMENTS: readonly string[] = ['prod', 'production'];

/** The environment the demo runs in: not `dev`, so every bundled agent must pass signature verification. */
export const DEMO_ENV = 'demo';

/** The committed DEMO key material: anyone can read the private key, so nothing it signs proves anything outside a demo. */
export interface DemoKeys {
  dir: string;
  root: KeyRecord;
  signer: KeyRecord;
  /** PKCS#8 PEM of the signer's private key. The root's private key is not committed, so no new demo signer can be issued. */
  signerKeyPem: string;
}

function recordOf(certificatePem: string, role: 'root' | 'signer'): KeyRecord {
  const certificate = new X509Certificate(certificatePem);
  const notBefore = Date.parse(certificate.validFrom);
  return {
    id: keyIdOfCertificate(certificatePem),
    role,
    name: /CN=([^\n,]+)/.exec(certificate.subject)?.[1] ?? `demo ${role}`,
    certificatePem,
    notBefore,
    notAfter: Date.parse(certificate.validTo),
    createdAt: notBefore,
  };
}

/**
 * Reads the demo root certificate and the demo signer (certificate and private key) from `<agentsDir>/.demo-keys`.
 * @throws FactoryError `E_TEMPLATE_NOT_FOUND` when the folder is missing.
 */
export function loadDemoKeys(agentsDir: string): DemoKeys {
  const dir = path.join(agentsDir, DEMO_KEYS_DIR);
  const read = (file: string) => {
    try {
      return readFileSync(path.join(dir, file), 'utf8');
    } catch {
      throw new FactoryError('E_TEMPLATE_NOT_FOUND', `no demo key file ${path.join(dir, file)}; the bundled agents and their demo keys come with a checkout of agent-factory`);
    }
  };
  return { dir, root: recordOf(read('demo-root.cert.pem'), 'root'), signer: recordOf(read('demo-signer.cert.pem'), 'signer'), signerKeyPem: read('demo-signer.key.pem') };
}

/**
 * Adds the demo root to a trust store, so templates signed by the demo signer verify. Meant for throwaway state
 * (what `af demo` does) or a project that opts in knowingly; never for production.
 * @throws FactoryError `E_USAGE` when `env` is a production environment.
 */
export function trustDemoRoot(trust: TrustStore, env: string, keys: DemoKeys): Promise<KeyRecord> {
  if (DEMO_FORBIDDEN_ENVIRONMENTS.includes(env)) {
    throw new FactoryError('E_USAGE', `the DEMO root ${keys.root.id} is never trusted in ${env}: its signer's private key is public; sign the agents with your own keys (\`af keys init && af sign --all\`)`);
  }
  // Refused above at once (before anything is written); the write itself may answer later.
  return Promise.resolve(trust.key(keys.root.id) ? undefined : trust.addKey(keys.root)).then(() => keys.root);
}

export interface DemoCommandOptions {
  /** Runs in the workload. @default 2000 */
  runs?: number | string;
  /** Workload seed. @default 1 */
  seed?: number | string;
  json?: boolean;
}

/** The demo's default size: a few thousand runs that finish in well under a minute on two cores. */
export const DEMO_DEFAULT_RUNS = 2000;

/** What `benchmarks/workload/index.mjs` provides, as the demo uses it. */
interface WorkloadModule {
  DEMO_WEIGHTS: Record<string, number>;
  generateWorkload(options: Record<string, unknown>): Promise<{ records: RunRecord[]; summary: { runs: number; seconds: number } }>;
}

export interface DemoAgentSummary {
  agent: string;
  runs: number;
  /** Runs started by another agent through ctx.spawn. */
  spawned: number;
  errors: number;
  createMs: { p50: number; p95: number };
  runMs: { p50: number; p95: number };
}

export interface DemoSummary {
  env: string;
  demoRoot: string;
  runs: number;
  workloadSeconds: number;
  runsPerSecond: number;
  agents: DemoAgentSummary[];
  errorsByCode: Record<string, Record<string, number>>;
  denials: number;
  learn: Pick<LearnResult, 'backend' | 'runs' | 'templates' | 'seconds'> & { suggestions: number };
  topSuggestions: Array<Pick<Suggestion, 'id' | 'kind' | 'template' | 'confidence'> & { summary: string }>;
}

/** Nearest-rank percentile of an ascending list. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

/** Per agent: runs, spawned runs, errors and create/run percentiles; and errors by code per agent. */
export function summariseRecords(records: readonly RunRecord[]): Pick<DemoSummary, 'agents' | 'errorsByCode' | 'denials'> {
  const byAgent = new Map<string, RunRecord[]>();
  for (const record of records) {
    let list = byAgent.get(record.template);
    if (!list) byAgent.set(record.template, (list = []));
    list.push(record);
  }
  const errorsByCode: Record<string, Record<string, number>> = {};
  let denials = 0;
  const agents = [...byAgent.keys()].sort().map((agent): DemoAgentSummary => {
    const list = byAgent.get(agent) as RunRecord[];
    const create = list.map((record) => record.createMs).sort((a, b) => a - b);
    const run = list.map((record) => record.runMs).sort((a, b) => a - b);
    for (const record of list) {
      denials += record.denials.length;
      if (record.outcome !== 'error') continue;
      const code = record.errorCode ?? 'E_INTERNAL';
      const counts = (errorsByCode[code] ??= {});
      counts[agent] = (counts[agent] ?? 0) + 1;
    }
    return {
      agent,
      runs: list.length,
      spawned: list.filter((record) => record.depth > 0).length,
      errors: list.filter((record) => record.outcome === 'error').length,
      createMs: { p50: round(percentile(create, 50), 3), p95: round(percentile(create, 95), 3) },
      runMs: { p50: round(percentile(run, 50)), p95: round(percentile(run, 95)) },
    };
  });
  return { agents, errorsByCode, denials };
}

/**
 * Runs the bundled agents of this checkout as a seeded workload of `runs` runs (real sandboxes, in the `demo`
 * environment, every agent's signature verified against the DEMO root), trains the learner on the record and prints
 * a summary. Everything it writes goes to a temporary folder that is removed afterwards: a copy of `agents/` (so
 * the auditor's `./project` folder and the bundle cache never touch the checkout) and the state (`home`: store, trust).
 * @returns 0, or 1 when the workload produced no runs.
 * @throws FactoryError `E_USAGE` outside a source checkout (the workload generator lives in `benchmarks/`, which the
 *   published package does not ship) or for a bad `--runs`.
 */
export async function demoCommand(context: CommandContext, options: DemoCommandOptions = {}): Promise<number> {
  const demo = await prepareDemoState(context, options);
  try {
    if (options.json) printJson(context.streams, demo.summary);
    else context.streams.stdout.write(`${formatSummary(context, demo.summary)}\n`);
    return demo.summary.runs > 0 ? EXIT.ok : EXIT.failed;
  } finally {
    removeDemoState(demo);
  }
}

/** A project and its state, filled by the demo workload and the learner: what the terminal UI opens on for `npm start`. */
export interface DemoState {
  /** The temporary folder holding `root` and `home`; {@link removeDemoState} removes it. */
  scratch: string;
  /** A copy of the bundled agents (`root/agents`). */
  root: string;
  /** The state folder: the store (runs, suggestions, the DEMO root as a trusted key) and its keys folder. */
  home: string;
  /** {@link DEMO_ENV}: not a dev environment, so what runs there has a signature that verifies. */
  env: string;
  summary: DemoSummary;
}

export function removeDemoState(state: Pick<DemoState, 'scratch'>): void {
  signalCleanups.get(state.scratch)?.();
  rmSync(state.scratch, { recursive: true, force: true });
}

/** Removes the listeners {@link removeOnSignal} added, by scratch folder. */
const signalCleanups = new Map<string, () => void>();

/**
 * A demo killed with SIGTERM or SIGHUP (a closed terminal, `timeout`, a test's kill) still removes its temporary state:
 * without this the default action ends the process before any `finally` runs and the folder stays in the temp dir.
 * SIGINT is left alone: in the UI it is a key, and on the command line the `finally` blocks run after it.
 */
function removeOnSignal(scratch: string): void {
  const signals = ['SIGTERM', 'SIGHUP'] as const;
  const onSignal = (signal: NodeJS.Signals) => {
    rmSync(scratch, { recursive: true, force: true });
    process.exit(128 + (os.constants.signals[signal] ?? 15));
  };
  for (const signal of signals) process.once(signal, onSignal);
  signalCleanups.set(scratch, () => {
    for (const signal of signals) process.off(signal, onSignal);
    signalCleanups.delete(scratch);
  });
}

/**
 * The work of `af demo` without the printing, into a temporary folder the caller removes ({@link removeDemoState}):
 * the workload (progress on stderr), the learner, and the DEMO root trusted in that state alone.
 * @throws FactoryError as {@link demoCommand}; nothing is left behind when it throws.
 */
export async function prepareDemoState(context: CommandContext, options: DemoCommandOptions = {}): Promise<DemoState> {
  const runs = Number(options.runs ?? DEMO_DEFAULT_RUNS);
  const seed = Number(options.seed ?? 1);
  if (!Number.isInteger(runs) || runs < 1 || runs > 1_000_000) throw new FactoryError('E_USAGE', `--runs must be an integer from 1 to 1000000, not ${String(options.runs)}`);
  if (!Number.isInteger(seed)) throw new FactoryError('E_USAGE', `--seed must be an integer, not ${String(options.seed)}`);
  const repoRoot = findRepoRoot(path.dirname(fileURLToPath(import.meta.url)));
  if (repoRoot === undefined) {
    throw new FactoryError('E_USAGE', 'af demo runs from a source checkout of agent-factory (it uses benchmarks/workload/, which the package does not ship): git clone, npm ci, npm start');
  }
  const workload = (await import(pathToFileURL(path.join(repoRoot, 'benchmarks', 'workload', 'index.mjs')).href)) as WorkloadModule;
  const keys = loadDemoKeys(path.join(repoRoot, 'agents'));
  const { streams } = context;
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'af-demo-'));
  removeOnSignal(scratch);
  const root = path.join(scratch, 'project');
  const home = path.join(scratch, 'state');
  try {
    // A copy, so nothing the demo does (bundle caches, the auditor's project files) lands in the checkout. The demo
    // keys stay behind: the copy needs only the signatures, and the trust store gets the root certificate below.
    cpSync(path.join(repoRoot, 'agents'), path.join(root, 'agents'), { recursive: true, filter: (source) => path.basename(source) !== DEMO_KEYS_DIR });
    const projectDir = path.join(root, 'agents', 'supply-chain-auditor', 'project');
    mkdirSync(projectDir, { recursive: true });
    for (const file of ['package.json', 'package-lock.json']) if (existsSync(path.join(repoRoot, file))) cpSync(path.join(repoRoot, file), path.join(projectDir, file));
    mkdirSync(home, { recursive: true });
    let wall = Date.now();
    const clock = { now: () => wall, monotonic: () => performance.now(), set: (at: number) => void (wall = at) };
    // Its own keys folder, as a project has: the demo root goes in through addKey, the legitimate path, and is sealed.
    const store = openStore({ path: path.join(home, 'factory.db'), clock, auditAnchorDir: path.join(home, 'keys') });
    try {
      await trustDemoRoot(store.trust, DEMO_ENV, keys);
      const weights = workload.DEMO_WEIGHTS;
      if (!options.json) {
        streams.stderr.write(`af demo: ${plural(runs, 'run')} of ${Object.keys(weights).length} bundled agents in env "${DEMO_ENV}" (signatures checked against the DEMO root ${keys.root.id}); state in ${scratch}, removed afterwards\n`);
      }
      const bar = progressBar(streams.stderr, 'running ', streams.env);
      const generated = await workload.generateWorkload({
        root,
        home,
        store,
        clock,
        runs,
        seed,
        templates: weights,
        env: DEMO_ENV,
        devEnvironments: [],
        // Two runs in flight over two sandbox hosts: the machines this targets have two cores.
        hosts: Math.min(2, os.availableParallelism()),
        concurrency: 2,
        // Inputs at half the evaluation workload's size: the demo shows breadth, not the limits of each agent.
        sizeScale: 0.5,
        projectReadRate: 0.2,
        onProgress: (done: number, total: number) => {
          if (done % 25 === 0 || done === total) bar.update(done, total);
        },
      });
      bar.done();
      if (!options.json) streams.stderr.write(`ran ${plural(generated.summary.runs, 'run')} (with the children they spawned) in ${generated.summary.seconds.toFixed(1)} s; training the learner…\n`);
      const registry = new TemplateRegistry({ agentsDir: path.join(root, 'agents'), displayRoot: root, bundleCacheDir: path.join(home, 'cache', 'bundles'), env: DEMO_ENV });
      const learnBar = progressBar(streams.stderr, 'learning', streams.env);
      let learned: LearnResult;
      try {
        learned = await learn({ store, registry, env: DEMO_ENV, onProgress: (done, total, template) => learnBar.update(done, total, template) });
      } finally {
        learnBar.done();
        registry.close();
      }
      const ranked = rankSuggestions(await store.suggestions.list({ state: 'open' }), await store.suggestions.acceptanceByKind());
      const summary: DemoSummary = {
        env: DEMO_ENV,
        demoRoot: keys.root.id,
        runs: generated.records.length,
        workloadSeconds: round(generated.summary.seconds),
        runsPerSecond: Math.round(generated.records.length / generated.summary.seconds),
        ...summariseRecords(generated.records),
        learn: { backend: learned.backend, runs: learned.runs, templates: learned.templates, seconds: round(learned.seconds), suggestions: ranked.length },
        topSuggestions: ranked.slice(0, 8).map((s) => ({ id: s.id, kind: s.kind, template: s.template, confidence: round(s.confidence), summary: s.expectedImpact.summary })),
      };
      return { scratch, root, home, env: DEMO_ENV, summary };
    } finally {
      await store.close();
    }
  } catch (error) {
    removeDemoState({ scratch });
    throw error;
  }
}

function formatSummary(context: CommandContext, summary: DemoSummary): string {
  const { paint } = context;
  const ms = (value: number) => value.toFixed(value < 10 ? 2 : 1);
  const lines = [
    paint.bold(`Agent Factory demo — ${plural(summary.runs, 'run')} in ${summary.workloadSeconds.toFixed(1)} s (${summary.runsPerSecond} runs/s), env ${summary.env}, every agent signed by the DEMO key`),
    '',
    formatTable(
      ['AGENT', 'RUNS', 'SPAWNED', 'ERRORS', 'CREATE P50', 'CREATE P95', 'RUN P50', 'RUN P95'],
      summary.agents.map((a) => [a.agent, String(a.runs), String(a.spawned), a.errors > 0 ? paint.red(String(a.errors)) : '0', `${ms(a.createMs.p50)} ms`, `${ms(a.createMs.p95)} ms`, `${ms(a.runMs.p50)} ms`, `${ms(a.runMs.p95)} ms`]),
    ),
    '',
  ];
  const codes = Object.entries(summary.errorsByCode);
  if (codes.length === 0) lines.push('errors: none');
  else {
    lines.push('errors by code:');
    for (const [code, byAgent] of codes.sort()) {
      const total = Object.values(byAgent).reduce((sum, n) => sum + n, 0);
      lines.push(`  ${paint.bold(code)} ${total}  (${Object.entries(byAgent).map(([agent, n]) => `${agent} ${n}`).join(', ')})`);
    }
  }
  lines.push(`permission denials (reported to the agent and audited): ${summary.denials}`, '');
  lines.push(
    `learner: ${plural(summary.learn.runs, 'run')} of ${plural(summary.learn.templates, 'template')} in ${summary.learn.seconds.toFixed(1)} s (TensorFlow.js ${summary.learn.backend}), ${plural(summary.learn.suggestions, 'open suggestion')}`,
  );
  if (summary.topSuggestions.length > 0) {
    lines.push(
      '',
      formatTable(
        ['KIND', 'TEMPLATE', 'CONF', 'EXPECTED IMPACT'],
        summary.topSuggestions.map((s) => [s.kind, s.template, `${Math.round(s.confidence * 100)}%`, s.summary]),
      ),
    );
  }
  lines.push('', paint.dim('The demo state was temporary. In your project: af keys init && af sign --all, then af run, af learn, af suggestions.'));
  return lines.join('\n');
}
