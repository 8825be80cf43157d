/** @module learner/recommender — the contract every limit recommender meets: the learner's model and the baselines it is measured against. */

/** The limits a recommender sizes, in the units of `agent.json`. */
export const RESOURCES = ['memoryMb', 'timeoutMs', 'cpuMs'] as const;
export type Resource = (typeof RESOURCES)[number];

/** One run as a limit recommender sees it. */
export interface Observation {
  /** When the run started, epoch ms. */
  at: number;
  /** The peak of the resource in the unit of the limit: heap MB, wall ms or CPU ms. */
  value: number;
  /**
   * The run hit this limit, so its true need is at least `value` (then `value` is the limit in force):
   * a censored sample, not an ordinary one.
   */
  censored: boolean;
  /** Input features of the run (see learner/features.ts), for models that use them. */
  features: number[];
  /**
   * The run's input measure as a `limits.byInput` rule would see it before the run (input bytes by default), ≥ 1.
   * Admission-time only: nothing measured during the run.
   */
  size: number;
}

/**
 * A limit as a function of the input measure x: min(max, max(min, base × x^exponent)) (`limits.byInput`'s power rule).
 * A flat limit is `{ base: L, exponent: 0, max: L }`.
 */
export interface LimitRule {
  base: number;
  exponent: number;
  /** The least limit any input gets. @default 0 */
  min?: number;
  max: number;
}

/** The limit a rule gives an input of measure `size` (no rounding: callers round where a manifest needs it). */
export function limitFor(rule: LimitRule, size: number): number {
  return Math.min(rule.max, Math.max(rule.min ?? 0, rule.base * Math.max(1, size) ** rule.exponent));
}

/** A flat limit as a rule. */
export function flatRule(limit: number): LimitRule {
  return { base: limit, exponent: 0, max: limit };
}

/**
 * A recommender whose limit follows the input: it proposes a rule rather than one number. Its `recommend` returns the
 * rule's `max` (the limit a manifest's flat field would carry).
 */
export interface RuleRecommender extends LimitRecommender {
  recommendRule(history: readonly Observation[], context: RecommendContext): LimitRule;
}

export function isRuleRecommender(recommender: LimitRecommender): recommender is RuleRecommender {
  return typeof (recommender as Partial<RuleRecommender>).recommendRule === 'function';
}

export interface RecommendContext {
  resource: Resource;
  /** The limit in force now. */
  currentLimit: number;
  /** Evaluation time, epoch ms: observations after it do not exist yet. */
  now: number;
}

/**
 * Recommends one limit from past observations. Implementations must not look at anything after
 * `context.now` (walk-forward evaluation relies on it) and must return a positive number.
 */
export interface LimitRecommender {
  readonly name: string;
  recommend(history: readonly Observation[], context: RecommendContext): number;
}

/** Smallest sensible limit per resource, so no recommender proposes something unusable. */
export const LIMIT_FLOOR: Record<Resource, number> = { memoryMb: 8, timeoutMs: 50, cpuMs: 20 };

/** Rounds a recommendation up to a value worth writing in a manifest. */
export function roundLimit(resource: Resource, value: number): number {
  const floor = LIMIT_FLOOR[resource];
  if (!Number.isFinite(value) || value <= floor) return floor;
  if (resource === 'memoryMb') return Math.ceil(value);
  return Math.ceil(value / 10) * 10;
}
