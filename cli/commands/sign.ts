/** @module cli/commands/sign — `af sign` and `af verify`: write and check `agent.sig` for one template or all. */
import { FactoryError, toFactoryError } from '../../core/errors.js';
import type { Store } from '../../store/index.js';
import { escapeLine, escapeStrings } from '../../core/terminal-text.js';
import { signTemplate, TemplateRegistry, TrustGate, versionFilesOf, writeSignatureFile } from '../../templates/index.js';
import { DEFAULT_DEV_ENVIRONMENTS } from '../../templates/index.js';
import type { CommandContext } from '../context.js';
import { trustOf, withStore } from '../store-access.js';
import { EXIT, exitStatusFor } from '../exit-status.js';
import { printJson } from '../io.js';

interface TargetOptions {
  all?: boolean;
  json?: boolean;
}

function targets(registry: TemplateRegistry, name: string | undefined, options: TargetOptions): string[] {
  if (options.all && name !== undefined) throw new FactoryError('E_USAGE', 'give a template name or --all, not both');
  if (!options.all && name === undefined) throw new FactoryError('E_USAGE', 'give a template name, or --all for every template');
  return options.all ? registry.names() : [name as string];
}

export function signCommand(context: CommandContext, name: string | undefined, options: TargetOptions & { key?: string }): Promise<number> {
  return withStore(context, (store) => signWith(context, store, name, options));
}

async function signWith(context: CommandContext, store: Store, name: string | undefined, options: TargetOptions & { key?: string }): Promise<number> {
  const config = context.config();
  const { keyRing } = trustOf(context, store);
  const signer = keyRing.signer(options.key);
  const registry = new TemplateRegistry({ agentsDir: config.agentsDir, displayRoot: config.root, bundleCacheDir: config.bundleCacheDir, env: config.env });
  const results: Array<{ name: string; ok: boolean; version?: string; digest?: string; keyId?: string; skipped?: string; error?: { code: string; message: string } }> = [];
  const names = targets(registry, name, options);
  const started = performance.now();
  for (const [index, template] of names.entries()) {
    try {
      // Built here, never read from the bundle cache: what is signed is what these sources make.
      const resolved = await registry.inspect(template, { bundleFrom: 'build' });
      if (resolved.abstract) {
        // An abstract template never runs; each child's digest covers what it inherits.
        results.push({ name: template, ok: true, version: resolved.version, skipped: 'abstract' });
        continue;
      }
      const signature = signTemplate(resolved, signer, Date.now());
      writeSignatureFile(resolved.dir, signature);
      await store.versions.record({ ...versionFilesOf(resolved), name: resolved.name, version: resolved.version, digest: resolved.digest, manifest: resolved.inherited, sources: { ...resolved.sources }, bundle: resolved.code, signature });
      await store.audit.append({ type: 'template.signed', actor: 'cli', subject: resolved.name, data: { version: resolved.version, digest: resolved.digest, keyId: signer.record.id } });
      results.push({ name: template, ok: true, version: resolved.version, digest: resolved.digest, keyId: signer.record.id });
    } catch (error) {
      const failure = toFactoryError(error);
      results.push({ name: template, ok: false, error: { code: failure.code, message: failure.message } });
    }
    if (!options.json && names.length > 20 && context.streams.stderr.isTTY) context.streams.stderr.write(`\rsigning ${index + 1}/${names.length}`);
  }
  const seconds = (performance.now() - started) / 1000;
  registry.close();
  const failed = results.filter((result) => !result.ok);
  if (options.json) printJson(context.streams, { signer: { id: signer.record.id, name: signer.record.name }, seconds, results });
  else {
    const { paint } = context;
    if (names.length > 20 && context.streams.stderr.isTTY) context.streams.stderr.write('\n');
    // One line per template: folder names (any byte but `/` and NUL), versions and messages are an author's text,
    // so a newline in them would forge the next template's ✓ line.
    for (const result of results.map(escapeStrings)) {
      if (result.skipped) context.streams.stdout.write(`${paint.dim('-')} ${result.name} ${paint.dim(`skipped (${result.skipped})`)}\n`);
      else if (result.ok) context.streams.stdout.write(`${paint.green('✓')} ${result.name} ${result.version} signed with ${signer.record.id} (${escapeLine(signer.record.name)})\n`);
      else context.streams.stdout.write(`${paint.red('✗')} ${result.name} ${result.error?.code}: ${result.error?.message ?? ''}\n`);
    }
  }
  return failed.length === 0 ? EXIT.ok : exitStatusFor((failed[0]?.error?.code ?? 'E_INTERNAL') as never);
}

export function verifyCommand(context: CommandContext, name: string | undefined, options: TargetOptions & { env?: string }): Promise<number> {
  return withStore(context, (store) => verifyWith(context, store, name, options));
}

async function verifyWith(context: CommandContext, store: Store, name: string | undefined, options: TargetOptions & { env?: string }): Promise<number> {
  const config = context.config();
  const env = options.env ?? config.env;
  const trust = trustOf(context, store);
  // No environment waives a signature here: verify answers "is it validly signed", then applies the env's policy.
  const gate = new TrustGate({ verifier: trust.verifier, policy: trust.loadPolicy(), retirements: trust.store, devEnvironments: [] });
  // The logger says when a cached bundle was not the signed one (and so was discarded).
  const registry = new TemplateRegistry({ agentsDir: config.agentsDir, displayRoot: config.root, bundleCacheDir: config.bundleCacheDir, env, logger: context.logger });
  const results: Array<{ name: string; ok: boolean; version?: string; signer?: string; keyId?: string; signedAt?: string; skipped?: string; error?: { code: string; message: string } }> = [];
  for (const template of targets(registry, name, options)) {
    try {
      // As a run outside dev would: only a cache entry holding the signed bytes is reused.
      const resolved = await registry.inspect(template, { env, bundleFrom: 'signed-cache' });
      if (resolved.abstract) {
        results.push({ name: template, ok: true, version: resolved.version, skipped: 'abstract' });
        continue;
      }
      const admitted = gate.admit(resolved);
      const verification = admitted.trust.verification;
      results.push({
        name: template,
        ok: true,
        version: resolved.version,
        ...(verification ? { signer: verification.signer, keyId: verification.keyId, signedAt: new Date(verification.signedAt).toISOString() } : {}),
      });
    } catch (error) {
      const failure = toFactoryError(error);
      // The gate here waives nothing, so its message would claim this environment runs only signed templates; a dev one runs them anyway.
      const message =
        failure.code === 'E_SIGNATURE_MISSING' && DEFAULT_DEV_ENVIRONMENTS.includes(env)
          ? `template "${template}" is not signed; ${env} runs it anyway (with a warning), every other environment refuses it; sign it with \`af sign ${template}\``
          : failure.message;
      results.push({ name: template, ok: false, error: { code: failure.code, message } });
    }
  }
  registry.close();
  const failed = results.filter((result) => !result.ok);
  if (options.json) printJson(context.streams, { env, valid: failed.length === 0, results });
  else {
    const { paint } = context;
    // One line per template, as in `af sign`: the signer's name comes from a certificate, the rest from the template.
    for (const result of results.map(escapeStrings)) {
      if (result.skipped) context.streams.stdout.write(`${paint.dim('-')} ${result.name} ${paint.dim(`skipped (${result.skipped})`)}\n`);
      else if (result.ok) context.streams.stdout.write(`${paint.green('✓')} ${result.name} ${result.version} signed by ${result.signer} (${result.keyId}) at ${result.signedAt}\n`);
      else context.streams.stdout.write(`${paint.red('✗')} ${result.name} ${result.error?.code}: ${result.error?.message ?? ''}\n`);
    }
  }
  if (failed.length === 0) return EXIT.ok;
  // Trust failures are 3; a template that does not even load keeps its own status.
  return Math.max(...failed.map((result) => exitStatusFor((result.error?.code ?? 'E_INTERNAL') as never)));
}
