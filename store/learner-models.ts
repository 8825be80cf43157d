/** @module store/learner-models — trained learner models, saved as JSON (topology, weights in base64, scaling) per template and target. */
import type Database from 'better-sqlite3';

export class LearnerModels {
  readonly #save: Database.Statement;
  readonly #load: Database.Statement<[string, string], { state: string; trained_at: number; samples: number }>;

  constructor(db: Database.Database) {
    this.#save = db.prepare(
      'INSERT INTO learner_models (template, target, state, trained_at, samples) VALUES (?, ?, ?, ?, ?) ON CONFLICT (template, target) DO UPDATE SET state = excluded.state, trained_at = excluded.trained_at, samples = excluded.samples',
    );
    this.#load = db.prepare('SELECT state, trained_at, samples FROM learner_models WHERE template = ? AND target = ?');
  }

  save(template: string, target: string, state: unknown, trainedAt: number, samples: number): void {
    this.#save.run(template, target, JSON.stringify(state), trainedAt, samples);
  }

  load<T>(template: string, target: string): { state: T; trainedAt: number; samples: number } | undefined {
    const row = this.#load.get(template, target);
    return row ? { state: JSON.parse(row.state) as T, trainedAt: row.trained_at, samples: row.samples } : undefined;
  }
}
