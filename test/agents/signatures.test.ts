// Every bundled agent carries a DEMO signature that verifies now (a stale one fails here), and the DEMO root is
// trusted only where someone imported it, never in prod.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDemoKeys, trustDemoRoot } from '../../cli/commands/demo.js';
import { FactoryError } from '../../core/errors.js';
import { createFactory } from '../../runtime/index.js';
import { JsonTrustStore, readSignatureFile, SignatureVerifier, TemplateRegistry } from '../../templates/index.js';
import { REPO_AGENTS, REPO_ROOT } from './bundled.js';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'af-demo-sig-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const BUNDLED = [
  'checksum', 'coordinator', 'cpu-burn', 'csv-table', 'echo', 'env-report', 'fan-out', 'file-stats', 'hello', 'http-probe',
  'json-schema-infer', 'log-triage', 'markdown-report', 'supply-chain-auditor', 'word-stats',
];

describe('the DEMO key', () => {
  const keys = loadDemoKeys(REPO_AGENTS);

  it('is labelled as a demo key in its certificates and README', () => {
    expect(keys.root.name).toBe('Agent Factory DEMO root (not for production)');
    expect(keys.signer.name).toBe('Agent Factory DEMO signer (not for production)');
    expect(readFileSync(path.join(keys.dir, 'README.md'), 'utf8')).toMatch(/^# DEMO ONLY/);
  });

  it('has signed every bundled agent, and each signature verifies against the demo root now', async () => {
    const trust = new JsonTrustStore(path.join(scratch, 'trust.json'), { pollMs: 0 });
    await trustDemoRoot(trust, 'demo', keys);
    const verifier = new SignatureVerifier(trust);
    const registry = new TemplateRegistry({ agentsDir: REPO_AGENTS, displayRoot: REPO_ROOT, bundleCacheDir: path.join(scratch, 'bundles') });
    const verified: string[] = [];
    for (const name of registry.names()) {
      const template = await registry.inspect(name);
      if (template.abstract) continue;
      const signature = readSignatureFile(template.dir, `agents/${name}/agent.sig`);
      expect(signature, `agents/${name}/agent.sig is missing: run node agents/.demo-keys/sign.mjs`).toBeDefined();
      // A stale signature throws E_SIGNATURE_INVALID here: re-sign with node agents/.demo-keys/sign.mjs.
      const verification = verifier.verify(template.digest, signature!);
      expect([verification.keyId, verification.rootId]).toEqual([keys.signer.id, keys.root.id]);
      verified.push(name);
    }
    registry.close();
    trust.close();
    expect(verified).toEqual(BUNDLED);
  });

  it('refuses to be trusted in prod', () => {
    const trust = new JsonTrustStore(path.join(scratch, 'prod-trust.json'), { pollMs: 0 });
    for (const env of ['prod', 'production']) {
      expect(() => trustDemoRoot(trust, env, keys)).toThrow(FactoryError);
      expect(() => trustDemoRoot(trust, env, keys)).toThrow(/never trusted in/);
    }
    expect(trust.roots()).toEqual([]);
    trust.close();
  });

  it('is not trusted by a project that did not import it: prod refuses the bundled agents before they run', async () => {
    const factory = await createFactory({ root: REPO_ROOT, home: path.join(scratch, 'prod-home'), env: 'prod', store: false, hosts: 1 });
    try {
      const error = await factory.run('hello', { name: 'Ada' }).catch((caught: unknown) => caught);
      expect((error as FactoryError).code).toBe('E_SIGNATURE_INVALID');
      expect((error as FactoryError).message).toContain(`key ${keys.signer.id} (Agent Factory DEMO signer (not for production)) does not chain to a trusted root`);
    } finally {
      await factory.close();
    }
  });
});
