// Trust: keys, signatures, the dev waiver, revocation (also of cached verifications), expiry, chains, rotation and hot reload.
import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock, type ManualClock } from '../../core/clock.js';
import { resolveConfig } from '../../core/config.js';
import {
  DEFAULT_POLICY, JsonTrustStore, KeyRing, openProjectTrust, type ProjectTrust, readSignatureFile, signDigest, TemplateRegistry, type TrustAuditEvent, TrustGate, writeSignatureFile,
} from '../../templates/index.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

let project: TempProject;
let clock: ManualClock;
let trust: ProjectTrust;
let audit: TrustAuditEvent[];
const registries: TemplateRegistry[] = [];

function registry(env: string, options: { watch?: boolean } = {}): TemplateRegistry {
  const gate = new TrustGate({ verifier: trust.verifier, policy: DEFAULT_POLICY, onAudit: (event) => audit.push(event) });
  const created = new TemplateRegistry({ agentsDir: project.agentsDir, displayRoot: project.root, env, trust: gate, clock, watch: options.watch ?? false });
  registries.push(created);
  return created;
}

async function sign(name: string, keyId?: string): Promise<void> {
  const resolved = await new TemplateRegistry({ agentsDir: project.agentsDir, displayRoot: project.root }).inspect(name);
  writeSignatureFile(resolved.dir, signDigest(resolved.digest, trust.keyRing.signer(keyId), clock.now()));
}

beforeEach(() => {
  project = createProject({
    ...simpleTemplate('signed', { permissions: { read: ['./data'] } }, "import { helper } from './helper.ts';\nexport default () => helper();\n"),
    'agents/signed/helper.ts': 'export const helper = () => 42;\n',
  });
  clock = createManualClock(Date.parse('2026-06-01T00:00:00Z'));
  trust = openProjectTrust(resolveConfig({ root: project.root, processEnv: {} }), { clock, pollMs: 0 });
  audit = [];
});

afterEach(() => {
  for (const created of registries.splice(0)) created.close();
  project.remove();
});

describe('keys', () => {
  it('creates a root and a signer; private keys are files with mode 0600, never in the trust data', async () => {
    const { root, signer } = await trust.keyRing.init();
    expect(root.role).toBe('root');
    expect(signer.role).toBe('signer');
    for (const id of [root.id, signer.id]) {
      const file = path.join(project.root, '.af/keys', `${id}.key.pem`);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(readFileSync(file, 'utf8')).toContain('PRIVATE KEY');
    }
    const trustFile = readFileSync(path.join(project.root, '.af/trust.json'), 'utf8');
    expect(trustFile).not.toContain('PRIVATE KEY');
    expect(JSON.parse(trustFile).keys.map((key: { id: string }) => key.id)).toEqual([root.id, signer.id]);
    await expect(trust.keyRing.init()).rejects.toThrow('keys already exist');
  });
});

describe('signatures', () => {
  beforeEach(async () => {
    await trust.keyRing.init();
  });

  it('lets a signed template run in prod and records who signed it', async () => {
    await sign('signed');
    const template = await registry('prod').resolve('signed');
    expect(template).toMatchObject({ trust: { status: 'signed', verification: { signer: 'signer-1' } } });
  });

  it('refuses an unsigned template outside dev, and runs it in dev with an audit record', async () => {
    await expect(registry('prod').resolve('signed')).rejects.toMatchObject({
      code: 'E_SIGNATURE_MISSING',
      message: 'template "signed" is not signed, and prod runs only signed templates; sign it with `af sign signed`',
    });
    const dev = await registry('dev').resolve('signed');
    expect(dev).toMatchObject({ trust: { status: 'waived', waiver: 'unsigned' } });
    expect(audit.map((event) => [event.type, event.env, event.code])).toEqual([
      ['signature.rejected', 'prod', 'E_SIGNATURE_MISSING'],
      ['signature.waived', 'dev', 'E_SIGNATURE_MISSING'],
    ]);
  });

  it.each([
    ['agent.json', (dir: string) => writeFileSync(path.join(dir, 'agent.json'), readFileSync(path.join(dir, 'agent.json'), 'utf8').replace('"1.0.0"', '"1.0.1"'))],
    ['the entry file', (dir: string) => appendFileSync(path.join(dir, 'main.ts'), ' ')],
    ['an imported file, even in a comment', (dir: string) => appendFileSync(path.join(dir, 'helper.ts'), '// x\n')],
  ])('refuses a template when %s changed by one byte', async (_what, tamper) => {
    await sign('signed');
    tamper(path.join(project.agentsDir, 'signed'));
    await expect(registry('prod').resolve('signed')).rejects.toMatchObject({ code: 'E_SIGNATURE_INVALID', message: expect.stringContaining('the template changed since it was signed') });
  });

  it('refuses a forged signature over the right digest', async () => {
    await sign('signed');
    const dir = path.join(project.agentsDir, 'signed');
    const signature = readSignatureFile(dir, 'agent.sig')!;
    const bytes = Buffer.from(signature.signature, 'base64');
    bytes[10] = (bytes[10] ?? 0) ^ 0xff;
    writeSignatureFile(dir, { ...signature, signature: bytes.toString('base64') });
    await expect(registry('prod').resolve('signed')).rejects.toMatchObject({ code: 'E_SIGNATURE_INVALID', message: expect.stringContaining('does not verify with key') });
  });

  it('refuses a key from another root (unknown to this project)', async () => {
    const otherRoot = createProject();
    try {
      const other = new KeyRing({ keysDir: path.join(otherRoot.root, 'keys'), trust: new JsonTrustStore(path.join(otherRoot.root, 'trust.json'), { pollMs: 0 }), clock });
      await other.init({ signerName: 'stranger' });
      const resolved = await new TemplateRegistry({ agentsDir: project.agentsDir }).inspect('signed');
      writeSignatureFile(resolved.dir, signDigest(resolved.digest, other.signer(), clock.now()));
      await expect(registry('prod').resolve('signed')).rejects.toMatchObject({
        code: 'E_SIGNATURE_INVALID',
        message: expect.stringMatching(/^key [0-9a-f]{16} \(stranger\) does not chain to a trusted root/),
        // Told apart from tampering, so a UI can say "signed, by a key this project does not trust".
        details: { untrustedRoot: true, signer: 'stranger' },
      });
    } finally {
      otherRoot.remove();
    }
  });

  it('refuses a signature whose certificate does not match its key id (broken chain)', async () => {
    await sign('signed');
    const second = await trust.keyRing.create('second');
    const dir = path.join(project.agentsDir, 'signed');
    const signature = readSignatureFile(dir, 'agent.sig')!;
    writeSignatureFile(dir, { ...signature, certificate: second.certificatePem });
    await expect(registry('prod').resolve('signed')).rejects.toMatchObject({ code: 'E_SIGNATURE_INVALID', message: expect.stringContaining(`but its certificate is for key ${second.id}`) });
  });

  it('revokes at once, also a verification that is already cached', async () => {
    await sign('signed');
    const prod = registry('prod');
    const signer = (await prod.resolve('signed')) as unknown as { trust: { verification: { keyId: string } } };
    await trust.keyRing.revoke(signer.trust.verification.keyId, 'leaked');
    await expect(prod.resolve('signed')).rejects.toMatchObject({ code: 'E_KEY_REVOKED', message: expect.stringContaining('is revoked') });
    await expect(registry('prod').resolve('signed')).rejects.toMatchObject({ code: 'E_KEY_REVOKED' });
    expect(() => trust.keyRing.signer(signer.trust.verification.keyId)).toThrow('is revoked');
  });

  it('refuses a signature once its key has expired', async () => {
    const shortLived = await trust.keyRing.create('short-lived', { validDays: 1 });
    await sign('signed', shortLived.id);
    const prod = registry('prod');
    expect((await prod.resolve('signed')).version).toBe('1.0.0');
    clock.advance(2 * 86_400_000);
    await expect(prod.resolve('signed')).rejects.toMatchObject({ code: 'E_KEY_EXPIRED', message: expect.stringContaining('expired on') });
  });

  it('keeps old signatures valid after a rotation, and signs with the new signer', async () => {
    await sign('signed');
    const rotated = await trust.keyRing.rotate();
    expect(rotated.name).toBe('signer-2');
    expect((await registry('prod').resolve('signed')) as unknown).toMatchObject({ trust: { verification: { signer: 'signer-1' } } });
    clock.advance(1000);
    expect(trust.keyRing.signer().record.id).toBe(rotated.id);
  });

  it('keeps the last verified version serving in prod after an unsigned edit, until it is signed again', async () => {
    await sign('signed');
    const prod = registry('prod', { watch: true });
    const verified = await prod.resolve('signed');
    writeFileSync(path.join(project.agentsDir, 'signed/helper.ts'), 'export const helper = () => 43;\n');
    prod.clear();
    expect(await prod.resolve('signed')).toBe(verified);
    expect(prod.failures()[0]?.error.code).toBe('E_SIGNATURE_INVALID');
    await sign('signed');
    prod.clear();
    const resigned = await prod.resolve('signed');
    expect(resigned.digest).not.toBe(verified.digest);
    expect(resigned.code).toContain('43');
  });
});
