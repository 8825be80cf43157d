/** @module templates/data-schema — compiles a template's input and output JSON Schemas once and validates data against them. */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import * as ajvFormats from 'ajv-formats';
import type { Problem } from '../core/errors.js';
import { canonicalJson } from './canonical-json.js';
import type { JsonSchema } from './manifest.js';

// ajv-formats is CommonJS with `exports.default`; under NodeNext the plugin is the namespace's default.
const addFormats = ajvFormats.default as unknown as (ajv: Ajv2020) => Ajv2020;

/** Result of checking data: expected failures are data, not exceptions. */
export interface DataValidation {
  valid: boolean;
  /** Each problem with `pointer` = the JSON pointer into the data. */
  errors: Problem[];
}

export type DataValidator = (data: unknown) => DataValidation;

const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
addFormats(ajv);

/** Compiled validators by canonical schema text: templates and versions that share a schema share the work. */
const compiledBySchema = new Map<string, DataValidator>();

const ACCEPT_ALL: DataValidator = () => ({ valid: true, errors: [] });

/**
 * Compiles `schema` (draft 2020-12) into a validator.
 * @throws Error with ajv's message when the schema itself is invalid (the caller names the file and pointer).
 */
export function compileDataSchema(schema: JsonSchema | undefined): DataValidator {
  if (schema === undefined || schema === true) return ACCEPT_ALL;
  const key = canonicalJson(schema);
  const existing = compiledBySchema.get(key);
  if (existing) return existing;
  const validate: ValidateFunction = ajv.compile(schema);
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
