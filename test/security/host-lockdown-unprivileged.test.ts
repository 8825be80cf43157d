// The operating-system lockdown of sandbox hosts for a sandbox started by an unprivileged user, as most users start
// one: its hosts get their empty network namespace from a new user namespace (sandbox/lockdown: `unshare --user
// --map-current-user --net`) instead of root's `unshare --net`. The escape-simulation host
// (test/fixtures/sandbox/escape-host.mjs) runs arbitrary JavaScript in the host process itself, as an isolate escape
// would. Started by uid 65534 (through setpriv when the tests run as root; the tests' own user otherwise), the escaped
// code must not connect to a server on 127.0.0.1, read the project's keys, write, spawn or read its parent's
// environment; from outside, the host must sit in network and user namespaces of its own, as the same uid, with no
// capability. Where user namespaces are switched off the sandbox still runs and says why the layer is missing.
// Run with AF_TEST_LOCKDOWN_OFF=1 to see the lockdown tests fail.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingServer, listenCounting } from '../helpers/counting-server.js';
import {
  asUser,
  isRoot,
  runWithoutUserNamespaces,
  switchingOffUnavailable,
  type UnprivilegedRuntime,
  unprivilegedRuntime,
  unprivilegedUid,
  userNamespacesUnavailable,
} from '../helpers/unprivileged.js';

const MODE = process.env.AF_TEST_LOCKDOWN_OFF === '1' ? 'off' : 'auto';
const unavailable = userNamespacesUnavailable();
const cannotSwitchOff = switchingOffUnavailable();
/** A skipped test says why in its name. */
const named = (text: string, why: string | undefined) => (why === undefined ? text : `${text} (skipped: ${why})`);

interface Outcome {
  value?: unknown;
  threw?: { code: string; message: string };
}
interface Namespaces {
  net: string;
  user: string;
}
/** A host as the test sees it from outside, while the driver holds it alive. */
interface SeenHost extends Namespaces {
  uid: number;
  capEff: string;
  layers: string[];
}
interface Escaped<P extends string> {
  outcomes: Record<P, Outcome>;
  lockdown: Array<{ layer: string; active: boolean; reason: string }>;
  host: SeenHost;
  driver: Namespaces;
}

const namespaces = (pid: number): Namespaces => ({ net: readlinkSync(`/proc/${pid}/ns/net`), user: readlinkSync(`/proc/${pid}/ns/user`) });

describe.skipIf(unavailable !== undefined)(named('an escaped host of a sandbox started by an unprivileged user', unavailable), () => {
  const secret = `s3cret-${randomBytes(8).toString('hex')}`;
  const keyText = `PRIVATE KEY ${randomBytes(8).toString('hex')}`;
  let runtime: UnprivilegedRuntime;
  let project: string;
  let keyFile: string;
  let dropDir: string;
  let server: CountingServer;

  const probes = () => ({
    connect: `return await new Promise((resolve, reject) => { const s = m.net.connect(${server.port}, '127.0.0.1', () => { s.end(); resolve('connected'); }); s.on('error', reject); });`,
    readKeys: `return m.fs.readFileSync(${JSON.stringify(keyFile)}, 'utf8');`,
    write: `m.fs.writeFileSync(${JSON.stringify(path.join(dropDir, 'pwned.txt'))}, 'pwned'); return 'written';`,
    spawn: `return m.child_process.execFileSync('/bin/echo', ['spawned']).toString();`,
    env: `let parent; try { parent = m.fs.readFileSync('/proc/' + m.process.ppid + '/environ', 'latin1'); } catch (e) { parent = 'denied ' + e.code; } return JSON.stringify(m.process.env) + '\\n' + parent;`,
  });
  type Probe = keyof ReturnType<typeof probes>;

  /**
   * Starts escape-driver.mjs as the unprivileged user (a sandbox with one escape host, `lockdown` and only `layers`
   * of the supported ones when given), runs every probe in the host, and looks at the host from outside while the
   * driver holds it alive.
   */
  async function escape(lockdown: 'auto' | 'off', layers?: string[]): Promise<Escaped<Probe>> {
    rmSync(path.join(dropDir, 'pwned.txt'), { force: true });
    server.reset();
    const code = probes();
    const args = JSON.stringify({ dist: runtime.dist, lockdown, layers, probes: Object.values(code), hold: true });
    const child = spawn(...asUser([process.execPath, path.join(runtime.fixtures, 'escape-driver.mjs'), args]), {
      cwd: project,
      env: { ...process.env, AF_ESCAPE_SECRET: secret },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const { held, rest } = await holdAndRelease(child, (line) => {
      const { driver, hosts } = JSON.parse(line) as { driver: number; hosts: Array<{ pid: number; layers: string[] }> };
      expect(hosts).toHaveLength(1);
      const { pid, layers: applied } = hosts[0] as { pid: number; layers: string[] };
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const host: SeenHost = {
        ...namespaces(pid),
        uid: Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]),
        capEff: /^CapEff:\s+(\w+)/m.exec(status)?.[1] ?? '',
        layers: applied,
      };
      return { host, driver: namespaces(driver) };
    });
    const { outcomes, lockdown: report } = JSON.parse(rest) as { outcomes: Outcome[]; lockdown: Escaped<Probe>['lockdown'] };
    return {
      outcomes: Object.fromEntries(Object.keys(code).map((key, i) => [key, outcomes[i] as Outcome])) as Record<Probe, Outcome>,
      lockdown: report,
      ...held,
    };
  }

  function expectStopped(probe: Probe, outcome: Outcome): void {
    expect(outcome.threw, `${probe} should have been stopped, got ${JSON.stringify(outcome)}`).toBeDefined();
    if (probe === 'write') expect(existsSync(path.join(dropDir, 'pwned.txt'))).toBe(false);
    if (probe === 'connect') expect(server.connections).toBe(0);
  }

  beforeAll(async () => {
    runtime = unprivilegedRuntime();
    // The user's own project, keys only theirs: what stops the escaped code is the lockdown, not the file's mode.
    project = mkdtempSync(path.join(os.tmpdir(), 'af-userns-'));
    keyFile = path.join(project, '.af', 'keys', 'signing.key');
    mkdirSync(path.dirname(keyFile), { recursive: true, mode: 0o700 });
    writeFileSync(keyFile, keyText, { mode: 0o600 });
    if (isRoot) for (const owned of [project, path.dirname(path.dirname(keyFile)), path.dirname(keyFile), keyFile]) chownSync(owned, unprivilegedUid, unprivilegedUid);
    dropDir = mkdtempSync(path.join(os.tmpdir(), 'af-drop-'));
    chmodSync(dropDir, 0o777);
    server = await listenCounting();
  });
  afterAll(async () => {
    await server?.close();
    for (const dir of [project, dropDir]) if (dir) rmSync(dir, { recursive: true, force: true });
    runtime?.remove();
  });

  it(`with the lockdown off, the escaped code of uid ${unprivilegedUid} does everything (the probes work)`, async () => {
    const got = await escape('off');
    expect(got.outcomes.connect.value).toBe('connected');
    expect(server.connections).toBe(1);
    expect(got.outcomes.readKeys.value).toBe(keyText);
    expect(got.outcomes.write.value).toBe('written');
    expect(got.outcomes.spawn.value).toBe('spawned\n');
    expect(String(got.outcomes.env.value)).toContain(secret);
    expect(got.host.net).toBe(got.driver.net);
  }, 60_000);

  it(`with every layer, the host has its own network and user namespaces as uid ${unprivilegedUid} with no capability, and the escaped code cannot connect, read the keys, write, spawn or read the environment`, async () => {
    const got = await escape(MODE);
    const network = got.lockdown.find((layer) => layer.layer === 'network');
    expect(network?.active, JSON.stringify(network)).toBe(true);
    expect(network?.reason).toMatch(/^unshare --user .*--net: /);
    expect(got.host.layers).toEqual(expect.arrayContaining(['network', 'permission', 'user', 'limits']));
    // Seen from outside: namespaces of its own, the user's uid (not root: the namespace maps the user to itself).
    expect(got.host.net).not.toBe(got.driver.net);
    expect(got.host.user).not.toBe(got.driver.user);
    expect(got.host.uid).toBe(unprivilegedUid);
    expect(got.host.capEff).toMatch(/^0+$/);
    for (const probe of ['connect', 'readKeys', 'write', 'spawn'] as const) expectStopped(probe, got.outcomes[probe]);
    expect(JSON.stringify(got.outcomes.env)).not.toContain(secret);
    expect(JSON.stringify(got.outcomes)).not.toContain(keyText);
  }, 60_000);

  it('the user-namespace network layer alone stops a connection to 127.0.0.1', async () => {
    const got = await escape(MODE, ['network']);
    expect(got.host.net).not.toBe(got.driver.net);
    expectStopped('connect', got.outcomes.connect);
    expect(got.outcomes.connect.threw?.code).toMatch(/^(ENETUNREACH|ECONNREFUSED|EADDRNOTAVAIL)$/);
  }, 60_000);

  it.skipIf(cannotSwitchOff !== undefined)(
    named('where user namespaces are switched off, the sandbox still runs, and reports the network layer missing and why', cannotSwitchOff),
    async () => {
      const args = JSON.stringify({ dist: runtime.dist, lockdown: 'auto', probes: ['return m.process.getuid();'] });
      const ran = await runWithoutUserNamespaces([process.execPath, path.join(runtime.fixtures, 'escape-driver.mjs'), args], { cwd: project });
      expect(ran.status, ran.stderr).toBe(0);
      const { outcomes, lockdown } = JSON.parse(ran.stdout) as { outcomes: Outcome[]; lockdown: Escaped<Probe>['lockdown'] };
      expect(outcomes[0]?.value).toBe(unprivilegedUid);
      expect(lockdown.find((layer) => layer.layer === 'network')).toEqual({
        layer: 'network',
        active: false,
        reason: 'not root, and no user namespace for it: user namespaces are switched off (sysctl user.max_user_namespaces = 0)',
      });
      // The other layers do not depend on it.
      expect(lockdown.filter((layer) => layer.active).map((layer) => layer.layer)).toEqual(['permission', 'user', 'limits']);
    },
    60_000,
  );
});

/**
 * Reads the driver's first line (its live hosts), lets `inspect` look at them, releases the driver with a line on
 * its stdin, and returns what it printed after.
 */
async function holdAndRelease<T>(child: ChildProcess, inspect: (line: string) => T): Promise<{ held: T; rest: string }> {
  let stdout = '';
  let stderr = '';
  let held: { value: T } | { error: unknown } | undefined;
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    const end = stdout.indexOf('\n');
    if (held !== undefined || end < 0) return;
    try {
      held = { value: inspect(stdout.slice(0, end)) };
    } catch (error) {
      held = { error };
    }
    child.stdin?.end('\n');
  });
  const status = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  if (held === undefined) throw new Error(`the escape driver ended (status ${status}) before it held its hosts: ${stderr}${stdout}`);
  if ('error' in held) throw held.error;
  expect(status, stderr).toBe(0);
  return { held: held.value, rest: stdout.slice(stdout.indexOf('\n') + 1) };
}
