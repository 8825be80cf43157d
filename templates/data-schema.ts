/** @module templates/data-schema — compiles a template's input and output JSON Schemas once and validates data against them. */
import { createRequire } from 'node:module';
import type { Ajv2020, ValidateFunction } from 'ajv/dist/2020.js';
import type { Problem } from '../core/errors.js';
import { canonicalJson } from '../core/canonical-json.js';
import type { JsonSchema } from './manifest.js';

const require = createRequire(import.meta.url);

/** Result of checking data: expected failures are data, not exceptions. */
export interface DataValidation {
  valid: boolean;
  /** Each problem with `pointer` = the JSON pointer into the data. */
  errors: Problem[];
}

export type DataValidator = (data: unknown) => DataValidation;

let shared: Ajv2020 | undefined;
/**
 * Ajv and its formats, loaded on the first schema compiled: a template without input or output schema (and a one-shot
 * `af run` of one) never pays the ~100 ms Ajv takes to load and set up.
 */
function ajvInstance(): Ajv2020 {
  if (shared) return shared;
  const { Ajv2020: Ajv } = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
  // ajv-formats is CommonJS with `exports.default`.
  const addFormats = (require('ajv-formats') as { default: (ajv: Ajv2020) => Ajv2020 }).default;
  shared = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  addFormats(shared);
  return shared;
}

/** Compiled validators by canonical schema text: templates and versions that share a schema share the work. */
const compiledBySchema = new Map<string, DataValidator>();

const ACCEPT_ALL: DataValidator = () => ({ valid: true, errors: [] });

/** A schema that is not valid JSON Schema; `pointer` is relative to the schema's root. */
export class InvalidSchemaError extends Error {
  constructor(
    message: string,
    readonly pointer: string,
  ) {
    super(message);
    this.name = 'InvalidSchemaError';
  }
}

/**
 * Compiles `schema` (draft 2020-12) into a validator.
 * @throws InvalidSchemaError when the schema itself is invalid (the caller names the file and pointer).
 */
export function compileDataSchema(schema: JsonSchema | undefined): DataValidator {
  if (schema === undefined || schema === true) return ACCEPT_ALL;
  const key = canonicalJson(schema);
  const existing = compiledBySchema.get(key);
  if (existing) return existing;
  const ajv = ajvInstance();
  if (!ajv.validateSchema(schema)) {
    // The meta-schema reports the same mistake several ways (enum, type, anyOf); the first is the plainest.
    const first = (ajv.errors ?? [])[0];
    const allowed = (first?.params as { allowedValues?: unknown[] } | undefined)?.allowedValues;
    const message = allowed ? `must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}` : (first?.message ?? 'is not a valid JSON Schema');
    throw new InvalidSchemaError(message, first?.instancePath ?? '');
  }
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(schema);
  } catch (error) {
    throw new InvalidSchemaError((error as Error).message, '');
  }
  const validator: DataValidator = (data) => {
    if (validate(data)) return { valid: true, errors: [] };
    return {
      valid: false,
      errors: (validate.errors ?? []).map((error) => {
        const extra = error.keyword === 'additionalProperties' ? ` "${String((error.params as { additionalProperty?: string }).additionalProperty)}"` : '';
        return { pointer: error.instancePath, message: `${error.message ?? error.keyword}${extra}` };
      }),
    };
  };
  compiledBySchema.set(key, validator);
  return validator;
}
