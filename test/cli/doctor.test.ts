// `af doctor`: what the machine gives the sandbox, read from the real machine (Node, isolated-vm, each lockdown
// layer), the project's store, keys and policy; non-zero outside dev when something is missing.
import { chownSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DoctorReport } from '../../cli/commands/doctor.js';
import { isolateLibrary, isPatchedIsolatedVm } from '../../sandbox/isolate-library.js';
import { LOCKDOWN_LAYERS, lockdownSupport } from '../../sandbox/lockdown.js';
import { runAf } from '../helpers/cli.js';
import { createProject, type TempProject } from '../helpers/project.js';
import { CHECKOUT, isRoot, readableByUser, runAsUser, runWithoutUserNamespaces, switchingOffUnavailable, unprivilegedUid, userNamespacesUnavailable } from '../helpers/unprivileged.js';

const ivmVersion = isolateLibrary().version as string;

describe('af doctor', () => {
  let project: TempProject | undefined;
  afterEach(() => project?.remove());

  it('--json reports Node, isolated-vm and whether it is patched, every lockdown layer, store, keys and policy', async () => {
    project = createProject({ 'agents/.keep': '' });
    const { status, stdout } = await runAf(project.root, ['doctor', '--json']);
    expect(status).toBe(0);
    const report = JSON.parse(stdout) as DoctorReport;
    expect(report.env).toBe('dev');
    expect(report.node.version).toBe(process.versions.node);
    expect(report.isolatedVm).toMatchObject({ version: ivmVersion, patched: isPatchedIsolatedVm(ivmVersion), advisory: 'GHSA-864f-rcv7-6rh4' });
    expect(report.lockdown.map((layer) => layer.layer)).toEqual([...LOCKDOWN_LAYERS]);
    for (const support of lockdownSupport()) {
      const layer = report.lockdown.find((one) => one.layer === support.layer);
      expect(layer?.active).toBe(support.available);
      expect(layer?.via).toBe(support.available ? support.via : undefined);
      expect(layer?.reason.length).toBeGreaterThan(0);
    }
    expect(report.store).toMatchObject({ path: path.join(project.root, '.af', 'factory.db'), exists: false, healthy: true });
    expect(report.keys).toEqual({ dir: path.join(project.root, '.af', 'keys'), privateKeys: 0 });
    expect(report.policy).toMatchObject({ source: 'built-in default policy' });
    expect(report.ok).toBe(report.problems.length === 0);
  });

  it('--json on Node 22 and later reports the patched isolated-vm (>= 6.2.0) that npm installed for it; on Node 20, 5.0.x as unpatched', async () => {
    project = createProject({ 'agents/.keep': '' });
    const report = JSON.parse((await runAf(project.root, ['doctor', '--json'])).stdout) as DoctorReport;
    const [major = 0, minor = 0] = String(report.isolatedVm.version).split('.').map(Number);
    if (Number(process.versions.node.split('.')[0]) >= 22) {
      expect(report.isolatedVm.patched).toBe(true);
      expect(major > 6 || (major === 6 && minor >= 2)).toBe(true);
    } else {
      expect(report.isolatedVm.patched).toBe(false);
      expect(report.isolatedVm.version).toMatch(/^5\.0\./);
    }
  });

  it('counts the signing keys made by af keys init and sees a healthy store', async () => {
    project = createProject({ 'agents/.keep': '' });
    expect((await runAf(project.root, ['keys', 'init'])).status).toBe(0);
    const report = JSON.parse((await runAf(project.root, ['doctor', '--json'])).stdout) as DoctorReport;
    expect(report.keys.privateKeys).toBeGreaterThanOrEqual(1);
    expect(report.store).toMatchObject({ exists: true, healthy: true, problems: [] });
  });

  it('in prod, exits 1 and says what is missing (here: an unpatched isolated-vm, or a lockdown layer), or 0 when nothing is', async () => {
    project = createProject({ 'agents/.keep': '' });
    const { status, stdout, stderr } = await runAf(project.root, ['--env', 'prod', 'doctor']);
    const missing = !isPatchedIsolatedVm(ivmVersion) || lockdownSupport().some((layer) => !layer.available);
    expect(status).toBe(missing ? 1 : 0);
    expect(stdout).toContain(`isolated-vm   ${ivmVersion}`);
    if (!isPatchedIsolatedVm(ivmVersion)) expect(stderr).toMatch(/missing for prod:[\s\S]*GHSA-864f-rcv7-6rh4[\s\S]*Node 22 or 24/);
    // The same in dev is a note, not a failure.
    expect((await runAf(project.root, ['doctor'])).status).toBe(0);
  });

  it('a damaged store is reported, and fails prod', async () => {
    project = createProject({ 'agents/.keep': '' });
    mkdirSync(path.join(project.root, '.af'), { recursive: true });
    writeFileSync(path.join(project.root, '.af', 'factory.db'), 'this is not a database, just text that is long enough to be read as one '.repeat(100));
    const { status, stdout } = await runAf(project.root, ['--env', 'prod', 'doctor', '--json']);
    const report = JSON.parse(stdout) as DoctorReport;
    expect(report.store).toMatchObject({ exists: true, healthy: false });
    expect(report.problems.some((problem) => problem.startsWith(`store ${path.join(project.root, '.af', 'factory.db')}`))).toBe(true);
    expect(status).toBe(1);
  });

  it('knows the patched isolated-vm lines', () => {
    expect(['5.0.4', '6.1.9', '6.2.0', '6.3.1', '7.0.0', '7.0.1', '7.1.0'].map(isPatchedIsolatedVm)).toEqual([false, false, true, true, false, true, true]);
  });
});

/** Why `af` cannot run as the unprivileged user from this checkout; undefined when it can. */
function afUnavailable(): string | undefined {
  const files = ['bin/af.js', 'dist/cli/main.js', 'node_modules/commander/package.json'].map((file) => path.join(CHECKOUT, file));
  return userNamespacesUnavailable() ?? (readableByUser(files) ? undefined : `the checkout ${CHECKOUT} is not readable by uid ${unprivilegedUid}, and af needs it all (node_modules too)`);
}
const unprivileged = afUnavailable();
const switchOff = unprivileged ?? switchingOffUnavailable();

describe(`af doctor run by an unprivileged user (uid ${unprivilegedUid})`, () => {
  let project: TempProject | undefined;
  afterEach(() => project?.remove());
  /** A project the user owns. */
  function ownProject(): TempProject {
    const made = createProject({ 'agents/.keep': '' });
    if (isRoot) for (const dir of [made.root, made.agentsDir]) chownSync(dir, unprivilegedUid, unprivilegedUid);
    return made;
  }
  const af = path.join(CHECKOUT, 'bin', 'af.js');
  const env = { PATH: process.env.PATH ?? '', NO_COLOR: '1' };

  it.skipIf(unprivileged !== undefined)(`reports the network layer on, via a user namespace${unprivileged ? ` (skipped: ${unprivileged})` : ''}`, async () => {
    project = ownProject();
    const json = await runAsUser([process.execPath, af, 'doctor', '--json'], { cwd: project.root, env });
    expect(json.status, json.stderr).toBe(0);
    const network = (JSON.parse(json.stdout) as DoctorReport).lockdown.find((layer) => layer.layer === 'network');
    expect(network).toMatchObject({ active: true, via: 'user namespace' });
    const text = await runAsUser([process.execPath, af, 'doctor'], { cwd: project.root, env });
    expect(text.stdout).toMatch(/^ {2}network {5}on {2}via user namespace; unshare --user .*--net: an empty network namespace/m);
  });

  it.skipIf(switchOff !== undefined)(`where user namespaces are switched off, reports the network layer off with the reason, and fails prod${switchOff ? ` (skipped: ${switchOff})` : ''}`, async () => {
    project = ownProject();
    const ran = await runWithoutUserNamespaces([process.execPath, af, '--env', 'prod', 'doctor'], { cwd: project.root, env });
    const reason = 'not root, and no user namespace for it: user namespaces are switched off (sysctl user.max_user_namespaces = 0)';
    expect(ran.status).toBe(1);
    expect(ran.stdout).toContain(`  network     off ${reason}`);
    expect(ran.stderr).toContain(`sandbox host lockdown: network is off (${reason})`);
  });
});
