/** @module templates/by-input-check — the checks on `limits.byInput` the manifest schema cannot make: a rule sets something, and its max stays within the flat limit where it is written. */
import { BY_INPUT_RESOURCES, DEFAULT_LIMITS, type LimitsByInput } from '../core/agent-spec.js';
import type { Problem } from '../core/errors.js';
import { type JsonSource, positionOf } from './json-source.js';
import type { RawManifest } from './manifest.js';
import { mergeManifests, mergeOverlay } from './merge.js';

/** One loaded manifest file, as these checks read it (template-file's `TemplateFile`, which loads through here). */
interface ManifestFile {
  file: string;
  source: JsonSource;
  manifest: RawManifest;
}

function at(source: JsonSource, file: string, pointer: string, message: string): Problem {
  const position = positionOf(source, pointer);
  return { file, pointer, ...(position ? { line: position.line, column: position.column } : {}), message };
}

/** Every `limits.byInput` one manifest file writes, with its pointer: the top-level one and each environment's. */
function declaredRules(manifest: RawManifest): Array<{ pointer: string; env?: string; rule: LimitsByInput }> {
  const found: Array<{ pointer: string; env?: string; rule: LimitsByInput }> = [];
  const top = manifest.limits?.byInput;
  if (top) found.push({ pointer: '/limits/byInput', rule: top });
  for (const [env, overlay] of Object.entries(manifest.environments ?? {})) {
    const rule = overlay?.limits?.byInput;
    if (rule) found.push({ pointer: `/environments/${env.replace(/~/g, '~0').replace(/\//g, '~1')}/limits/byInput`, env, rule });
  }
  return found;
}

/**
 * Problems of one schema-valid manifest file's own rules: a rule must set cpuMs or timeoutMs (a measure alone changes
 * nothing, and is surely a rule half written).
 */
export function byInputFileProblems(source: JsonSource, file: string, manifest: RawManifest): Problem[] {
  const problems: Problem[] = [];
  for (const { pointer, rule } of declaredRules(manifest)) {
    if (rule.cpuMs === undefined && rule.timeoutMs === undefined) {
      problems.push(at(source, file, pointer, 'sets no limit: add "cpuMs" or "timeoutMs" (each { "base": …, "exponent": …, "max": … }), or remove limits.byInput'));
    }
  }
  return problems;
}

/**
 * Problems of the chain's rules against the flat limits: each rule's `max` must not exceed the flat limit in force
 * where the rule is written (the file's own, else inherited, else the default; for an environment's rule, after that
 * environment's overlay). A descendant that lowers the flat limit later is fine: at run time a rule's limit never
 * exceeds the flat limit in force, so the rule is lowered with it rather than the descendant refused.
 */
export function byInputChainProblems(chain: readonly ManifestFile[]): Problem[] {
  const problems: Problem[] = [];
  let inherited: RawManifest = {} as RawManifest;
  for (const link of chain) {
    inherited = mergeManifests(inherited, link.manifest);
    for (const { pointer, env, rule } of declaredRules(link.manifest)) {
      const limits = env === undefined ? inherited.limits : (mergeOverlay(inherited as unknown as Record<string, unknown>, (inherited.environments?.[env] ?? {}) as Record<string, unknown>) as unknown as RawManifest).limits;
      for (const resource of BY_INPUT_RESOURCES) {
        const max = rule[resource]?.max;
        const min = rule[resource]?.min;
        const flat = limits?.[resource] ?? DEFAULT_LIMITS[resource];
        if (min !== undefined && min > (max ?? flat)) {
          problems.push(at(link.source, link.file, `${pointer}/${resource}/min`, `is ${min}, above the rule's max (${max ?? flat}): lower min or raise max`));
        }
        if (max !== undefined && max > flat) {
          problems.push(
            at(link.source, link.file, `${pointer}/${resource}/max`, `is ${max}, above limits.${resource} (${flat}): a rule may only lower a limit for small inputs; lower max to at most ${flat} or raise limits.${resource}`),
          );
        }
      }
    }
  }
  return problems;
}
