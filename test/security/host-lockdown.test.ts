// The operating-system lockdown of sandbox hosts (sandbox/lockdown). An escape-simulation host
// (test/fixtures/sandbox/escape-host.mjs) runs arbitrary JavaScript in the host process itself, as an isolate escape
// would; the escaped code must not read the project's keys, write anywhere, connect to 127.0.0.1, spawn, or read
// the supervisor's environment — with every layer this machine supports, and each layer alone for what it alone
// stops, also on a host running a template granted reads, writes, the network and env (those tools are served by the
// supervisor, so such a host is sealed like any other). With the lockdown off the same code does all of it (so these tests can fail): run with
// AF_TEST_LOCKDOWN_OFF=1 to see them fail. Also, from outside: a running host's network namespace, uid, command line
// and limits.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FactoryError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { createFactory } from '../../runtime/index.js';
import { createMemoryKvStore, createSandbox } from '../../sandbox/index.js';
import { type LockdownLayer, lockdownSupport, permissionFlag } from '../../sandbox/lockdown.js';
import type { Supervisor } from '../../sandbox/supervisor.js';
import { type CountingServer, listenCounting } from '../helpers/counting-server.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';
import { FIXTURES, makeSpec } from '../sandbox/helpers.js';

const run = promisify(execFile);
const DIST = path.resolve(FIXTURES, '../../../dist');
const MODE = process.env.AF_TEST_LOCKDOWN_OFF === '1' ? 'off' : 'auto';
const isRoot = process.getuid?.() === 0;
const supported = new Set(lockdownSupport().filter((s) => s.available).map((s) => s.layer));

interface Outcome {
  value?: unknown;
  threw?: { code: string; message: string };
}

describe('an escaped host (escape-host.mjs) under the lockdown', () => {
  const secret = `s3cret-${randomBytes(8).toString('hex')}`;
  const keyText = `PRIVATE KEY ${randomBytes(8).toString('hex')}`;
  let project: string;
  let keyFile: string;
  let dropDir: string;
  let server: CountingServer;

  const probes = () => ({
    readKeys: `return m.fs.readFileSync(${JSON.stringify(keyFile)}, 'utf8');`,
    write: `m.fs.writeFileSync(${JSON.stringify(path.join(dropDir, 'pwned.txt'))}, 'pwned'); return 'written';`,
    connect: `return await new Promise((resolve, reject) => { const s = m.net.connect(${server.port}, '127.0.0.1', () => { s.end(); resolve('connected'); }); s.on('error', reject); });`,
    spawn: `return m.child_process.execFileSync('/bin/echo', ['spawned']).toString();`,
    worker: `const w = new m.worker_threads.Worker('1', { eval: true }); await w.terminate(); return 'worker started';`,
    env: `let parent; try { parent = m.fs.readFileSync('/proc/' + m.process.ppid + '/environ', 'latin1'); } catch (e) { parent = 'denied ' + e.code; } return JSON.stringify(m.process.env) + '\\n' + parent;`,
  });
  type Probe = keyof ReturnType<typeof probes>;

  /** Runs every probe in one escape host started with `layers` (all supported when undefined), for a template with every grant when `grants`. */
  async function escape(lockdown: 'auto' | 'off', layers?: LockdownLayer[], grants = false): Promise<Record<Probe, Outcome>> {
    rmSync(path.join(dropDir, 'pwned.txt'), { force: true });
    server.reset();
    const named = probes();
    const args = JSON.stringify({ dist: DIST, lockdown, layers, probes: Object.values(named), grants });
    const { stdout } = await run(process.execPath, [path.join(FIXTURES, 'escape-driver.mjs'), args], { cwd: project, env: { ...process.env, AF_ESCAPE_SECRET: secret }, timeout: 60_000 });
    const { outcomes } = JSON.parse(stdout) as { outcomes: Outcome[] };
    return Object.fromEntries(Object.keys(named).map((key, i) => [key, outcomes[i] as Outcome])) as Record<Probe, Outcome>;
  }

  /** What "stopped" means for each probe: it threw, and nothing it was after happened or leaked. */
  function expectStopped(probe: Probe, outcome: Outcome): void {
    expect(outcome.threw, `${probe} should have been stopped, got ${JSON.stringify(outcome)}`).toBeDefined();
    if (probe === 'write') expect(existsSync(path.join(dropDir, 'pwned.txt'))).toBe(false);
    if (probe === 'connect') expect(server.connections).toBe(0);
  }

  beforeAll(async () => {
    project = mkdtempSync(path.join(os.tmpdir(), 'af-lockdown-'));
    keyFile = path.join(project, '.af', 'keys', 'signing.key');
    mkdirSync(path.dirname(keyFile), { recursive: true, mode: 0o700 });
    writeFileSync(keyFile, keyText, { mode: 0o600 });
    // Writable by anyone: only the permission model stands between an escaped host and this folder.
    dropDir = mkdtempSync(path.join(os.tmpdir(), 'af-drop-'));
    chmodSync(dropDir, 0o777);
    server = await listenCounting();
  });
  afterAll(async () => {
    await server.close();
    rmSync(project, { recursive: true, force: true });
    rmSync(dropDir, { recursive: true, force: true });
  });

  it('with the lockdown off, the escaped code does everything (the probes work)', async () => {
    const got = await escape('off');
    expect(got.readKeys.value).toBe(keyText);
    expect(got.write.value).toBe('written');
    expect(readFileSync(path.join(dropDir, 'pwned.txt'), 'utf8')).toBe('pwned');
    expect(got.connect.value).toBe('connected');
    expect(got.spawn.value).toBe('spawned\n');
    expect(got.worker.value).toBe('worker started');
    expect(String(got.env.value)).toContain(secret);
  }, 60_000);

  /** With every supported layer on, nothing the escaped code tried got through, nor did the secret or the key leak. */
  function expectAllStopped(got: Record<Probe, Outcome>): void {
    if (supported.has('permission') || supported.has('user')) expectStopped('readKeys', got.readKeys);
    if (supported.has('permission')) for (const probe of ['write', 'spawn', 'worker'] as const) expectStopped(probe, got[probe]);
    if (supported.has('network')) expectStopped('connect', got.connect);
    // The host's own environment never held the secret (with grants, the template may read AF_ESCAPE_REGION only:
    // the host's environment is scrubbed); its parent's is out of reach.
    expect(JSON.stringify(got.env)).not.toContain(secret);
    if (supported.has('permission')) expect(got.env.value).toMatch(/denied ERR_ACCESS_DENIED$/);
    expect(JSON.stringify(got)).not.toContain(keyText);
  }

  it('with every supported layer, it cannot read the keys, write, connect, spawn or read the environment', async () => {
    expectAllStopped(await escape(MODE));
  }, 60_000);

  it('on a host running a template granted reads, writes, the network and env, it still cannot do any of it', async () => {
    expectAllStopped(await escape(MODE, undefined, true));
  }, 60_000);

  it.skipIf(!supported.has('permission'))('the permission model alone stops reads, writes, child processes, workers and /proc', async () => {
    const got = await escape(MODE, ['permission']);
    for (const probe of ['readKeys', 'write', 'spawn', 'worker'] as const) {
      expectStopped(probe, got[probe]);
      expect(got[probe].threw?.code).toBe('ERR_ACCESS_DENIED');
    }
    expect(JSON.stringify(got.env)).not.toContain(secret);
  }, 60_000);

  it.skipIf(!supported.has('network'))('the empty network namespace alone stops a connection to 127.0.0.1', async () => {
    const got = await escape(MODE, ['network']);
    expectStopped('connect', got.connect);
    expect(got.connect.threw?.code).toMatch(/^(ENETUNREACH|ECONNREFUSED|EADDRNOTAVAIL)$/);
  }, 60_000);

  it.skipIf(!supported.has('user') || !isRoot)('the unprivileged user alone stops reading the keys and the parent environment', async () => {
    const got = await escape(MODE, ['user']);
    expectStopped('readKeys', got.readKeys);
    expect(got.readKeys.threw?.code).toBe('EACCES');
    expect(JSON.stringify(got.env)).not.toContain(secret);
  }, 60_000);
});

describe('a running host seen from outside', () => {
  const services = { kv: createMemoryKvStore(), spawn: async () => undefined };
  const plain = makeSpec({ name: 'plain', source: 'export default () => 1;' });
  const reader = makeSpec({ name: 'reader', source: 'export default () => 2;', permissions: { read: ['.'] } });

  async function hostsOf(lockdown: 'auto' | 'off') {
    const sandbox = createSandbox({ hosts: 1, lockdown, services });
    try {
      for (const spec of [plain, reader]) {
        const slot = sandbox.reserve(spec);
        expect(await sandbox.run(slot, {}, { tenant: 't', env: 'dev' })).toMatchObject({ ok: true });
        sandbox.release(slot);
      }
      return (sandbox as Supervisor).hostProcesses().map((host) => ({
        ...host,
        netns: readlinkSync(`/proc/${host.pid}/ns/net`),
        uid: Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${host.pid}/status`, 'utf8'))?.[1]),
        cmdline: readFileSync(`/proc/${host.pid}/cmdline`, 'utf8').split('\0'),
        limits: readFileSync(`/proc/${host.pid}/limits`, 'utf8'),
      }));
    } finally {
      await sandbox.close();
    }
  }

  it('every host, also one that ran a template with a read grant, has its own network namespace, a non-root uid, the permission flag and limits', async () => {
    const hosts = await hostsOf(MODE);
    // One kind of host: the template with a read grant ran on the same one as the template without.
    expect(hosts).toHaveLength(1);
    const mine = readlinkSync('/proc/self/ns/net');
    for (const host of hosts) {
      if (supported.has('network')) expect(host.netns).not.toBe(mine);
      if (supported.has('user') && isRoot) expect(host.uid).not.toBe(0);
      if (supported.has('permission')) expect(host.cmdline).toContain(permissionFlag());
      if (supported.has('limits')) expect(host.limits).toMatch(/Max open files\s+1024\s+1024/);
    }
  }, 60_000);

  it('with the lockdown off there is one kind of host, and nothing is taken away', async () => {
    const hosts = await hostsOf('off');
    expect(hosts).toHaveLength(1);
    expect(hosts[0]?.netns).toBe(readlinkSync('/proc/self/ns/net'));
    expect(hosts[0]?.uid).toBe(process.getuid?.());
    expect(hosts[0]?.cmdline).not.toContain(permissionFlag());
  }, 60_000);
});

describe('a factory whose hosts lack a lockdown layer', () => {
  const warnings: string[] = [];
  const logger: Logger = { debug() {}, info() {}, warn: (message) => void warnings.push(message), error() {}, child: () => logger };
  let project: TempProject;
  beforeAll(() => {
    project = createProject(simpleTemplate('hello'));
  });
  afterAll(() => project.remove());

  it('refuses to start with requireLockdown (E_UNAVAILABLE, naming the layers), and warns outside dev without it', async () => {
    const refused = await createFactory({ root: project.root, store: false, env: 'prod', lockdown: 'off', requireLockdown: true, logger }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(FactoryError);
    expect((refused as FactoryError).code).toBe('E_UNAVAILABLE');
    expect((refused as FactoryError).message).toMatch(/missing permission .*network .*user .*limits/);

    warnings.length = 0;
    const factory = await createFactory({ root: project.root, store: false, env: 'prod', lockdown: 'off', logger });
    await factory.close();
    expect(warnings.some((w) => w.startsWith('sandbox hosts run without these lockdown layers: permission'))).toBe(true);
  });

  it('starts quietly with requireLockdown where every layer is there', async () => {
    warnings.length = 0;
    const complete = lockdownSupport().every((s) => s.available);
    const made = await createFactory({ root: project.root, store: false, env: 'prod', requireLockdown: true, logger }).then(
      async (factory) => (await factory.close(), 'started'),
      (error: unknown) => (error as FactoryError).code,
    );
    expect(made).toBe(complete ? 'started' : 'E_UNAVAILABLE');
    if (complete) expect(warnings.filter((w) => w.includes('lockdown'))).toEqual([]);
  });
});
