// The plans SQLite picks for the run queries, read with EXPLAIN QUERY PLAN on the statements the store prepares: a
// filter on template or tenant must search its index, not scan runs_by_time for matching rows.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, RunQueries, type Store, Suggestions } from '../../store/index.js';

let store: Store;
beforeEach(() => {
  store = openStore({ path: ':memory:' });
});
afterEach(async () => {
  await store.close();
});

/** Every index and table access of a statement's plan, e.g. `SEARCH runs USING INDEX runs_by_template (template=? AND started_at>? AND started_at<?)`. */
function plan(sql: string): string {
  const rows = store.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all({ template: 't', tenant: 'n', outcome: 'ok', state: 'open', kind: 'k', since: 0, until: 1, seq: 0, limit: 1 }) as Array<{ detail: string }>;
  return rows.map((row) => row.detail).join('; ');
}

describe('run queries', () => {
  it('search the index of the filter they are given', () => {
    const statements = RunQueries.unsafeFilterStatements(store.queries);
    for (const name of ['list', 'stats', 'iterate'] as const) {
      for (const { filters, sql } of statements[name]) {
        const detail = plan(sql);
        // Both: either index narrows to one template's or one tenant's runs (SQLite has no statistics to choose by).
        if (filters.includes('template') && filters.includes('tenant')) expect(detail, `${name} with ${filters.join(', ')}`).toMatch(/USING INDEX (runs_by_template \(template=\?|runs_by_tenant \(tenant=\?)/);
        else if (filters.includes('template')) expect(detail, `${name} with ${filters.join(', ')}`).toMatch(/USING INDEX runs_by_template \(template=\?/);
        else if (filters.includes('tenant')) expect(detail, `${name} with ${filters.join(', ')}`).toMatch(/USING INDEX runs_by_tenant \(tenant=\?/);
        else expect(detail, `${name} with ${filters.join(', ') || 'no filter'}`).toMatch(/USING INDEX runs_by_time \(started_at>\? AND started_at<\?\)/);
      }
    }
    // after/upTo walk rowid order from a place: a range over rowid that stops at the limit, whatever the filters.
    for (const [name, range] of [['after', 'rowid>?'], ['upTo', 'rowid<?']] as const) {
      for (const { filters, sql } of statements[name]) expect(plan(sql), `${name} with ${filters.join(', ') || 'no filter'}`).toBe(`SEARCH runs USING INTEGER PRIMARY KEY (${range})`);
    }
  });
});

describe('suggestion queries', () => {
  it('search the template index when given a template', () => {
    for (const { filters, sql } of Suggestions.unsafeFilterStatements(store.suggestions)) {
      if (filters.includes('template')) expect(plan(sql), filters.join(', ')).toMatch(/USING INDEX suggestions_by_template \(template=\?/);
    }
  });
});
