/** @module cli/environments — which environments a project knows, so `--env stagign` is refused instead of silently running under the wrong rules. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ResolvedConfig } from '../core/config.js';
import { FactoryError } from '../core/errors.js';
import { DEFAULT_DEV_ENVIRONMENTS, loadPolicy, parseJsonSource } from '../templates/index.js';

const ENV_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

/** Known without being declared anywhere: the dev environments and the two conventional ones after dev. */
const BUILT_IN: readonly string[] = [...DEFAULT_DEV_ENVIRONMENTS, 'staging', 'prod'];

/**
 * The environments a project knows: the dev ones, `staging` and `prod`, those listed in policy.json's `environments`, those its
 * rules name, and those a template gives an overlay (`environments.<env>` in agents/NAME/agent.json). Any other name
 * is far more likely a typo than a new environment, and a typo would run outside dev under the default rules with
 * no overlay: quietly not what was meant.
 */
export function knownEnvironments(config: ResolvedConfig): string[] {
  const known = new Set(BUILT_IN);
  const policy = loadPolicy(config.policyPath, config.root);
  for (const env of policy.environments ?? []) known.add(env);
  for (const rule of policy.rules) for (const env of rule.environments ?? []) known.add(env);
  let folders: string[] = [];
  try {
    folders = readdirSync(config.agentsDir);
  } catch {
    // No agents folder: only the built-in and policy environments.
  }
  for (const folder of folders) {
    try {
      const manifest = parseJsonSource(readFileSync(path.join(config.agentsDir, folder, 'agent.json'), 'utf8')).value as { environments?: unknown };
      if (manifest.environments && typeof manifest.environments === 'object') for (const env of Object.keys(manifest.environments)) known.add(env);
    } catch {
      // Not a template, or one `af validate` reports: it declares nothing here.
    }
  }
  return [...known].sort();
}

/**
 * Refuses an environment the project does not know.
 * @param where how the user gave it (`--env`, `AF_ENV`, `--allow-env`), for the message.
 * @throws FactoryError `E_USAGE` naming the known environments and the nearest one.
 */
export function checkEnvironment(config: () => ResolvedConfig, env: string, where: string): void {
  if (!ENV_NAME.test(env)) {
    throw new FactoryError('E_USAGE', `${where} ${JSON.stringify(env)} is not an environment name: lower-case letters, digits, "-" and "_", starting with a letter (e.g. dev, staging, prod)`);
  }
  // The common case costs no file read.
  if (BUILT_IN.includes(env)) return;
  const known = knownEnvironments(config());
  if (known.includes(env)) return;
  const nearest = known.map((name) => ({ name, distance: editDistance(name, env) })).sort((a, b) => a.distance - b.distance)[0];
  const hint = nearest && nearest.distance <= 2 ? `did you mean "${nearest.name}"? ` : '';
  throw new FactoryError(
    'E_USAGE',
    `${where} ${env}: this project knows no environment "${env}"; ${hint}known: ${known.join(', ')} (dev, staging and prod, policy.json "environments" and rules, template overlays). To add one, list it in policy.json: "environments": ["${env}"]`,
    { details: { env, known } },
  );
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
