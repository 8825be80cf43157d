/** @module store/postgres/suggestions — the learner's suggestions and their decisions in PostgreSQL, shared by every node. */
import type { Suggestion, SuggestionState } from '../../core/suggestion.js';
import type { SuggestionStore } from '../contract.js';
import { toSuggestion, type SuggestionFilter, type SuggestionRow } from '../suggestions.js';
import type { PgDatabase } from './connection.js';

/** The optional filters of `list`, in a fixed order: each present one adds its condition and one parameter. */
const FILTERS = [
  ['template', 'template = $?'],
  // A suggestion for every tenant (`*`) is listed for each.
  ['tenant', "tenant IN ($?, '*')"],
  ['state', 'state = $?'],
  ['kind', 'kind = $?'],
] as const;

/*
 * One statement per combination of filters (as store/filtered-statement does for SQLite), each prepared under its own
 * name: a statement with "$1 IS NULL OR template = $1" would get one generic plan that cannot use the template index.
 * Ties in time are broken by id in byte order (`COLLATE "C"`), as SQLite's BINARY compares.
 */
function listStatement(mask: number): { name: string; text: string } {
  const conditions: string[] = [];
  FILTERS.forEach(([, condition], bit) => {
    if (mask & (1 << bit)) conditions.push(condition.replace('$?', `$${conditions.length + 1}`));
  });
  const where = conditions.length > 0 ? conditions.join(' AND ') : 'TRUE';
  return { name: `af_suggestions_list_${mask}`, text: `SELECT * FROM suggestions WHERE ${where} ORDER BY created_at DESC, id COLLATE "C" LIMIT $${conditions.length + 1}` };
}
const LIST_STATEMENTS = Array.from({ length: 1 << FILTERS.length }, (_, mask) => listStatement(mask));

export class PgSuggestions implements SuggestionStore {
  readonly #db: PgDatabase;

  constructor(db: PgDatabase) {
    this.#db = db;
  }

  async add(suggestion: Suggestion): Promise<void> {
    await this.#db.query(
      `INSERT INTO suggestions (id, kind, template, tenant, base_version, base_digest, patch, evidence, expected_impact, confidence, state, evidence_key, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      [
        suggestion.id, suggestion.kind, suggestion.template, suggestion.tenant, suggestion.baseVersion, suggestion.baseDigest,
        JSON.stringify(suggestion.patch), JSON.stringify(suggestion.evidence), JSON.stringify(suggestion.expectedImpact),
        suggestion.confidence, suggestion.state, suggestion.evidenceKey, suggestion.createdAt,
      ],
    );
  }

  async get(id: string): Promise<Suggestion | undefined> {
    const row = await this.#db.row<SuggestionRow>({ name: 'af_suggestions_get', text: 'SELECT * FROM suggestions WHERE id = $1' }, [id]);
    return row ? toSuggestion(row) : undefined;
  }

  /** Newest first. */
  async list(filter: SuggestionFilter = {}): Promise<Suggestion[]> {
    let mask = 0;
    const values: unknown[] = [];
    FILTERS.forEach(([key], bit) => {
      // An empty value means "any", as it does for SQLite.
      const value = filter[key];
      if (!value) return;
      mask |= 1 << bit;
      values.push(value);
    });
    const rows = await this.#db.rows<SuggestionRow>(LIST_STATEMENTS[mask] as { name: string; text: string }, [...values, filter.limit ?? 500]);
    return rows.map(toSuggestion);
  }

  /** Suggestions of one template and kind, any state: what the learner checks before proposing again. */
  history(template: string, kind: Suggestion['kind']): Promise<Suggestion[]> {
    return this.list({ template, kind, limit: 10_000 });
  }

  /** Moves a suggestion to a new state, recording who and why; one statement, so the row returned is the row written. */
  async decide(id: string, state: SuggestionState, decision: { by?: string; reason?: string; at: number; candidateVersion?: string }): Promise<Suggestion | undefined> {
    const row = await this.#db.row<SuggestionRow>(
      `UPDATE suggestions SET state = $1, decided_at = $2, decided_by = coalesce($3, decided_by), reason = coalesce($4, reason), candidate_version = coalesce($5, candidate_version)
       WHERE id = $6 RETURNING *`,
      [state, decision.at, decision.by ?? null, decision.reason ?? null, decision.candidateVersion ?? null, id],
    );
    return row ? toSuggestion(row) : undefined;
  }

  /** Withdraws an open suggestion that a newer one for the same change replaces; decided ones are history and stay. */
  async withdraw(id: string): Promise<boolean> {
    return (await this.#db.query("DELETE FROM suggestions WHERE id = $1 AND state = 'open'", [id])).rowCount === 1;
  }

  /** Acceptance rate per kind over decided suggestions: shapes ranking. */
  async acceptanceByKind(): Promise<Record<string, { accepted: number; rejected: number }>> {
    const rows = await this.#db.rows<{ kind: string; accepted: number; rejected: number }>(
      `SELECT kind, count(*) FILTER (WHERE state IN ('accepted', 'canary', 'promoted'))::bigint AS accepted,
              count(*) FILTER (WHERE state IN ('rejected', 'rolled_back'))::bigint AS rejected
       FROM suggestions GROUP BY kind ORDER BY kind COLLATE "C"`,
    );
    return Object.fromEntries(rows.map((row) => [row.kind, { accepted: row.accepted, rejected: row.rejected }]));
  }
}
