// What ran, through the real CLI: `af run` names the version, digest, source and signer (stderr in text, fields in
// --json), `af runs` tells two builds of one version apart, and `af rollback` puts a whole version back.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAf } from '../helpers/cli.js';
import { createProject, type TempProject } from '../helpers/project.js';

let project: TempProject;
const af = (...args: string[]) => runAf(project.root, args, { AF_LOG_LEVEL: 'error' });
const file = (name: string) => path.join(project.agentsDir, 'hi', name);

beforeAll(() => {
  project = createProject({
    'agents/hi/agent.json': { name: 'hi', version: '1.0.0', entry: 'main.ts' },
    'agents/hi/main.ts': "export default () => ({ said: 'one' });\n",
  });
});

afterAll(() => project.remove());

describe('af run says which code ran', () => {
  let first: { digest: string };
  it('in text: version, short digest, on disk, unsigned in dev; in --json: the same as fields', async () => {
    const text = await af('run', 'hi');
    expect(text.status).toBe(0);
    expect(text.stderr).toMatch(/ran hi 1\.0\.0 \(digest [0-9a-f]{12}, on disk, signature not verified: dev only\)/);
    const json = await af('run', 'hi', '--json');
    first = JSON.parse(json.stdout);
    expect(first).toMatchObject({ ok: true, version: '1.0.0', digest: expect.stringMatching(/^[0-9a-f]{64}$/), source: 'on-disk', signed: false, output: { said: 'one' } });
    expect(text.stderr).toContain(`digest ${first.digest.slice(0, 12)}`);
  });

  it('af runs shows two edits of 1.0.0 with different short digests', async () => {
    writeFileSync(file('main.ts'), "export default () => ({ said: 'two' });\n");
    const second = JSON.parse((await af('run', 'hi', '--json')).stdout);
    expect(second).toMatchObject({ version: '1.0.0', output: { said: 'two' } });
    expect(second.digest).not.toBe(first.digest);
    const runs = await af('runs', '--template', 'hi');
    expect(runs.stdout).toContain(`1.0.0 ${first.digest.slice(0, 12)}`);
    expect(runs.stdout).toContain(`1.0.0 ${second.digest.slice(0, 12)}`);
  });

  it('outside dev: the signed version, and which key signed it', async () => {
    expect((await af('keys', 'init')).status).toBe(0);
    expect((await af('sign', 'hi')).status).toBe(0);
    const run = await af('--env', 'prod', 'run', 'hi', '--json');
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ version: '1.0.0', source: 'on-disk', signed: true, keyId: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect((await af('--env', 'prod', 'run', 'hi')).stderr).toContain(`signed by ${report.keyId}`);
  });
});

describe('af rollback restores a whole version', () => {
  it('main.ts, agent.json and agent.sig of the version, without the module only the newer version had', async () => {
    const manifest1 = readFileSync(file('agent.json'), 'utf8');
    const sig1 = readFileSync(file('agent.sig'), 'utf8');
    writeFileSync(file('agent.json'), `${JSON.stringify({ name: 'hi', version: '1.1.0', entry: 'main.ts' }, null, 2)}\n`);
    writeFileSync(file('extra.ts'), "export const extra = 'new';\n");
    writeFileSync(file('main.ts'), "import { extra } from './extra.ts';\nexport default () => ({ said: 'three', extra });\n");
    expect((await af('sign', 'hi')).status).toBe(0);
    expect(JSON.parse((await af('--env', 'prod', 'run', 'hi', '--json')).stdout)).toMatchObject({ version: '1.1.0', output: { said: 'three' } });

    const rolled = await af('rollback', 'hi', '--to', '1.0.0');
    expect(rolled.status).toBe(0);
    expect(rolled.stdout).toContain('rolled hi back from 1.1.0 to 1.0.0');
    expect(rolled.stdout).toContain('removed extra.ts');
    expect(readFileSync(file('main.ts'), 'utf8')).toBe("export default () => ({ said: 'two' });\n");
    expect(readFileSync(file('agent.json'), 'utf8')).toBe(manifest1);
    expect(readFileSync(file('agent.sig'), 'utf8')).toBe(sig1);
    expect(existsSync(file('extra.ts'))).toBe(false);
    // What is on disk is the signed 1.0.0 again: prod runs it.
    expect(JSON.parse((await af('--env', 'prod', 'run', 'hi', '--json')).stdout)).toMatchObject({ version: '1.0.0', signed: true, output: { said: 'two' } });
  });

  it('undoes an edit made under the same version number, and rescues a folder that no longer loads', async () => {
    writeFileSync(file('main.ts'), "export default () => ({ said: 'edited' });\n");
    expect(JSON.parse((await af('run', 'hi', '--json')).stdout)).toMatchObject({ version: '1.0.0', signed: false, output: { said: 'edited' } });
    const undone = await af('rollback', 'hi', '--to', '1.0.0');
    expect([undone.status, undone.stdout]).toEqual([0, expect.stringContaining('back from 1.0.0 to 1.0.0')]);
    expect(readFileSync(file('main.ts'), 'utf8')).toBe("export default () => ({ said: 'two' });\n");
    expect((await af('rollback', 'hi', '--to', '1.0.0')).stderr).toContain('"hi" is already at 1.0.0 (digest');

    writeFileSync(file('agent.json'), '{ "name": "hi", ');
    expect((await af('rollback', 'hi')).stderr).toContain('name the version to put back with --to');
    const rescued = await af('rollback', 'hi', '--to', '1.0.0');
    expect([rescued.status, rescued.stdout]).toEqual([0, expect.stringContaining('back from a broken edit to 1.0.0')]);
    expect(JSON.parse((await af('--env', 'prod', 'run', 'hi', '--json')).stdout)).toMatchObject({ version: '1.0.0', signed: true, output: { said: 'two' } });
  });
});
