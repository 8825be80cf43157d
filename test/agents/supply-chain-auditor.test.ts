// The auditor on real lockfiles: this repository's own (read through its ./project grant) and a crafted bad one
// whose every finding and deducted point is known.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FactoryError } from '../../core/errors.js';
import { type BundledFactory, FIXTURES, openBundledFactory, readFixture, REPO_ROOT } from './bundled.js';

let bundled: BundledFactory;
beforeAll(async () => {
  bundled = await openBundledFactory({ projectFrom: REPO_ROOT });
});
afterAll(() => bundled.close());

interface Report {
  project: string;
  packages: number;
  score: number;
  deductions: Array<{ rule: string; count: number; points: number; packages: Array<{ path: string; detail?: string }> }>;
  installScripts: string[];
  duplicates: Array<{ name: string; versions: string[] }>;
  licenses: Record<string, number>;
  missingIntegrity: Array<{ path: string }>;
  nonRegistry: Array<{ path: string; detail?: string }>;
}

describe('supply-chain-auditor on this repository', () => {
  it('reads package-lock.json and package.json from its granted ./project folder and reports what the lockfile says', async () => {
    const { output } = await bundled.factory.run('supply-chain-auditor', {});
    const report = output as Report;
    // The expected values come straight from the lockfile, so the test follows dependency updates.
    const lock = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { hasInstallScript?: boolean; license?: string; link?: boolean }> };
    const installed = Object.entries(lock.packages).filter(([key, entry]) => key.includes('node_modules/') && !entry.link);
    expect(report.project).toBe('agent-factory');
    expect(report.packages).toBe(installed.length);
    expect(report.installScripts).toEqual(installed.filter(([, entry]) => entry.hasInstallScript).map(([key]) => key).sort());
    expect(report.installScripts).toContain('node_modules/isolated-vm-patched');
    expect(Object.values(report.licenses).reduce((sum, n) => sum + n, 0)).toBe(installed.length);
    expect(report.licenses.MIT).toBe(installed.filter(([, entry]) => entry.license === 'MIT').length);
    expect(report.missingIntegrity).toEqual([]);
    expect(report.nonRegistry).toEqual([]);
    const installScripts = report.deductions.find((d) => d.rule === 'install-script');
    expect(installScripts?.points).toBe(Math.min(20, 2 * report.installScripts.length));
    expect(report.score).toBe(100 - report.deductions.reduce((sum, d) => sum + d.points, 0));
  });

  it('cannot read anything of the project beyond its grant', async () => {
    const error = await bundled.factory.run('supply-chain-auditor', { dir: '..' }).catch((caught: unknown) => caught);
    expect((error as FactoryError).code).toBe('E_PERMISSION_DENIED');
    expect((error as FactoryError).message).toContain('permissions.read');
  });
});

describe('supply-chain-auditor on a crafted bad lockfile', () => {
  it('finds every planted problem and explains every deducted point', async () => {
    const { output } = await bundled.factory.run('supply-chain-auditor', {
      lockfile: readFixture('bad-lockfile/package-lock.json'),
      manifest: readFixture('bad-lockfile/package.json'),
    });
    const report = output as Report;
    expect(report.project).toBe('crafted-bad-project');
    expect(report.packages).toBe(7);
    expect(report.deductions.map((d) => [d.rule, d.count, d.points, d.packages.map((p) => p.path)])).toEqual([
      ['missing-integrity', 2, 10, ['node_modules/native-thing/node_modules/left-pad', 'node_modules/tarball-dep']],
      ['insecure-resolved', 1, 10, ['node_modules/shady-http']],
      ['non-registry-resolved', 2, 6, ['node_modules/from-git', 'node_modules/tarball-dep']],
      ['install-script', 1, 2, ['node_modules/native-thing']],
      ['duplicate-versions', 2, 2, ['', '']],
      ['unknown-license', 1, 1, ['node_modules/shady-http/node_modules/left-pad']],
      ['not-locked', 1, 2, ['node_modules/not-installed']],
    ]);
    expect(report.score).toBe(67);
    expect(report.duplicates).toEqual([{ name: 'left-pad', versions: ['1.1.3', '1.3.0', '1.10.0'] }]);
    expect(report.licenses).toEqual({ MIT: 3, WTFPL: 2, ISC: 1, UNKNOWN: 1 });
    expect(report.nonRegistry.map((p) => p.detail)).toEqual([
      'http://registry.npmjs.org/shady-http/-/shady-http-1.0.0.tgz',
      'git+ssh://git@github.com/someone/from-git.git#0123456789abcdef0123456789abcdef01234567',
      'https://example.com/downloads/tarball-dep-0.1.0.tgz',
    ]);
  });

  it('reads the same fixture through the ./project grant to the same score', async () => {
    const other = await openBundledFactory({ projectFrom: path.join(FIXTURES, 'bad-lockfile') });
    try {
      expect(((await other.factory.run('supply-chain-auditor', {})).output as Report).score).toBe(67);
    } finally {
      await other.close();
    }
  });

  it('fails with the agent error code on a file that is not a lockfile', async () => {
    const error = await bundled.factory.run('supply-chain-auditor', { lockfile: '{ not json' }).catch((caught: unknown) => caught);
    expect((error as FactoryError).code).toBe('E_AGENT_THREW');
    expect((error as FactoryError).message).toContain('package-lock.json is not valid JSON');
  });
});
