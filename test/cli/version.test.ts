// `af --version` is the package's version, read from package.json: no literal to forget at release time.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAf } from '../helpers/cli.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const manifest = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };

let copy: string;
beforeAll(() => {
  // The built package as npm would install it, with a version no literal in the code could match.
  copy = mkdtempSync(path.join(os.tmpdir(), 'af-version-'));
  for (const folder of ['bin', 'dist']) cpSync(path.join(REPO, folder), path.join(copy, folder), { recursive: true });
  writeFileSync(path.join(copy, 'package.json'), JSON.stringify({ ...manifest, version: '98.76.5-test.1' }, null, 2));
  symlinkSync(path.join(REPO, 'node_modules'), path.join(copy, 'node_modules'), 'dir');
});
afterAll(() => rmSync(copy, { recursive: true, force: true }));

const af = (root: string, args: string[]) => spawnSync(process.execPath, [path.join(root, 'bin/af.js'), ...args], { cwd: os.tmpdir(), encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });

describe('af --version', () => {
  it("prints package.json's version, in process and from the built bin/af.js", async () => {
    const inProcess = await runAf(os.tmpdir(), ['--version']);
    expect([inProcess.status, inProcess.stdout]).toEqual([0, `${manifest.version}\n`]);
    const built = af(REPO, ['--version']);
    expect([built.status, built.stdout, built.stderr]).toEqual([0, `${manifest.version}\n`, '']);
    expect(af(REPO, ['-V']).stdout).toBe(`${manifest.version}\n`);
  });

  it('follows package.json: an installed copy with another version prints that one', () => {
    const result = af(copy, ['--version']);
    expect([result.status, result.stdout, result.stderr]).toEqual([0, '98.76.5-test.1\n', '']);
  });
});
