// `af keys`, `af sign` and `af verify` against a real project folder, and `af run` refusing what is not signed in prod.
import { appendFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/index.js';
import { unpatchedIsolateLibraryWarning } from '../../sandbox/isolate-library.js';
import { lockdownReport, missingLayersWarning } from '../../sandbox/lockdown.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

let project: TempProject;

async function af(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const stdin = new PassThrough();
  stdin.end();
  const status = await runCli(args, { stdout: { write: (c: string) => (stdout += c) }, stderr: { write: (c: string) => (stderr += c) }, stdin, env: { NO_COLOR: '1' }, cwd: project.root });
  return { status, stdout, stderr };
}

beforeAll(() => {
  project = createProject({
    ...simpleTemplate('alpha'),
    ...simpleTemplate('beta'),
    'agents/base/agent.json': { name: 'base', version: '1.0.0', abstract: true },
  });
});
afterAll(() => project.remove());

describe('af keys, sign, verify', () => {
  it('walks the whole trust workflow', async () => {
    const init = await af('keys', 'init', '--json');
    expect(init.status).toBe(0);
    const { root, signer } = JSON.parse(init.stdout);
    expect(root).toMatchObject({ role: 'root', status: 'active', subject: 'Agent Factory local root' });
    expect(signer).toMatchObject({ role: 'signer', status: 'active', subject: 'signer-1' });

    expect((await af('keys', 'init')).status).toBe(2);

    const sign = await af('sign', '--all');
    expect(sign.status).toBe(0);
    expect(sign.stdout).toBe(`✓ alpha 1.0.0 signed with ${signer.id} (signer-1)\n- base skipped (abstract)\n✓ beta 1.0.0 signed with ${signer.id} (signer-1)\n`);
    const sig = JSON.parse(readFileSync(path.join(project.agentsDir, 'alpha/agent.sig'), 'utf8'));
    expect(sig).toMatchObject({ keyId: signer.id, algorithm: 'RSA-PKCS1-v1_5-SHA256' });

    const verified = await af('verify', '--all', '--env', 'prod', '--json');
    expect(verified.status).toBe(0);
    expect(JSON.parse(verified.stdout).results.map((r: { name: string; ok: boolean }) => [r.name, r.ok])).toEqual([['alpha', true], ['base', true], ['beta', true]]);
    const ran = await af('run', 'alpha', '--env', 'prod', '--input', '{"x":1}', '--json');
    // A signed run in prod says nothing, except exactly what this machine lacks: a patched isolate library, and the
    // host lockdown layers it cannot give (e.g. the unprivileged user, in a checkout others cannot read).
    const warnings = [unpatchedIsolateLibraryWarning(), missingLayersWarning(lockdownReport('auto'))].filter((warning) => warning !== undefined);
    expect(ran.stderr).toBe(warnings.map((warning) => `warn [af] ${warning}\n`).join(''));
    expect(ran.status).toBe(0);

    appendFileSync(path.join(project.agentsDir, 'beta/main.ts'), '// changed after signing\n');
    const tampered = await af('verify', 'beta');
    expect(tampered.status).toBe(3);
    expect(tampered.stdout).toContain('✗ beta E_SIGNATURE_INVALID: the template changed since it was signed');
    const refused = await af('run', 'beta', '--env', 'prod', '--json');
    expect(refused.status).toBe(3);
    expect(JSON.parse(refused.stdout).error.code).toBe('E_SIGNATURE_INVALID');

    const rotated = JSON.parse((await af('keys', 'rotate', '--json')).stdout);
    expect(rotated).toMatchObject({ subject: 'signer-2', status: 'active' });
    expect((await af('verify', 'alpha')).status).toBe(0);

    const revoked = await af('keys', 'revoke', signer.id, '--reason', 'laptop stolen');
    expect(revoked.status).toBe(0);
    const afterRevoke = await af('verify', 'alpha');
    expect(afterRevoke.status).toBe(3);
    expect(afterRevoke.stdout).toContain('E_KEY_REVOKED');
    const list = JSON.parse((await af('keys', 'list', '--json')).stdout);
    expect(list.find((key: { id: string }) => key.id === signer.id)).toMatchObject({ status: 'revoked', reason: 'laptop stolen' });

    expect((await af('sign', 'alpha')).stdout).toContain(`signed with ${rotated.id} (signer-2)`);
    expect((await af('verify', 'alpha')).status).toBe(0);
  });

  it('explains usage mistakes with exit 2', async () => {
    const both = await af('sign', 'alpha', '--all');
    expect(both.status).toBe(2);
    expect(both.stderr).toContain('give a template name or --all, not both');
    expect((await af('keys', 'revoke', '0000000000000000')).status).toBe(4);
  });
});
