/** @module templates/manifest — the manifest's types and its schema check, compiled once, reporting every problem with its pointer and line. */
import { readFileSync } from 'node:fs';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import type { Problem } from '../core/errors.js';
import type { Limits, LimitsByInput, Permissions, PoolSettings } from '../core/agent-spec.js';
import { type JsonSource, positionOf } from './json-source.js';
import { ownSchemaValidator } from './own-schema-validator.js';

/** A manifest as written in one `agent.json`: any key may be absent, and `null` removes an inherited key. */
export interface RawManifest {
  $schema?: string;
  name: string;
  version: string;
  extends?: string;
  abstract?: boolean;
  description?: string | null;
  entry?: string | null;
  permissions?: Partial<Record<keyof Permissions, unknown>> | null;
  limits?: (Partial<Record<Exclude<keyof Limits, 'byInput'>, number | null>> & { byInput?: LimitsByInput | null }) | null;
  pool?: Partial<Record<keyof PoolSettings, unknown>> | null;
  input?: JsonSchema | null;
  output?: JsonSchema | null;
  config?: Record<string, unknown> | null;
  debug?: Partial<Record<keyof DebugSettings, unknown>> | null;
  environments?: Record<string, EnvironmentOverlay | null> | null;
}

export type EnvironmentOverlay = Pick<RawManifest, 'description' | 'permissions' | 'limits' | 'pool' | 'config' | 'debug'>;

/**
 * `debug` of a manifest: opt-in capture of failed runs. Part of the signed digest like every other key: turning
 * capture on changes what is kept of a run's data (which may hold secrets), so the signer vouches for it too.
 */
export interface DebugSettings {
  /** Keep each failed run's input, output or error message, and logs. @default false */
  captureFailures: boolean;
  /** Bound of each captured part, KB. @default 64 */
  maxCaptureKb: number;
}

export type JsonSchema = Record<string, unknown> | boolean;

/** A manifest after `extends` and the environment overlay, every default filled in. What runs. */
export interface ResolvedManifest {
  name: string;
  version: string;
  extends?: string;
  description: string;
  entry: string;
  permissions: Permissions;
  limits: Limits;
  pool: PoolSettings;
  input?: JsonSchema;
  output?: JsonSchema;
  config: Record<string, unknown>;
  /** Present only when the template (or its environment) turns capture on. */
  debug?: DebugSettings;
}

/** Manifests larger than this are refused before parsing; data belongs in files the agent reads. */
export const MAX_MANIFEST_BYTES = 256 * 1024;

export const MANIFEST_SCHEMA: Record<string, unknown> = JSON.parse(
  readFileSync(new URL('./manifest.schema.json', import.meta.url), 'utf8'),
);

let compiled: ValidateFunction | undefined;

/** The manifest validator, compiled on first use and kept for the life of the process. */
function manifestValidator(): ValidateFunction {
  compiled ??= ownSchemaValidator('manifest', () => MANIFEST_SCHEMA);
  return compiled;
}

/**
 * Checks one parsed `agent.json` against the manifest schema.
 * @returns every problem found, each with its JSON pointer and line; empty when valid.
 */
export function checkManifestSchema(source: JsonSource, file: string): Problem[] {
  const validate = manifestValidator();
  if (validate(source.value)) return [];
  const problems: Problem[] = [];
  const seen = new Set<string>();
  for (const error of validate.errors ?? []) {
    const problem = describeSchemaError(error);
    if (!problem) continue;
    const key = `${problem.pointer}\u0000${problem.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const position = positionOf(source, problem.pointer);
    problems.push({ file, pointer: problem.pointer, ...(position ? { line: position.line, column: position.column } : {}), message: problem.message });
  }
  return problems;
}

function describeSchemaError(error: ErrorObject): { pointer: string; message: string } | undefined {
  const pointer = error.instancePath;
  const params = error.params as Record<string, unknown>;
  const parentSchema = (error.parentSchema ?? {}) as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const allowed = Object.keys((parentSchema.properties as Record<string, unknown> | undefined) ?? {}).filter((k) => k !== '$schema');
      const where = pointer === '' ? 'agent.json' : pointer;
      const message = allowed.length > 0
        ? `unknown key "${key}" in ${where}; allowed keys are: ${allowed.join(', ')}`
        : `unknown key "${key}" in ${where}`;
      return { pointer: `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`, message };
    }
    case 'required':
      return { pointer, message: `missing required key "${String(params.missingProperty)}"` };
    case 'type': {
      const types = String(params.type).split(',').filter((t) => t !== 'null');
      return { pointer, message: `must be ${types.map(article).join(' or ')}, not ${describeValue(error.data)}` };
    }
    case 'pattern': {
      const hint = typeof parentSchema.errorHint === 'string' ? parentSchema.errorHint : `a string matching ${String(params.pattern)}`;
      return { pointer, message: `must be ${hint}, not ${JSON.stringify(error.data)}` };
    }
    case 'propertyNames':
      // The nested pattern error names the offending key; this summary adds nothing.
      return undefined;
    case 'minimum':
    case 'maximum':
      return { pointer, message: `must be ${error.keyword === 'minimum' ? 'at least' : 'at most'} ${String(params.limit)}, not ${JSON.stringify(error.data)}` };
    case 'exclusiveMinimum':
      return { pointer, message: `must be greater than ${String(params.limit)}, not ${JSON.stringify(error.data)}` };
    case 'not':
      // A key that may never be set (limits.byInput.memoryMb): its hint says why.
      return { pointer, message: typeof parentSchema.errorHint === 'string' ? parentSchema.errorHint : 'must not be set' };
    default:
      return { pointer, message: error.message ?? `fails ${error.keyword}` };
  }
}

function article(type: string): string {
  if (type === 'integer') return 'an integer';
  if (type === 'object' || type === 'array') return `an ${type}`;
  return `a ${type}`;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `a string (${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)})`;
  return `${article(typeof value)} (${String(value)})`;
}
