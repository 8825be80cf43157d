/** @module templates/policy — `policy.json`: rules every resolved template must pass before it runs; a denial names its rule. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import type { Limits, Permissions } from '../core/agent-spec.js';
import { FactoryError, formatProblem, type Problem } from '../core/errors.js';
import { ADDRESS_CLASSES, AddressRules, expandAddressEntry, type NetAddressRule, parseCidr } from '../core/net-address.js';
import { isInside } from './discover.js';
import { JsonSyntaxError, parseJsonSource, positionOf } from './json-source.js';
import type { ResolvedManifest } from './manifest.js';
import { ownSchemaValidator } from './own-schema-validator.js';

type ListPermission = 'read' | 'write' | 'net' | 'env' | 'spawn';

export interface PolicyRule {
  id: string;
  description?: string;
  /** Environments the rule applies to; when absent, every environment that is not a dev environment. */
  environments?: string[];
  /** Permissions that may not be granted at all. */
  deny?: Array<keyof Permissions>;
  read?: AllowDeny;
  write?: AllowDeny;
  net?: NetRules;
  env?: AllowDeny;
  spawn?: AllowDeny;
  maxLimits?: Partial<Omit<Limits, 'byInput'>>;
  /** Signer names (certificate common names) or key ids, one of which must have signed the template. */
  requireSigners?: string[];
}

export interface AllowDeny {
  allow?: string[];
  deny?: string[];
}

/**
 * Net rules: `allow`/`deny` are host patterns checked on the grants of agent.json; `denyAddresses` (and any IP
 * literal in `deny`) are address ranges checked by the host on every address it connects to, whatever name or
 * redirect led there. An entry of `denyAddresses` is a class of {@link ADDRESS_CLASSES} (`loopback`,
 * `unspecified`, `link-local`, `metadata`, `private`, `shared`, `multicast`, `reserved`), an IP or a CIDR.
 */
export interface NetRules extends AllowDeny {
  denyAddresses?: string[];
}

export interface Policy {
  rules: PolicyRule[];
  /** Environments this project runs in besides the dev ones, `prod` and those its rules and templates name; `--env` refuses any other. */
  environments?: string[];
  /** Where it came from: a file, or the built-in default. */
  source: string;
}

/**
 * The policy used when a project has no `policy.json`: blocks the grants that are dangerous outside
 * development (WebAssembly, which escapes the heap limit; writes outside `./out`; the host itself and the
 * cloud metadata service, by name and by every address that reaches them; limits that would let one agent
 * starve a host). Its rules name no environment, so they hold in every environment that is not a dev one
 * (`staging` as much as `prod`); the ids keep their `prod-` prefix because audit records name them.
 */
export const DEFAULT_POLICY: Policy = {
  source: 'built-in default policy',
  rules: [
    { id: 'prod-no-wasm', description: 'WebAssembly memory is outside the isolate heap limit', deny: ['wasm'] },
    { id: 'prod-write-only-out', description: 'agents write only below their ./out folder', write: { allow: ['./out'] } },
    {
      id: 'prod-no-loopback',
      description: 'no reaching services on the host itself, by name or by any address that loops back',
      net: { deny: ['localhost', '127.0.0.1', '[::1]', '*.localhost'], denyAddresses: ['loopback', 'unspecified'] },
    },
    {
      id: 'prod-no-metadata',
      description: 'no reaching link-local addresses, where cloud metadata services (169.254.169.254) hand out credentials',
      net: { denyAddresses: ['metadata', 'link-local'] },
    },
    // 256 MB: a run in flight claims 2 × memoryMb + 8 MB of a default host's 960 MB budget (sandbox/memory-budget.ts),
    // so one such run leaves room for others; 476 MB is the most a default host can hold at all.
    { id: 'prod-max-limits', description: 'one agent cannot take a whole host', maxLimits: { memoryMb: 256, timeoutMs: 60_000, cpuMs: 60_000 } },
  ],
};

/** Environments where unsigned templates may run and rules without `environments` do not apply. */
export const DEFAULT_DEV_ENVIRONMENTS: readonly string[] = Object.freeze(['dev']);

/**
 * Whether `rule` holds in `env`: the environments it names, or, when it names none, every environment that is
 * not a dev environment. A new environment (`staging`, `eu-prod`) is held to the rules, never exempt by its name.
 */
export function ruleApplies(rule: PolicyRule, env: string, devEnvironments: readonly string[] = DEFAULT_DEV_ENVIRONMENTS): boolean {
  return rule.environments ? rule.environments.includes(env) : !devEnvironments.includes(env);
}

/**
 * The address rules the host enforces at connect time in `env`, in rule order: each `net.denyAddresses` entry
 * expanded to its CIDRs, then each IP literal of `net.deny` (with its port, when it names one).
 * Computed when a template is admitted, so the host parses no policy on the fetch path.
 */
export function addressRulesOf(policy: Policy, env: string, devEnvironments: readonly string[] = DEFAULT_DEV_ENVIRONMENTS): NetAddressRule[] {
  return policy.rules.flatMap((rule) => (ruleApplies(rule, env, devEnvironments) ? addressRulesOfRule(rule) : []));
}

function addressRulesOfRule(rule: PolicyRule): NetAddressRule[] {
  const out: NetAddressRule[] = [];
  for (const entry of rule.net?.denyAddresses ?? []) {
    const name = entry.trim().toLowerCase();
    const label = name in ADDRESS_CLASSES ? name : entry;
    for (const cidr of expandAddressEntry(entry) ?? []) out.push({ cidr, label, rule: rule.id });
  }
  for (const pattern of rule.net?.deny ?? []) {
    const literal = ipLiteralOf(pattern);
    if (literal) out.push({ cidr: `${literal.address}/${literal.address.includes(':') ? 128 : 32}`, label: pattern, rule: rule.id, ...(literal.port !== undefined ? { port: literal.port } : {}) });
  }
  return out;
}

/** A host pattern that is an IP address (`10.0.0.1`, `[::1]:80`), as a CIDR and an optional port. */
function ipLiteralOf(pattern: string): { address: string; port?: number } | undefined {
  const whole = pattern.includes('/') ? undefined : parseCidr(pattern);
  if (whole) return { address: whole.address };
  const [host, port] = splitHostPort(pattern.trim());
  const parsed = host.includes('/') ? undefined : parseCidr(host);
  if (!parsed) return undefined;
  return { address: parsed.address, ...(port !== undefined && /^\d+$/.test(port) ? { port: Number(port) } : {}) };
}

let validator: ValidateFunction | undefined;
function policyValidator(): ValidateFunction {
  validator ??= ownSchemaValidator('policy', () => JSON.parse(readFileSync(new URL('./policy.schema.json', import.meta.url), 'utf8')));
  return validator;
}

/**
 * Loads `policy.json`, or the default policy when the file does not exist.
 * @throws FactoryError `E_USAGE` for a malformed policy, listing every problem with its line and pointer.
 */
export function loadPolicy(file: string, displayRoot: string): Policy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return DEFAULT_POLICY;
  }
  const display = path.relative(displayRoot, file) || file;
  let source;
  try {
    source = parseJsonSource(text);
  } catch (error) {
    if (!(error instanceof JsonSyntaxError)) throw error;
    const problem: Problem = { file: display, line: error.line, column: error.column, message: `invalid JSON: ${error.message}` };
    throw new FactoryError('E_USAGE', `${formatProblem(problem)}; fix policy.json`, { problems: [problem] });
  }
  const validate = policyValidator();
  if (!validate(source.value)) {
    const problems: Problem[] = (validate.errors ?? []).map((error) => {
      const pointer = error.keyword === 'additionalProperties' ? `${error.instancePath}/${String((error.params as { additionalProperty: string }).additionalProperty)}` : error.instancePath;
      const position = positionOf(source, pointer);
      const params = error.params as { additionalProperty?: string; allowedValues?: unknown[] };
      const message =
        error.keyword === 'additionalProperties' ? `unknown key "${String(params.additionalProperty)}"`
        : error.keyword === 'enum' ? `must be one of ${(params.allowedValues ?? []).map((value) => JSON.stringify(value)).join(', ')}, not ${JSON.stringify(error.data)}`
        : (error.message ?? error.keyword);
      return { file: display, pointer, ...(position ? { line: position.line, column: position.column } : {}), message };
    });
    throw new FactoryError('E_USAGE', `${display} is not a valid policy:\n${problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`, { problems });
  }
  const { rules, environments } = source.value as { rules: PolicyRule[]; environments?: string[] };
  const ids = new Set<string>();
  const problems: Problem[] = [];
  rules.forEach((rule, index) => {
    if (ids.has(rule.id)) throw new FactoryError('E_USAGE', `${display}: rule id "${rule.id}" is used twice; rule ids must be unique`);
    ids.add(rule.id);
    (rule.net?.denyAddresses ?? []).forEach((entry, at) => {
      if (expandAddressEntry(entry) !== undefined) return;
      const pointer = `/rules/${index}/net/denyAddresses/${at}`;
      const position = positionOf(source, pointer);
      const message = `${JSON.stringify(entry)} is not an address class, IP or CIDR; use one of ${Object.keys(ADDRESS_CLASSES).join(', ')}, or e.g. "10.0.0.0/8"`;
      problems.push({ file: display, pointer, ...(position ? { line: position.line, column: position.column } : {}), message });
    });
  });
  if (problems.length > 0) throw new FactoryError('E_USAGE', `${display} is not a valid policy:\n${problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`, { problems });
  return { rules, source: display, ...(environments ? { environments } : {}) };
}

/** What a policy check needs to know about a template. */
export interface PolicySubject {
  name: string;
  env: string;
  /** Real path of the template folder (relative path grants resolve against it). */
  dir: string;
  manifest: ResolvedManifest;
  /** The verified signer, if signed. */
  signer?: { keyId: string; name: string };
}

/**
 * Checks a template against every rule that applies to its environment (see {@link ruleApplies}).
 * @param devEnvironments environments exempt from rules that name no environment. @default ['dev']
 * @throws FactoryError `E_POLICY_DENIED` naming the rule id and what broke it, with `details.rule`.
 */
export function checkPolicy(policy: Policy, subject: PolicySubject, devEnvironments: readonly string[] = DEFAULT_DEV_ENVIRONMENTS): void {
  for (const rule of policy.rules) {
    if (!ruleApplies(rule, subject.env, devEnvironments)) continue;
    const violation = violationOf(rule, subject);
    if (violation) {
      throw new FactoryError('E_POLICY_DENIED', `template "${subject.name}" is denied in ${subject.env} by policy rule "${rule.id}" (${policy.source}): ${violation}`, {
        details: { rule: rule.id, env: subject.env },
      });
    }
  }
}

function violationOf(rule: PolicyRule, subject: PolicySubject): string | undefined {
  const { permissions, limits } = subject.manifest;
  for (const denied of rule.deny ?? []) {
    const granted = permissions[denied];
    if (granted === true || (Array.isArray(granted) && granted.length > 0)) return `permissions.${denied} may not be granted`;
  }
  for (const key of ['read', 'write'] as const) {
    const rules = rule[key];
    if (!rules) continue;
    for (const grant of permissions[key]) {
      const target = path.resolve(subject.dir, grant);
      if (rules.deny?.some((p) => isInside(path.resolve(subject.dir, p), target))) return `permissions.${key} grants "${grant}", which the rule denies`;
      if (rules.allow && !rules.allow.some((p) => isInside(path.resolve(subject.dir, p), target))) {
        return `permissions.${key} grants "${grant}", outside the allowed ${rules.allow.map((p) => `"${p}"`).join(', ')}`;
      }
    }
  }
  for (const key of ['net', 'env', 'spawn'] as const) {
    const rules = rule[key];
    if (!rules) continue;
    const matches = key === 'net' ? hostPatternCovers : (pattern: string, value: string) => pattern === value || pattern === '*';
    for (const grant of permissions[key as ListPermission]) {
      if (rules.deny?.some((pattern) => matches(pattern, grant) || (key === 'net' && hostPatternCovers(grant, stripPort(pattern))))) {
        return `permissions.${key} grants "${grant}", which the rule denies`;
      }
      if (rules.allow && !rules.allow.some((pattern) => matches(pattern, grant))) {
        return `permissions.${key} grants "${grant}", outside the allowed ${rules.allow.map((p) => `"${p}"`).join(', ')}`;
      }
    }
  }
  const addresses = addressRulesOfRule(rule);
  if (addresses.length > 0) {
    // A grant naming an address the host would refuse anyway is refused here, where the message can name it.
    const check = new AddressRules(addresses);
    for (const grant of permissions.net) {
      const literal = ipLiteralOf(grant);
      const denial = literal && check.denial(literal.address, literal.port);
      if (denial) return `permissions.net grants "${grant}", an address in ${denial.rule.label} that the rule denies`;
    }
  }
  for (const [key, maximum] of Object.entries(rule.maxLimits ?? {})) {
    const value = limits[key as keyof Limits];
    // A byInput rule can only lower a limit (its max is at most the flat limit), so the flat limits are what is checked.
    if (maximum !== undefined && typeof value === 'number' && value > maximum) return `limits.${key} is ${value}, above the maximum ${maximum}`;
  }
  if (rule.requireSigners) {
    if (!subject.signer) return `it must be signed by one of ${rule.requireSigners.join(', ')}, and it is not signed`;
    if (!rule.requireSigners.includes(subject.signer.name) && !rule.requireSigners.includes(subject.signer.keyId)) {
      return `it is signed by ${subject.signer.name} (${subject.signer.keyId}), not by one of ${rule.requireSigners.join(', ')}`;
    }
  }
  return undefined;
}

/**
 * Does the host pattern `pattern` (`host`, `host:port`, `*.domain[:port]`) cover the grant `grant`?
 * A pattern without a port covers every port; a wildcard grant is covered only by a wildcard pattern
 * at the same or a wider domain.
 */
export function hostPatternCovers(pattern: string, grant: string): boolean {
  const [patternHost, patternPort] = splitHostPort(pattern);
  const [grantHost, grantPort] = splitHostPort(grant);
  if (patternPort !== undefined && patternPort !== grantPort) return false;
  if (patternHost === grantHost) return true;
  if (patternHost.startsWith('*.')) {
    const suffix = patternHost.slice(1);
    return grantHost.endsWith(suffix) && grantHost.length > suffix.length;
  }
  return false;
}

function stripPort(pattern: string): string {
  return splitHostPort(pattern)[0];
}

function splitHostPort(value: string): [string, string | undefined] {
  const lower = value.toLowerCase();
  if (lower.startsWith('[')) {
    const end = lower.indexOf(']');
    const port = lower.slice(end + 1).startsWith(':') ? lower.slice(end + 2) : undefined;
    return [lower.slice(0, end + 1), port];
  }
  const colon = lower.lastIndexOf(':');
  return colon === -1 ? [lower, undefined] : [lower.slice(0, colon), lower.slice(colon + 1)];
}
