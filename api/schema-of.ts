/** @module api/schema-of — types that tie a JSON Schema literal to the TypeScript type it describes, so a field added to a record without its schema, or a schema field the record lacks, fails `tsc`. */

/** The JSON Schema `type` names a value of type `V` can take (`number` fields may say `integer`). */
export type JsonTypeName<V> = V extends string
  ? 'string'
  : V extends number
    ? 'number' | 'integer'
    : V extends boolean
      ? 'boolean'
      : V extends null
        ? 'null'
        : V extends readonly unknown[]
          ? 'array'
          : V extends object
            ? 'object'
            : never;

/** Keys of `T` that are not optional (a field typed `unknown` is still required when it has no `?`). */
export type RequiredKeys<T> = { [K in keyof T]-?: {} extends Pick<T, K> ? never : K }[keyof T];

/**
 * The schema of one property of type `V`: its `type` and `enum`, when given, must fit `V`; other keywords are free.
 * A property typed `unknown` takes no `type` (any JSON value).
 */
export interface PropertySchemaOf<V> {
  readonly type?: JsonTypeName<V> | readonly JsonTypeName<V>[];
  readonly enum?: readonly V[];
  readonly [keyword: string]: unknown;
}

/**
 * An object schema for `T`, for `satisfies`: `properties` names every key of `T` and nothing else, each with a
 * schema that fits its type; `required` names only keys `T` requires. That every required key is listed is checked
 * by {@link MissingRequired}, which `satisfies` cannot express.
 * @example
 * const auditEntry = { type: 'object', required: [...], properties: {...} } as const satisfies ObjectSchemaOf<AuditEntry>;
 * type _ = AssertNever<MissingRequired<AuditEntry, typeof auditEntry>>;
 */
export interface ObjectSchemaOf<T> {
  readonly $id?: string;
  readonly type: 'object';
  /** Absent when `T` requires nothing (query strings). */
  readonly required?: readonly RequiredKeys<T>[];
  readonly properties: { readonly [K in keyof T]-?: PropertySchemaOf<T[K]> };
  readonly additionalProperties?: boolean;
}

/** The keys `T` requires that `schema.required` leaves out: `never` when it lists them all. */
export type MissingRequired<T, S> = S extends { readonly required: readonly (infer Listed)[] } ? Exclude<RequiredKeys<T>, Listed> : RequiredKeys<T>;

/** Compiles only when `Missing` is `never`; the error names what is missing. */
export type AssertNever<Missing extends never> = Missing;
