/** @module store/rollouts — canary rollouts: which version of a template is stable, which is the candidate, and the share of creations it gets. */
import type Database from 'better-sqlite3';

export type RolloutState = 'canary' | 'promoted' | 'rolled_back';

export interface Rollout {
  template: string;
  stableVersion: string;
  candidateVersion: string;
  /** Share of createAgent calls routed to the candidate, 0..1. */
  weight: number;
  state: RolloutState;
  startedAt: number;
  decidedAt?: number;
  /** The numbers behind an automatic decision. */
  decision?: Record<string, unknown>;
  suggestionId?: string;
}

/** A row of `rollouts` as both backends return it. */
export interface RolloutRow {
  template: string;
  stable_version: string;
  candidate_version: string;
  weight: number;
  state: RolloutState;
  started_at: number;
  decided_at: number | null;
  decision: string | null;
  suggestion_id: string | null;
}

export class Rollouts {
  readonly #get: Database.Statement<[string], RolloutRow>;
  readonly #active: Database.Statement<[], RolloutRow>;
  readonly #start: Database.Statement<[string, string, string, number, number, string | null]>;
  readonly #decide: Database.Statement<[string, number, string, string]>;

  constructor(db: Database.Database) {
    this.#get = db.prepare('SELECT * FROM rollouts WHERE template = ?');
    this.#active = db.prepare("SELECT * FROM rollouts WHERE state = 'canary'");
    this.#start = db.prepare(
      `INSERT INTO rollouts (template, stable_version, candidate_version, weight, state, started_at, suggestion_id) VALUES (?, ?, ?, ?, 'canary', ?, ?)
       ON CONFLICT (template) DO UPDATE SET stable_version = excluded.stable_version, candidate_version = excluded.candidate_version, weight = excluded.weight,
         state = 'canary', started_at = excluded.started_at, decided_at = NULL, decision = NULL, suggestion_id = excluded.suggestion_id`,
    );
    this.#decide = db.prepare("UPDATE rollouts SET state = ?, decided_at = ?, decision = ? WHERE template = ? AND state = 'canary'");
  }

  /** Starts (or replaces) the canary of a template. */
  start(rollout: Omit<Rollout, 'state' | 'decidedAt' | 'decision'>): Rollout {
    this.#start.run(rollout.template, rollout.stableVersion, rollout.candidateVersion, rollout.weight, rollout.startedAt, rollout.suggestionId ?? null);
    return this.get(rollout.template) as Rollout;
  }

  get(template: string): Rollout | undefined {
    const row = this.#get.get(template);
    return row ? toRollout(row) : undefined;
  }

  /** Rollouts still in canary. */
  active(): Rollout[] {
    return this.#active.all().map(toRollout);
  }

  /** Ends a canary. Only a canary can be decided; returns whether this call decided it (another process may have). */
  decide(template: string, state: 'promoted' | 'rolled_back', at: number, decision: Record<string, unknown>): boolean {
    return this.#decide.run(state, at, JSON.stringify(decision), template).changes === 1;
  }
}

export function toRollout(row: RolloutRow): Rollout {
  return {
    template: row.template,
    stableVersion: row.stable_version,
    candidateVersion: row.candidate_version,
    weight: row.weight,
    state: row.state,
    startedAt: row.started_at,
    ...(row.decided_at !== null ? { decidedAt: row.decided_at } : {}),
    ...(row.decision !== null ? { decision: JSON.parse(row.decision) as Record<string, unknown> } : {}),
    ...(row.suggestion_id !== null ? { suggestionId: row.suggestion_id } : {}),
  };
}
