// Network grants are decided on the address actually connected to (finding 3): every spelling of the host itself,
// names that resolve to it, and redirects to it or to the metadata address are refused before a byte is sent.
// The default policy holds in every environment that is not a dev one (finding 1b: `staging` escaped it).
import { lookup } from 'node:dns/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentSpec } from '../../core/agent-spec.js';
import { resolveConfig } from '../../core/config.js';
import { DEFAULT_LIMITS, DEFAULT_PERMISSIONS } from '../../core/agent-spec.js';
import type { FactoryError } from '../../core/errors.js';
import { AddressRules, embeddedIpv4 } from '../../core/net-address.js';
import { createFactory } from '../../runtime/index.js';
import { addressRulesOf, checkPolicy, DEFAULT_POLICY, loadPolicy, openProjectTrust, type ResolvedManifest, signDigest, TemplateRegistry, writeSignatureFile } from '../../templates/index.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';
import { fixtureSpec, type Harness, makeHarness } from '../sandbox/helpers.js';

const PROD_RULES = addressRulesOf(DEFAULT_POLICY, 'prod');

/** A server that counts what reaches it. */
async function listen(host: string, handler: http.RequestListener = (_req, res) => res.end('reached')): Promise<{ server: http.Server; port: number; hits: string[] }> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return { server, port: (server.address() as AddressInfo).port, hits };
}

/** A non-loopback IPv4 address of this machine that the default policy allows, to stand for a public server. */
function outsideAddress(): string | undefined {
  const rules = new AddressRules(PROD_RULES);
  for (const list of Object.values(os.networkInterfaces())) {
    for (const entry of list ?? []) if (entry.family === 'IPv4' && !entry.internal && rules.denial(entry.address) === undefined) return entry.address;
  }
  return undefined;
}

/** A name other than `localhost` that this machine resolves to a loopback address (its own host name, usually). */
async function loopbackName(): Promise<string | undefined> {
  for (const name of [os.hostname(), 'localhost.localdomain', 'ip6-localhost']) {
    if (!/^[a-z0-9][a-z0-9-]*(\.[a-z0-9-]+)*$/i.test(name) || name === 'localhost') continue;
    try {
      const addresses = await lookup(name, { all: true });
      if (addresses.length > 0 && addresses.every((a) => a.address.startsWith('127.') || a.address === '::1')) return name;
    } catch {
      // Not resolvable here.
    }
  }
  return undefined;
}

const SELF_NAME = await loopbackName();
const OUTSIDE_HOST = outsideAddress();

describe('fetch under the default policy\'s address rules (process isolation)', () => {
  let h: Harness;
  let loop: Awaited<ReturnType<typeof listen>>;
  let outside: Awaited<ReturnType<typeof listen>> | undefined;
  const selfName = SELF_NAME;
  const outsideHost = OUTSIDE_HOST;

  /** A prod spec: the rules the trust gate puts in every spec it admits outside dev, and a grant of everything. */
  function prodSpec(net: string[] = ['*']): AgentSpec {
    const base = fixtureSpec('fetch-tool.js', { permissions: { net }, limits: { timeoutMs: 4000 } });
    return { ...base, netDeny: PROD_RULES, digest: `${base.digest}-prod` };
  }

  beforeAll(async () => {
    h = makeHarness({ isolation: 'process', hosts: 1 });
    loop = await listen('127.0.0.1');
    if (outsideHost) {
      outside = await listen(outsideHost, (req, res) => {
        const to: Record<string, string> = {
          '/to-loopback': `http://127.0.0.1:${loop.port}/stolen`,
          '/to-mapped': `http://[::ffff:127.0.0.1]:${loop.port}/stolen`,
          '/to-localhost': `http://localhost:${loop.port}/stolen`,
          '/to-metadata': 'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
        };
        const location = to[req.url ?? ''];
        if (location) res.writeHead(302, { location });
        res.end(location ? '' : 'public');
      });
    }
  });
  afterAll(async () => {
    loop.server.close();
    outside?.server.close();
    await h.sandbox.close();
  });

  it.each([
    ['0.0.0.0', () => `http://0.0.0.0:${loop.port}/`, 'unspecified', 'prod-no-loopback'],
    ['[::]', () => `http://[::]:${loop.port}/`, 'unspecified', 'prod-no-loopback'],
    ['IPv4-mapped [::ffff:127.0.0.1]', () => `http://[::ffff:127.0.0.1]:${loop.port}/`, 'loopback', 'prod-no-loopback'],
    ['IPv4-mapped hex [::ffff:7f00:1]', () => `http://[::ffff:7f00:1]:${loop.port}/`, 'loopback', 'prod-no-loopback'],
    ['IPv4-translated [::ffff:0:127.0.0.1]', () => `http://[::ffff:0:127.0.0.1]:${loop.port}/`, 'loopback', 'prod-no-loopback'],
    ['IPv4-compatible [::127.0.0.1]', () => `http://[::127.0.0.1]:${loop.port}/`, 'loopback', 'prod-no-loopback'],
    ['NAT64 [64:ff9b::127.0.0.1]', () => `http://[64:ff9b::127.0.0.1]:${loop.port}/`, 'loopback', 'prod-no-loopback'],
    ['6to4 [2002:7f00:1::]', () => `http://[2002:7f00:1::]:${loop.port}/`, 'loopback', 'prod-no-loopback'],
    ['127.1', () => `http://127.1:${loop.port}/`, 'loopback', 'prod-no-loopback'],
    ['0x7f.1', () => `http://0x7f.1:${loop.port}/`, 'loopback', 'prod-no-loopback'],
    ['2130706433', () => `http://2130706433:${loop.port}/`, 'loopback', 'prod-no-loopback'],
    ['017700000001', () => `http://017700000001:${loop.port}/`, 'loopback', 'prod-no-loopback'],
    ['127.0.0.2', () => `http://127.0.0.2:${loop.port}/`, 'loopback', 'prod-no-loopback'],
    ['[::1]', () => `http://[::1]:${loop.port}/`, 'loopback', 'prod-no-loopback'],
    ['localhost (a name resolving to 127.0.0.1)', () => `http://localhost:${loop.port}/`, 'loopback', 'prod-no-loopback'],
    ['the metadata address', () => 'http://169.254.169.254/latest/meta-data/', 'metadata', 'prod-no-metadata'],
    ['the AWS IPv6 metadata address', () => 'http://[fd00:ec2::254]/latest/meta-data/', 'metadata', 'prod-no-metadata'],
    ['an IPv6 link-local address', () => `http://[fe80::1]:${loop.port}/`, 'link-local', 'prod-no-metadata'],
    ['a link-local address', () => `http://169.254.1.1:${loop.port}/`, 'link-local', 'prod-no-metadata'],
  ])('%s is denied with E_PERMISSION_DENIED naming the address and rule, and nothing is sent', async (_title, url, label, rule) => {
    const before = loop.hits.length;
    const denialsBefore = h.denials.length;
    const result = await h.run(prodSpec(), { url: url() });
    expect(result).toMatchObject({ ok: false, error: { code: 'E_PERMISSION_DENIED' } });
    const message = result.ok ? '' : result.error.message;
    expect(message).toContain(' -> ');
    expect(message).toContain(`a ${label} address, which policy rule "${rule}" forbids`);
    expect(loop.hits.length).toBe(before);
    // Audited like every other denial, with the address it would have reached.
    expect(h.denials.slice(denialsBefore)).toEqual([expect.objectContaining({ permission: 'net', target: expect.stringContaining(' -> ') })]);
  });

  it.skipIf(!SELF_NAME)('a host name this machine resolves to loopback is denied by the address it resolves to', async () => {
    const result = await h.run(prodSpec([`${selfName}:${loop.port}`]), { url: `http://${selfName}:${loop.port}/` });
    expect(result).toMatchObject({ ok: false, error: { code: 'E_PERMISSION_DENIED', message: expect.stringContaining(`${selfName}:${loop.port} -> 127.`) } });
    expect(loop.hits).toEqual([]);
  });

  it('a trailing-dot name never reaches loopback', async () => {
    const result = await h.run(prodSpec(), { url: `http://localhost.:${loop.port}/` });
    // Denied where the resolver knows `localhost.`, a lookup failure where it does not: never a request.
    expect(result.ok).toBe(false);
    expect(loop.hits).toEqual([]);
  });

  describe('redirects from an allowed server', () => {
    it.skipIf(!OUTSIDE_HOST).each([
      ['/to-loopback', '127.0.0.1', 'loopback'],
      ['/to-mapped', '[::ffff:7f00:1]', 'loopback'],
      ['/to-localhost', 'localhost', 'loopback'],
      ['/to-metadata', '169.254.169.254', 'metadata'],
    ])('a 302 to %s is checked on its address and never followed', async (path, host, label) => {
      const result = await h.run(prodSpec(), { url: `http://${outsideHost}:${outside!.port}${path}` });
      expect(result).toMatchObject({ ok: false, error: { code: 'E_PERMISSION_DENIED', message: expect.stringContaining(`a ${label} address`) } });
      expect(result.ok || result.error.message).toContain(`"${host}:`);
      expect(outside!.hits).toContain(path);
      expect(loop.hits).toEqual([]);
    });

    it.skipIf(!OUTSIDE_HOST)('the allowed server itself is still reachable under the same rules', async () => {
      expect(await h.run(prodSpec(), { url: `http://${outsideHost}:${outside!.port}/` })).toMatchObject({ ok: true, output: { status: 200, body: 'public' } });
    });
  });

  it('without address rules (dev) a grant of the IP literal still reaches the local server', async () => {
    const dev = fixtureSpec('fetch-tool.js', { permissions: { net: [`127.0.0.1:${loop.port}`] } });
    expect(await h.run(dev, { url: `http://127.0.0.1:${loop.port}/dev` })).toMatchObject({ ok: true, output: { status: 200, body: 'reached' } });
    expect(loop.hits).toEqual(['/dev']);
    loop.hits.length = 0;
  });
});

describe('address classification', () => {
  const rules = new AddressRules(PROD_RULES);
  it.each([
    ['127.0.0.1', 'loopback'], ['127.255.255.254', 'loopback'], ['::1', 'loopback'], ['0:0:0:0:0:0:0:1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'], ['::ffff:7f00:1', 'loopback'], ['::ffff:0:7f00:1', 'loopback'], ['::7f00:1', 'loopback'],
    ['64:ff9b::7f00:1', 'loopback'], ['64:ff9b:1::7f00:1', 'loopback'], ['2002:7f00:1::1', 'loopback'], ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'loopback'],
    ['0.0.0.0', 'unspecified'], ['0.1.2.3', 'unspecified'], ['::', 'unspecified'], ['::ffff:0.0.0.0', 'unspecified'],
    ['169.254.169.254', 'metadata'], ['::ffff:169.254.169.254', 'metadata'], ['::ffff:a9fe:a9fe', 'metadata'], ['fd00:ec2::254', 'metadata'], ['100.100.100.200', 'metadata'],
    ['169.254.0.1', 'link-local'], ['fe80::1', 'link-local'], ['febf::1', 'link-local'],
  ])('%s is denied as %s', (address, label) => {
    expect(rules.denial(address, 80)?.rule.label).toBe(label);
  });

  it.each(['93.184.216.34', '8.8.8.8', '2606:4700::1111', '10.0.0.1', '192.168.1.1', 'fc00::1', '::ffff:8.8.8.8', '2002:808:808::1'])('%s is allowed by the default rules (private ranges only when a policy says)', (address) => {
    expect(rules.denial(address, 80)).toBeUndefined();
  });

  it('reads the IPv4 address inside IPv6 forms that reach it', () => {
    expect(embeddedIpv4('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(embeddedIpv4('2001:0:4136:e378:8000:63bf:3fff:fdd2')).toBe('192.0.2.45');
    expect(embeddedIpv4('2606:4700::1111')).toBeUndefined();
    expect(embeddedIpv4('::1')).toBeUndefined();
  });
});

describe('the policy outside dev', () => {
  const DIR = '/project/agents/subject';
  function manifest(permissions: Partial<ResolvedManifest['permissions']> = {}): ResolvedManifest {
    return { name: 'subject', version: '1.0.0', description: '', entry: 'main.ts', permissions: { ...DEFAULT_PERMISSIONS, ...permissions }, limits: { ...DEFAULT_LIMITS }, pool: { prewarm: 1, reuseContext: false }, config: {} };
  }
  function ruleDenying(subject: ResolvedManifest, env: string, devEnvironments?: string[]): string {
    try {
      checkPolicy(DEFAULT_POLICY, { name: 'subject', env, dir: DIR, manifest: subject }, devEnvironments);
      return 'allowed';
    } catch (error) {
      expect((error as FactoryError).code).toBe('E_POLICY_DENIED');
      return String((error as FactoryError).details.rule);
    }
  }

  it.each(['staging', 'production', 'eu-prod', 'demo'])('holds %s to the default rules, not only prod', (env) => {
    expect(ruleDenying(manifest({ wasm: true }), env)).toBe('prod-no-wasm');
    expect(ruleDenying(manifest({ net: ['localhost:6379'] }), env)).toBe('prod-no-loopback');
    expect(ruleDenying(manifest({ write: ['/tmp'] }), env)).toBe('prod-write-only-out');
    expect(addressRulesOf(DEFAULT_POLICY, env).map((rule) => rule.label)).toEqual(expect.arrayContaining(['loopback', 'unspecified', 'metadata', 'link-local']));
  });

  it('exempts only dev environments', () => {
    expect(ruleDenying(manifest({ wasm: true, net: ['localhost'] }), 'dev')).toBe('allowed');
    expect(ruleDenying(manifest({ wasm: true }), 'staging', ['dev', 'staging'])).toBe('allowed');
    expect(addressRulesOf(DEFAULT_POLICY, 'dev')).toEqual([]);
  });

  it.each(['0.0.0.0:8080', '[::]', '[::ffff:7f00:1]:80', '127.0.0.2', '169.254.169.254', '[fe80::1]', '[fd00:ec2::254]:80'])('refuses a grant naming %s, an address the host would refuse', (grant) => {
    expect(ruleDenying(manifest({ net: [grant] }), 'prod')).toMatch(/^prod-no-(loopback|metadata)$/);
  });

  it('turns IP literals of a policy\'s net.deny into address rules, so no other name reaches them', () => {
    const policy = { source: 'policy.json', rules: [{ id: 'no-db', net: { deny: ['10.1.2.3:5432', 'db.internal'], denyAddresses: ['private'] } }] };
    const rules = addressRulesOf(policy, 'prod');
    expect(rules).toEqual(expect.arrayContaining([{ cidr: '10.1.2.3/32', label: '10.1.2.3:5432', rule: 'no-db', port: 5432 }, { cidr: '10.0.0.0/8', label: 'private', rule: 'no-db' }]));
    expect(new AddressRules(rules.filter((r) => r.port !== undefined)).denial('::ffff:10.1.2.3', 5432)?.rule.rule).toBe('no-db');
  });

  describe('loadPolicy', () => {
    let project: TempProject;
    afterAll(() => project?.remove());
    it('refuses an address entry that is no class, IP or CIDR, with its position', () => {
      project = createProject({ 'policy.json': '{ "rules": [{ "id": "x", "net": { "denyAddresses": ["loopbak"] } }] }' });
      expect(() => loadPolicy(`${project.root}/policy.json`, project.root)).toThrow(expect.objectContaining({
        code: 'E_USAGE',
        message: expect.stringContaining('policy.json:1:53 (at /rules/0/net/denyAddresses/0): "loopbak" is not an address class, IP or CIDR'),
      }));
    });
  });
});

describe('end to end: the same signed template in dev and in staging', () => {
  let project: TempProject;
  let loop: Awaited<ReturnType<typeof listen>>;
  const name = SELF_NAME;

  beforeAll(async () => {
    loop = await listen('127.0.0.1');
  });
  afterAll(() => {
    loop.server.close();
    project?.remove();
  });

  it.skipIf(!SELF_NAME)('staging refuses at connect time what dev reaches, though the spec is otherwise the same', async () => {
    const grant = `${name}:${loop.port}`;
    project = createProject(simpleTemplate('prober', { permissions: { net: [grant] } }, 'export default async (input: { url: string }, ctx: any) => (await ctx.fetch(input.url)).text();\n'));
    const trust = openProjectTrust(resolveConfig({ root: project.root, processEnv: {} }), { pollMs: 0 });
    await trust.keyRing.init();
    const registry = new TemplateRegistry({ agentsDir: project.agentsDir, displayRoot: project.root });
    const resolved = await registry.inspect('prober');
    registry.close();
    writeSignatureFile(resolved.dir, signDigest(resolved.digest, trust.keyRing.signer(), Date.now()));
    (trust.store as { close?(): void }).close?.();
    const factory = await createFactory({ root: project.root, store: false, hosts: 1 });
    try {
      const url = `http://${grant}/probe`;
      // Dev first: its spec (no address rules) is then registered in the host; staging must not run on it.
      expect(await factory.run('prober', { url })).toMatchObject({ output: 'reached' });
      expect(loop.hits).toEqual(['/probe']);
      for (const env of ['staging', 'prod']) {
        const error = (await factory.run('prober', { url }, { env }).catch((caught: unknown) => caught)) as FactoryError;
        expect(error.code).toBe('E_PERMISSION_DENIED');
        expect(error.message).toContain(`${grant} -> 127.`);
        expect(error.message).toContain('policy rule "prod-no-loopback"');
      }
      expect(loop.hits).toEqual(['/probe']);
    } finally {
      await factory.close();
    }
  });
});
