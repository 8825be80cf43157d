// Re-signs the bundled agents with the DEMO signer (after `node scripts/build.mjs`): node agents/.demo-keys/sign.mjs [--force]
// Templates whose agent.sig already covers their current digest and bundle with this signer are left alone, so re-running
// it changes only what changed. The signer's key goes through a KeyRing over a throwaway trust store, the same
// path `af sign` takes.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDemoKeys } from '../../dist/cli/commands/demo.js';
import { JsonTrustStore, KeyRing, readSignatureFile, signTemplate, TemplateRegistry, writeSignatureFile } from '../../dist/templates/index.js';

const agentsDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const force = process.argv.includes('--force');
const keys = loadDemoKeys(agentsDir);
const scratch = mkdtempSync(path.join(os.tmpdir(), 'af-demo-sign-'));
try {
  const trust = new JsonTrustStore(path.join(scratch, 'trust.json'), { pollMs: 0 });
  trust.addKey(keys.root);
  trust.addKey(keys.signer);
  mkdirSync(path.join(scratch, 'keys'), { mode: 0o700 });
  writeFileSync(path.join(scratch, 'keys', `${keys.signer.id}.key.pem`), keys.signerKeyPem, { mode: 0o600 });
  const signer = new KeyRing({ keysDir: path.join(scratch, 'keys'), trust }).signer(keys.signer.id);
  const registry = new TemplateRegistry({ agentsDir, displayRoot: path.dirname(agentsDir), bundleCacheDir: path.join(scratch, 'bundles') });
  for (const name of registry.names()) {
    const template = await registry.inspect(name, { bundleFrom: 'build' });
    // An abstract template never runs; each child's digest covers what it inherits.
    if (template.abstract) {
      console.log(`- ${name} skipped (abstract)`);
      continue;
    }
    const existing = readSignatureFile(template.dir, `agents/${name}/agent.sig`);
    if (!force && existing?.digest === template.digest && existing.bundle?.sha256 === template.bundleSha256 && existing.keyId === signer.record.id) {
      console.log(`= ${name} ${template.version} already signed`);
      continue;
    }
    writeSignatureFile(template.dir, signTemplate(template, signer, Date.now()));
    console.log(`✓ ${name} ${template.version} signed with the DEMO key ${signer.record.id}`);
  }
  registry.close();
  trust.close();
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
