// `af audit`: the supply-chain-auditor agent in the sandbox over a copy of exactly two files, npm audit when the
// registry answers (and a plain statement when it does not), a CycloneDX SBOM, and the exit status by score.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { auditCommand } from '../../cli/commands/audit.js';
import { FactoryError } from '../../core/errors.js';
import { FIXTURES, REPO_ROOT } from '../agents/bundled.js';
import { captureContext } from '../helpers/streams.js';

const home = mkdtempSync(path.join(os.tmpdir(), 'af-audit-test-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

function capture() {
  // A registry that refuses connections at once: what a machine without network sees, without the wait.
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, AF_HOME: home, npm_config_registry: 'http://127.0.0.1:9/', npm_config_fetch_retries: '0' };
  const { context, printed } = captureContext({ cwd: REPO_ROOT, env });
  return { context, out: () => printed.stdout, err: () => printed.stderr };
}

describe('af audit', () => {
  it('audits this repository: passes the default minimum, says npm audit got no answer, writes the SBOM', async () => {
    const { context, out } = capture();
    const sbom = path.join(home, 'repo.cdx.json');
    const status = await auditCommand(context, undefined, { json: true, sbom });
    const result = JSON.parse(out()) as {
      dir: string;
      score: number;
      minScore: number;
      passed: boolean;
      deductions: Array<{ rule: string; points: number }>;
      report: { project: string; score: number };
      npmAudit: { answered: boolean; reason?: string };
      sbom: { file: string; components: number };
    };
    expect(status).toBe(0);
    expect([result.dir, result.minScore, result.passed, result.report.project]).toEqual([REPO_ROOT, 70, true, 'agent-factory']);
    expect(result.score).toBe(100 - result.deductions.reduce((sum, d) => sum + d.points, 0));
    expect(result.score).toBe(result.report.score);
    expect(result.npmAudit.answered).toBe(false);
    expect(result.npmAudit.reason).toMatch(/ECONNREFUSED|127\.0\.0\.1|no answer/);
    const bom = JSON.parse(readFileSync(sbom, 'utf8')) as { bomFormat: string; components: unknown[] };
    expect(bom.bomFormat).toBe('CycloneDX');
    expect(bom.components.length).toBe(result.sbom.components);
    // The copy for the sandbox lived in a temporary folder: nothing was added to the bundled template.
    expect(existsSync(path.join(REPO_ROOT, 'agents', 'supply-chain-auditor', 'project'))).toBe(false);
  }, 90_000);

  it('fails a crafted bad project below the minimum score and prints the rule behind every deducted point', async () => {
    const { context, out } = capture();
    const status = await auditCommand(context, path.join(FIXTURES, 'bad-lockfile'), { sbom: path.join(home, 'bad.cdx.json'), skipNpmAudit: true });
    expect(status).toBe(1);
    const text = out();
    expect(text).toContain('supply-chain audit of crafted-bad-project');
    expect(text).toContain('lockfile v3: 7 packages (2 dev-only)');
    expect(text).toContain('score 67/100 (minimum 70)');
    for (const line of [
      'missing-integrity      2      -10',
      'insecure-resolved      1      -10',
      'non-registry-resolved  2      -6',
      'install-script         1      -2',
      'duplicate-versions     2      -2',
      'unknown-license        1      -1',
      'not-locked             1      -2',
    ]) {
      expect(text).toContain(line);
    }
    expect(text).toContain('several versions (1): left-pad (1.1.3, 1.3.0, 1.10.0)');
    expect(text).toContain('licences: MIT 3, WTFPL 2, ISC 1, UNKNOWN 1');
    expect(text).toContain('npm audit: no advisories checked, the registry did not answer: skipped (--skip-npm-audit)');
  }, 60_000);

  it('passes the same project with a lower --min-score', async () => {
    const { context } = capture();
    expect(await auditCommand(context, path.join(FIXTURES, 'bad-lockfile'), { minScore: '60', sbom: path.join(home, 'bad2.cdx.json'), skipNpmAudit: true, json: true })).toBe(0);
  }, 60_000);

  it('refuses a folder without package-lock.json and a score outside 0-100', async () => {
    const { context } = capture();
    await expect(auditCommand(context, FIXTURES, {})).rejects.toThrow(/no package-lock.json in .*fixtures\/agents; create one with `npm install --package-lock-only`/);
    const error = await auditCommand(context, undefined, { minScore: 'high' }).catch((caught: unknown) => caught);
    expect((error as FactoryError).code).toBe('E_USAGE');
  });
});
