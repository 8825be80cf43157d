/** @module tui/tasks — long work started from the UI, reporting progress: signing every template. */
import { toFactoryError } from '../core/errors.js';
import { signTemplate, versionFilesOf, writeSignatureFile } from '../templates/index.js';
import { count } from './format.js';
import type { TuiServices } from './services.js';

/** Signs every non-abstract template with the current signer, as `af sign --all` does. @returns a summary line. */
export async function signAllTemplates(services: TuiServices, progress: (done: number, total: number, label?: string) => void): Promise<string> {
  const { factory, store } = services;
  const signer = services.keyRing().signer();
  const names = factory.registry.names();
  let signed = 0;
  const failed: string[] = [];
  for (const [index, name] of names.entries()) {
    progress(index, names.length, name);
    try {
      const template = await factory.registry.inspect(name, { bundleFrom: 'build' });
      if (!template.abstract) {
        const signature = signTemplate(template, signer, services.now());
        writeSignatureFile(template.dir, signature);
        await store.versions.record({ ...versionFilesOf(template), name: template.name, version: template.version, digest: template.digest, manifest: template.inherited, sources: { ...template.sources }, bundle: template.code, signature });
        await store.audit.append({ type: 'template.signed', actor: services.actor, subject: template.name, data: { version: template.version, digest: template.digest, keyId: signer.record.id } });
        signed++;
      }
    } catch (error) {
      failed.push(`${name} (${toFactoryError(error).code})`);
    }
    // Let the progress bar draw between templates; signing is synchronous CPU work.
    await new Promise((resolve) => setImmediate(resolve));
  }
  progress(names.length, names.length);
  // Cached resolutions still carry the old trust verdict.
  factory.registry.clear();
  return `signed ${count(signed, 'template')} with ${signer.record.id}${failed.length > 0 ? `; failed: ${failed.join(', ')}` : ''}`;
}
