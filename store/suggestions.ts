/** @module store/suggestions — the learner's suggestions and their decisions, kept so a rejected one is not proposed again unchanged. */
import type Database from 'better-sqlite3';
import type { Suggestion, SuggestionState } from '../core/suggestion.js';
import { FilteredStatement } from './filtered-statement.js';

/** A row of `suggestions` as both backends return it (PostgreSQL's BIGINTs read as numbers). */
export interface SuggestionRow {
  id: string;
  kind: Suggestion['kind'];
  template: string;
  tenant: string;
  base_version: string;
  base_digest: string;
  patch: string;
  evidence: string;
  expected_impact: string;
  confidence: number;
  state: SuggestionState;
  evidence_key: string;
  created_at: number;
  decided_at: number | null;
  decided_by: string | null;
  reason: string | null;
  candidate_version: string | null;
}

export interface SuggestionFilter {
  template?: string;
  tenant?: string;
  state?: SuggestionState;
  kind?: Suggestion['kind'];
  limit?: number;
}

/** A filter's values as bound: an absent (or empty) one is left out of the statement. */
type FilterParams = { template?: string; tenant?: string; state?: string; kind?: string };

export class Suggestions {
  readonly #insert: Database.Statement;
  readonly #get: Database.Statement<[string], SuggestionRow>;
  readonly #list: FilteredStatement<FilterParams, SuggestionRow>;
  readonly #decide: Database.Statement<[string, number, string | null, string | null, string | null, string]>;
  readonly #withdraw: Database.Statement<[string]>;
  readonly #acceptance: Database.Statement<[], { kind: string; accepted: number; rejected: number }>;

  constructor(db: Database.Database) {
    this.#insert = db.prepare(`INSERT INTO suggestions (id, kind, template, tenant, base_version, base_digest, patch, evidence, expected_impact, confidence, state, evidence_key, created_at)
      VALUES (@id, @kind, @template, @tenant, @baseVersion, @baseDigest, @patch, @evidence, @expectedImpact, @confidence, @state, @evidenceKey, @createdAt)`);
    this.#get = db.prepare('SELECT * FROM suggestions WHERE id = ?');
    // One statement per combination of filters (store/filtered-statement), so a template filter searches its index.
    this.#list = new FilteredStatement<FilterParams, SuggestionRow>(
      db,
      // A suggestion for every tenant (`*`) is listed for each.
      { template: 'template = @template', tenant: "tenant IN (@tenant, '*')", state: 'state = @state', kind: 'kind = @kind' },
      (where) => `SELECT * FROM suggestions WHERE ${where} ORDER BY created_at DESC, id LIMIT @limit`,
    );
    this.#decide = db.prepare(
      'UPDATE suggestions SET state = ?, decided_at = ?, decided_by = coalesce(?, decided_by), reason = coalesce(?, reason), candidate_version = coalesce(?, candidate_version) WHERE id = ?',
    );
    this.#withdraw = db.prepare("DELETE FROM suggestions WHERE id = ? AND state = 'open'");
    this.#acceptance = db.prepare(
      "SELECT kind, sum(state IN ('accepted', 'canary', 'promoted')) AS accepted, sum(state IN ('rejected', 'rolled_back')) AS rejected FROM suggestions GROUP BY kind",
    );
  }

  /** @internal The SQL of each combination of `list` filters: for EXPLAIN QUERY PLAN in tests. */
  static unsafeFilterStatements(suggestions: Suggestions): Array<{ filters: string[]; sql: string }> {
    return suggestions.#list.combinations();
  }

  add(suggestion: Suggestion): void {
    this.#insert.run({
      ...suggestion,
      patch: JSON.stringify(suggestion.patch),
      evidence: JSON.stringify(suggestion.evidence),
      expectedImpact: JSON.stringify(suggestion.expectedImpact),
    });
  }

  get(id: string): Suggestion | undefined {
    const row = this.#get.get(id);
    return row ? toSuggestion(row) : undefined;
  }

  /** Newest first. */
  list(filter: SuggestionFilter = {}): Suggestion[] {
    // An empty value means "any", as it always did.
    const bound: FilterParams = {};
    if (filter.template) bound.template = filter.template;
    if (filter.tenant) bound.tenant = filter.tenant;
    if (filter.state) bound.state = filter.state;
    if (filter.kind) bound.kind = filter.kind;
    return this.#list.for(bound).all({ ...bound, limit: filter.limit ?? 500 }).map(toSuggestion);
  }

  /** Suggestions of one template and kind, any state: what the learner checks before proposing again. */
  history(template: string, kind: Suggestion['kind']): Suggestion[] {
    return this.list({ template, kind, limit: 10_000 });
  }

  /** Moves a suggestion to a new state, recording who and why. */
  decide(id: string, state: SuggestionState, decision: { by?: string; reason?: string; at: number; candidateVersion?: string }): Suggestion | undefined {
    this.#decide.run(state, decision.at, decision.by ?? null, decision.reason ?? null, decision.candidateVersion ?? null, id);
    return this.get(id);
  }

  /** Withdraws an open suggestion that a newer one for the same change replaces; decided ones are history and stay. */
  withdraw(id: string): boolean {
    return this.#withdraw.run(id).changes === 1;
  }

  /** Acceptance rate per kind over decided suggestions: shapes ranking. */
  acceptanceByKind(): Record<string, { accepted: number; rejected: number }> {
    const rows = this.#acceptance.all();
    return Object.fromEntries(rows.map((row) => [row.kind, { accepted: row.accepted, rejected: row.rejected }]));
  }
}

export function toSuggestion(row: SuggestionRow): Suggestion {
  return {
    id: row.id,
    kind: row.kind,
    template: row.template,
    tenant: row.tenant,
    baseVersion: row.base_version,
    baseDigest: row.base_digest,
    patch: JSON.parse(row.patch) as Suggestion['patch'],
    evidence: JSON.parse(row.evidence) as Record<string, unknown>,
    expectedImpact: JSON.parse(row.expected_impact) as Suggestion['expectedImpact'],
    confidence: row.confidence,
    state: row.state,
    evidenceKey: row.evidence_key,
    createdAt: row.created_at,
    ...(row.decided_at !== null ? { decidedAt: row.decided_at } : {}),
    ...(row.decided_by !== null ? { decidedBy: row.decided_by } : {}),
    ...(row.reason !== null ? { reason: row.reason } : {}),
    ...(row.candidate_version !== null ? { candidateVersion: row.candidate_version } : {}),
  };
}
