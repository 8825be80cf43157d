/** @module templates/own-schema-validator — validators for the project's own schemas (manifest, policy): generated at build time, compiled only when running from source. */
import { createRequire } from 'node:module';
import type { Ajv2020 as Ajv2020Type, ValidateFunction } from 'ajv/dist/2020.js';

const require = createRequire(import.meta.url);

/** Our schemas, by the name their generated validator is written under (`<name>.validate.cjs` beside this module). */
export const OWN_SCHEMAS = { manifest: 'manifest.schema.json', policy: 'policy.schema.json' } as const;
export type OwnSchemaName = keyof typeof OWN_SCHEMAS;

/**
 * The Ajv settings our schemas are checked with, at build time and from source alike. `verbose` puts the
 * parent schema on each error, where the `errorHint` annotation (which validates nothing) gives the readable message.
 */
export function createOwnSchemaAjv(options: { forStandalone?: boolean } = {}): Ajv2020Type {
  const { Ajv2020 } = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true, ...(options.forStandalone ? { code: { source: true } } : {}) });
  ajv.addKeyword({ keyword: 'errorHint', schemaType: 'string' });
  return ajv;
}

/**
 * The validator of one of our schemas. The build generates it as code (scripts/build.mjs), which saves every
 * process the ~100 ms Ajv takes to compile the manifest schema; run from source (tests), it is compiled here.
 */
export function ownSchemaValidator(name: OwnSchemaName, schema: () => unknown): ValidateFunction {
  try {
    return require(`./${name}.validate.cjs`) as ValidateFunction;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw error;
  }
  return createOwnSchemaAjv().compile(schema() as object);
}
