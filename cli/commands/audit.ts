/** @module cli/commands/audit — `af audit [dir]`: runs the supply-chain-auditor agent on a project's lockfile in the sandbox, adds `npm audit` when the registry answers, writes a CycloneDX SBOM, and fails below a score. */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FactoryError } from '../../core/errors.js';
import { createFactory } from '../../runtime/index.js';
import { escapeLine, escapeStrings } from '../../core/terminal-text.js';
import type { CommandContext } from '../context.js';
import { EXIT, exitStatusFor } from '../exit-status.js';
import { formatTable, printJson } from '../io.js';

export const AUDITOR = 'supply-chain-auditor';

/** The score below which `af audit` exits 1. */
export const DEFAULT_MIN_SCORE = 70;

/** How long `npm audit` may wait for the registry before the audit goes on without it. */
export const NPM_AUDIT_TIMEOUT_MS = 20_000;

export interface AuditCommandOptions {
  /** Exit 1 below this score (0-100). @default 70 */
  minScore?: number | string;
  json?: boolean;
  /** Where to write the CycloneDX SBOM. @default `<dir>/sbom.cdx.json`, beside the audited package-lock.json */
  sbom?: string;
  /** Skip `npm audit` (offline use). @default false */
  skipNpmAudit?: boolean;
  /** @default 20000 */
  npmTimeoutMs?: number;
}

/** What the auditor agent returns (the parts the command prints). */
export interface AuditorReport {
  project: string | null;
  lockfileVersion: number;
  registry: string;
  packages: number;
  dev: number;
  score: number;
  deductions: Deduction[];
  missingIntegrity: Array<{ path: string; detail?: string }>;
  nonRegistry: Array<{ path: string; detail?: string }>;
  installScripts: string[];
  duplicates: Array<{ name: string; versions: string[] }>;
  licenses: Record<string, number>;
  hasManifest: boolean;
}

export interface Deduction {
  rule: string;
  description: string;
  count: number;
  pointsEach: number;
  maxPoints: number;
  points: number;
  packages: Array<{ path: string; name: string; version: string; detail?: string }>;
}

export type NpmAuditResult =
  | { answered: true; vulnerabilities: Record<'info' | 'low' | 'moderate' | 'high' | 'critical' | 'total', number>; advisories: Array<{ name: string; severity: string; title: string }> }
  | { answered: false; reason: string };

/** Points a known vulnerability costs, by severity; they join the agent's deductions so the score stays explained. */
const VULNERABILITY_RULES = [
  { severity: 'critical', pointsEach: 15, maxPoints: 45 },
  { severity: 'high', pointsEach: 8, maxPoints: 32 },
  { severity: 'moderate', pointsEach: 3, maxPoints: 15 },
  { severity: 'low', pointsEach: 1, maxPoints: 5 },
] as const;

/**
 * Audits the project in `dir` (default: the current project). The agent cannot read an arbitrary folder: its template
 * grants only `./project` inside its own folder. So the command copies the template (manifest, sources, `agent.sig`:
 * the digest and so the signature do not depend on where the folder is) into a temporary project and puts copies of
 * exactly two files, `package.json` and `package-lock.json`, into that `project` folder. Nothing else of the audited
 * project is reachable from the sandbox, and no manifest is rewritten at run time.
 *
 * The template comes from the current project's `agents/supply-chain-auditor` when it has one (a copy it vetted and
 * signed with its own keys, which `prod` requires), else from the agents bundled with agent-factory, signed with the
 * DEMO key: `dev` runs those with a warning, other environments refuse them.
 * @returns 0 when the score is at least `minScore`, 1 below it.
 * @throws FactoryError `E_USAGE` for a folder without package-lock.json or a bad `--min-score`; the agent's code if its run fails.
 */
export async function auditCommand(context: CommandContext, dir: string | undefined, options: AuditCommandOptions = {}): Promise<number> {
  const { streams } = context;
  const config = context.config();
  const minScore = Number(options.minScore ?? DEFAULT_MIN_SCORE);
  if (!Number.isFinite(minScore) || minScore < 0 || minScore > 100) throw new FactoryError('E_USAGE', `--min-score must be a number from 0 to 100, not ${String(options.minScore)}`);
  const target = path.resolve(streams.cwd, dir ?? config.root);
  const lockfile = path.join(target, 'package-lock.json');
  if (!existsSync(lockfile)) {
    throw new FactoryError('E_USAGE', `no package-lock.json in ${target}; create one with \`npm install --package-lock-only\` (yarn and pnpm lockfiles are not read)`);
  }
  const templateDir = findAuditorTemplate(config.agentsDir);
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'af-audit-'));
  try {
    const copy = path.join(scratch, 'agents', AUDITOR);
    // A `project` folder left in the source template (by hand) must not leak into this audit.
    cpSync(templateDir, copy, { recursive: true, filter: (source) => path.relative(templateDir, source).split(path.sep)[0] !== 'project' });
    mkdirSync(path.join(copy, 'project'));
    for (const file of ['package.json', 'package-lock.json']) if (existsSync(path.join(target, file))) cpSync(path.join(target, file), path.join(copy, 'project', file));
    // The project's policy still applies to the copy.
    if (existsSync(config.policyPath)) cpSync(config.policyPath, path.join(scratch, 'policy.json'));

    const [run, npmAudit] = await Promise.all([
      runAuditor(context, scratch),
      options.skipNpmAudit ? Promise.resolve<NpmAuditResult>({ answered: false, reason: 'skipped (--skip-npm-audit)' }) : npmAuditOf(target, streams.env, options.npmTimeoutMs ?? NPM_AUDIT_TIMEOUT_MS),
    ]);
    if (!run.ok) {
      streams.stderr.write(`${context.errPaint.red('error')} ${context.errPaint.bold(escapeLine(run.code))}: the ${AUDITOR} agent failed: ${escapeLine(run.message)}\n`);
      return exitStatusFor(run.code as Parameters<typeof exitStatusFor>[0]);
    }
    const report = run.output;
    const deductions = [...report.deductions, ...vulnerabilityDeductions(npmAudit)];
    const score = Math.max(0, 100 - deductions.reduce((sum, deduction) => sum + deduction.points, 0));
    // Beside the lockfile it describes: the SBOM belongs to the audited project, not to this tool's state folder.
    const sbomFile = path.resolve(streams.cwd, options.sbom ?? path.join(target, 'sbom.cdx.json'));
    const sbom = await writeSbom(target, sbomFile, streams.env, options.npmTimeoutMs ?? NPM_AUDIT_TIMEOUT_MS);
    const passed = score >= minScore;
    if (options.json) printJson(streams, { dir: target, score, minScore, passed, deductions, report, npmAudit, sbom });
    // The report quotes the audited project (package names, paths, licences): text, never terminal controls.
    else streams.stdout.write(`${formatReport(context, escapeLine(target), escapeStrings(report), escapeStrings(deductions), score, minScore, escapeStrings(npmAudit), escapeStrings(sbom))}\n`);
    return passed ? EXIT.ok : EXIT.failed;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The project's own auditor if it has one, else the one bundled with agent-factory (found from this module's location). */
export function findAuditorTemplate(projectAgentsDir: string): string {
  const own = path.join(projectAgentsDir, AUDITOR);
  if (existsSync(path.join(own, 'agent.json'))) return own;
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    const bundled = path.join(dir, 'agents', AUDITOR);
    if (existsSync(path.join(bundled, 'agent.json')) && existsSync(path.join(dir, 'package.json'))) return bundled;
    if (path.dirname(dir) === dir) break;
  }
  throw new FactoryError('E_TEMPLATE_NOT_FOUND', `no ${AUDITOR} template in ${projectAgentsDir} or beside agent-factory; reinstall agent-factory`);
}

type AuditorRun = { ok: true; output: AuditorReport } | { ok: false; code: string; message: string };

async function runAuditor(context: CommandContext, scratch: string): Promise<AuditorRun> {
  const config = context.config();
  // The run is recorded in the project's own store, like `af run`; one host is enough for one run.
  const factory = await createFactory({ root: scratch, home: config.home, env: config.env, hosts: 1, watch: false, processEnv: context.streams.env, logger: context.logger });
  try {
    const report = await factory.runSettled(AUDITOR, {});
    return report.ok ? { ok: true, output: report.output as AuditorReport } : { ok: false, code: report.error.code, message: report.error.message };
  } finally {
    await factory.close();
  }
}

interface NpmOutput {
  stdout: string;
  stderr: string;
  /** The spawn or timeout failure, when there was one (a non-zero exit alone is not one: npm audit exits 1 when it finds something). */
  failure?: string;
}

function runNpm(args: string[], cwd: string, env: Record<string, string | undefined>, timeoutMs: number): Promise<NpmOutput> {
  return new Promise((resolve) => {
    execFile(
      process.platform === 'win32' ? 'npm.cmd' : 'npm',
      args,
      { cwd, env: { ...env, npm_config_update_notifier: 'false', npm_config_fund: 'false' } as NodeJS.ProcessEnv, timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const failure =
          error && (error as NodeJS.ErrnoException & { killed?: boolean }).killed ? `no answer within ${Math.round(timeoutMs / 1000)} s`
          : error && typeof (error as NodeJS.ErrnoException).code === 'string' ? `cannot run npm: ${(error as NodeJS.ErrnoException).code}`
          : undefined;
        resolve({ stdout, stderr, ...(failure ? { failure } : {}) });
      },
    );
  });
}

/** `npm audit --json` from the lockfile alone; says why when the registry does not answer. */
export async function npmAuditOf(target: string, env: Record<string, string | undefined>, timeoutMs: number): Promise<NpmAuditResult> {
  const result = await runNpm(['audit', '--json', '--package-lock-only'], target, env, timeoutMs);
  if (result.failure) return { answered: false, reason: result.failure };
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(result.stdout) as Record<string, unknown>;
  } catch {
    return { answered: false, reason: firstLine(result.stderr) ?? 'npm audit printed no JSON' };
  }
  const metadata = parsed.metadata as { vulnerabilities?: Record<string, number> } | undefined;
  if (!metadata?.vulnerabilities) {
    // npm prints the registry's failure as JSON too: { message, statusCode } or { error: { code, summary } }.
    const error = parsed.error as { code?: string; summary?: string } | undefined;
    const reason = (parsed.message as string | undefined) ?? [error?.code, error?.summary].filter(Boolean).join(' ');
    return { answered: false, reason: reason || firstLine(result.stderr) || 'the registry gave no audit data' };
  }
  const counts = metadata.vulnerabilities;
  const vulnerabilities = { info: counts.info ?? 0, low: counts.low ?? 0, moderate: counts.moderate ?? 0, high: counts.high ?? 0, critical: counts.critical ?? 0, total: counts.total ?? 0 };
  const advisories: Array<{ name: string; severity: string; title: string }> = [];
  for (const [name, entry] of Object.entries((parsed.vulnerabilities as Record<string, { severity?: string; via?: unknown[] }> | undefined) ?? {})) {
    const via = (entry.via ?? []).find((item): item is { title: string } => typeof item === 'object' && item !== null && 'title' in item);
    advisories.push({ name, severity: entry.severity ?? 'unknown', title: via?.title ?? 'through a dependency' });
  }
  return { answered: true, vulnerabilities, advisories };
}

function firstLine(text: string): string | undefined {
  return text
    .split('\n')
    .map((line) => line.replace(/^npm (error|warn|ERR!) /, '').trim())
    .find((line) => line !== '' && !line.startsWith('Unknown user config') && !line.includes('A complete log of this run'));
}

function vulnerabilityDeductions(audit: NpmAuditResult): Deduction[] {
  if (!audit.answered) return [];
  return VULNERABILITY_RULES.flatMap((rule) => {
    const count = audit.vulnerabilities[rule.severity];
    if (count === 0) return [];
    return [
      {
        rule: `npm-audit-${rule.severity}`,
        description: `a package has a known ${rule.severity} vulnerability (npm audit)`,
        count,
        pointsEach: rule.pointsEach,
        maxPoints: rule.maxPoints,
        points: Math.min(rule.maxPoints, count * rule.pointsEach),
        packages: audit.advisories.filter((advisory) => advisory.severity === rule.severity).map((advisory) => ({ path: `node_modules/${advisory.name}`, name: advisory.name, version: '', detail: advisory.title })),
      },
    ];
  });
}

/** `npm sbom --sbom-format cyclonedx` from the lockfile, written to `file`. */
async function writeSbom(target: string, file: string, env: Record<string, string | undefined>, timeoutMs: number): Promise<{ file: string; components: number } | { file: null; reason: string }> {
  const result = await runNpm(['sbom', '--sbom-format', 'cyclonedx', '--package-lock-only'], target, env, timeoutMs);
  if (result.failure) return { file: null, reason: result.failure };
  let components: number;
  try {
    components = ((JSON.parse(result.stdout) as { components?: unknown[] }).components ?? []).length;
  } catch {
    return { file: null, reason: firstLine(result.stderr) ?? 'npm sbom printed no JSON (it needs npm 10.2 or later)' };
  }
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, result.stdout);
  return { file, components };
}

function formatReport(
  context: CommandContext,
  target: string,
  report: AuditorReport,
  deductions: Deduction[],
  score: number,
  minScore: number,
  npmAudit: NpmAuditResult,
  sbom: Awaited<ReturnType<typeof writeSbom>>,
): string {
  const { paint } = context;
  const verdict = score >= minScore ? paint.green(`${score}/100`) : paint.red(`${score}/100`);
  const lines = [
    `${paint.bold('supply-chain audit')} of ${report.project ?? target} (${target})`,
    `lockfile v${report.lockfileVersion}: ${report.packages} packages (${report.dev} dev-only), expected registry ${report.registry}${report.hasManifest ? '' : ', no package.json'}`,
    '',
    `score ${verdict} (minimum ${minScore})`,
  ];
  if (deductions.length === 0) lines.push('no points deducted');
  else {
    lines.push(
      '',
      formatTable(
        ['RULE', 'FOUND', 'POINTS', 'WHY', 'E.G.'],
        deductions.map((d) => [
          d.rule,
          String(d.count),
          `-${d.points}${d.points === d.maxPoints && d.count * d.pointsEach > d.maxPoints ? ` (cap ${d.maxPoints})` : ''}`,
          `${d.pointsEach} per finding: ${d.description}`,
          d.packages
            .slice(0, 3)
            .map((p) => (p.version ? `${p.name}@${p.version}` : p.name))
            .join(', ') + (d.packages.length > 3 ? ', …' : ''),
        ]),
      ),
    );
  }
  lines.push('', `install scripts (${report.installScripts.length}): ${report.installScripts.map((p) => p.replace(/^.*node_modules\//, '')).join(', ') || 'none'}`);
  const duplicates = report.duplicates.slice(0, 10).map((d) => `${d.name} (${d.versions.join(', ')})`);
  lines.push(`several versions (${report.duplicates.length}): ${duplicates.join(', ') || 'none'}${report.duplicates.length > 10 ? ', …' : ''}`);
  lines.push(`licences: ${Object.entries(report.licenses).map(([license, n]) => `${license} ${n}`).join(', ') || 'none'}`);
  if (report.missingIntegrity.length > 0) lines.push(`without integrity: ${report.missingIntegrity.map((p) => p.path).join(', ')}`);
  if (report.nonRegistry.length > 0) lines.push(`not from the registry: ${report.nonRegistry.map((p) => `${p.path} (${p.detail ?? ''})`).join(', ')}`);
  lines.push('');
  if (npmAudit.answered) {
    const v = npmAudit.vulnerabilities;
    lines.push(`npm audit: ${v.total} known vulnerabilities (critical ${v.critical}, high ${v.high}, moderate ${v.moderate}, low ${v.low}, info ${v.info})`);
  } else lines.push(paint.yellow(`npm audit: no advisories checked, the registry did not answer: ${npmAudit.reason}`));
  lines.push(sbom.file !== null ? `SBOM (CycloneDX, ${sbom.components} components): ${sbom.file}` : paint.yellow(`SBOM: not written: ${sbom.reason}`));
  return lines.join('\n');
}
