/** @module store/postgres/learner-models — trained learner models in PostgreSQL: one model per template and target for the whole fleet. */
import type { LearnerModelStore } from '../contract.js';
import type { PgDatabase } from './connection.js';

export class PgLearnerModels implements LearnerModelStore {
  readonly #db: PgDatabase;

  constructor(db: PgDatabase) {
    this.#db = db;
  }

  /** Saves (or replaces) the model of a template and target; the last save wins, as on SQLite. */
  async save(template: string, target: string, state: unknown, trainedAt: number, samples: number): Promise<void> {
    await this.#db.query(
      `INSERT INTO learner_models (template, target, state, trained_at, samples) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (template, target) DO UPDATE SET state = excluded.state, trained_at = excluded.trained_at, samples = excluded.samples`,
      [template, target, JSON.stringify(state), trainedAt, samples],
    );
  }

  async load<T>(template: string, target: string): Promise<{ state: T; trainedAt: number; samples: number } | undefined> {
    const row = await this.#db.row<{ state: string; trained_at: number; samples: number }>('SELECT state, trained_at, samples FROM learner_models WHERE template = $1 AND target = $2', [template, target]);
    return row ? { state: JSON.parse(row.state) as T, trainedAt: row.trained_at, samples: row.samples } : undefined;
  }
}
