/** @module store/filtered-statement — one prepared statement per combination of optional filters, each built and prepared on first use. */
import type Database from 'better-sqlite3';

/**
 * A query whose optional filters are left out of the SQL when not given, rather than written `(@x = '' OR x = @x)`:
 * SQLite plans a statement once, when it is prepared, and a plan that must serve both "any template" and "this
 * template" cannot use the index on template. So each combination of present filters gets its own statement (at most
 * 2^n, prepared when first asked for and kept), and its plan is the one for the filters it has.
 *
 * @example
 * const list = new FilteredStatement(db, { template: 'template = @template' }, (where) => `SELECT * FROM runs WHERE ${where} ORDER BY started_at`);
 * list.for({ template: 'hello' }).all({ template: 'hello' });
 */
export class FilteredStatement<Filter extends object, Row = unknown> {
  readonly #db: Database.Database;
  readonly #keys: ReadonlyArray<keyof Filter & string>;
  readonly #clauses: readonly string[];
  readonly #build: (where: string) => string;
  readonly #always: string;
  readonly #prepared: Array<Database.Statement<[Record<string, unknown>], Row> | undefined> = [];

  /**
   * @param clauses for each optional filter, the condition it adds (naming its parameter `@key`).
   * @param build the statement's SQL around its WHERE condition.
   * @param always conditions every combination has (joined to the others with AND). @default none
   */
  constructor(db: Database.Database, clauses: { [K in keyof Filter & string]?: string }, build: (where: string) => string, always = '') {
    this.#db = db;
    this.#keys = Object.keys(clauses) as Array<keyof Filter & string>;
    this.#clauses = this.#keys.map((key) => clauses[key] as string);
    this.#build = build;
    this.#always = always;
  }

  /** The statement for the filters `filter` gives (an `undefined` value is absent). */
  for(filter: Filter): Database.Statement<[Record<string, unknown>], Row> {
    let combination = 0;
    for (let i = 0; i < this.#keys.length; i++) if (filter[this.#keys[i] as keyof Filter] !== undefined) combination |= 1 << i;
    return this.#prepared[combination] ?? this.#prepare(combination);
  }

  /** The SQL of every combination, by the filters present: for EXPLAIN QUERY PLAN in tests. */
  combinations(): Array<{ filters: string[]; sql: string }> {
    const all: Array<{ filters: string[]; sql: string }> = [];
    for (let combination = 0; combination < 1 << this.#keys.length; combination++) {
      all.push({ filters: this.#keys.filter((_, i) => (combination & (1 << i)) !== 0), sql: this.#sql(combination) });
    }
    return all;
  }

  #prepare(combination: number): Database.Statement<[Record<string, unknown>], Row> {
    const statement = this.#db.prepare<[Record<string, unknown>], Row>(this.#sql(combination));
    this.#prepared[combination] = statement;
    return statement;
  }

  #sql(combination: number): string {
    const conditions = this.#clauses.filter((_, i) => (combination & (1 << i)) !== 0);
    if (this.#always !== '') conditions.push(this.#always);
    return this.#build(conditions.length > 0 ? conditions.join(' AND ') : 'TRUE');
  }
}
