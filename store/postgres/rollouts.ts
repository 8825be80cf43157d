/** @module store/postgres/rollouts — canary rollouts in PostgreSQL: every node routes by the same rollout, and only one node decides it. */
import type { RolloutStore } from '../contract.js';
import { toRollout, type Rollout, type RolloutRow } from '../rollouts.js';
import type { PgDatabase } from './connection.js';

export class PgRollouts implements RolloutStore {
  readonly #db: PgDatabase;

  constructor(db: PgDatabase) {
    this.#db = db;
  }

  /** Starts (or replaces) the canary of a template. */
  async start(rollout: Omit<Rollout, 'state' | 'decidedAt' | 'decision'>): Promise<Rollout> {
    const row = await this.#db.row<RolloutRow>(
      `INSERT INTO rollouts (template, stable_version, candidate_version, weight, state, started_at, suggestion_id) VALUES ($1, $2, $3, $4, 'canary', $5, $6)
       ON CONFLICT (template) DO UPDATE SET stable_version = excluded.stable_version, candidate_version = excluded.candidate_version, weight = excluded.weight,
         state = 'canary', started_at = excluded.started_at, decided_at = NULL, decision = NULL, suggestion_id = excluded.suggestion_id
       RETURNING *`,
      [rollout.template, rollout.stableVersion, rollout.candidateVersion, rollout.weight, rollout.startedAt, rollout.suggestionId ?? null],
    );
    return toRollout(row as RolloutRow);
  }

  async get(template: string): Promise<Rollout | undefined> {
    const row = await this.#db.row<RolloutRow>({ name: 'af_rollouts_get', text: 'SELECT * FROM rollouts WHERE template = $1' }, [template]);
    return row ? toRollout(row) : undefined;
  }

  /** Rollouts still in canary, oldest first (SQLite lists them in the order they were first started). */
  async active(): Promise<Rollout[]> {
    const rows = await this.#db.rows<RolloutRow>({ name: 'af_rollouts_active', text: `SELECT * FROM rollouts WHERE state = 'canary' ORDER BY started_at, template COLLATE "C"` });
    return rows.map(toRollout);
  }

  /**
   * Ends a canary. Only a canary can be decided; returns whether this call decided it. One conditional UPDATE: when two
   * nodes decide at once, the second waits for the first's row lock, then re-reads the row (READ COMMITTED), finds it
   * no longer a canary and changes nothing, so exactly one of them returns true.
   */
  async decide(template: string, state: 'promoted' | 'rolled_back', at: number, decision: Record<string, unknown>): Promise<boolean> {
    const result = await this.#db.query("UPDATE rollouts SET state = $1, decided_at = $2, decision = $3 WHERE template = $4 AND state = 'canary'", [state, at, JSON.stringify(decision), template]);
    return result.rowCount === 1;
  }
}
