/** @module learner/selected-recommender — what right-sizing does per template: backtest the learner against the VPA rule on the template's own past and use whichever wins. */
import { backtest, type BacktestScore } from './backtest.js';
import { VpaRecommender } from './baselines.js';
import { LearnedRecommender, type LearnedRecommenderOptions } from './learned-recommender.js';
import type { LimitRecommender, Observation, RecommendContext } from './recommender.js';

/**
 * The learner is used only where, in a two-window walk-forward backtest on the same history, it
 * left less slack at an equal or lower limit-hit rate than the VPA rule; elsewhere the rule is used.
 * `lastChoice` and the scores say which and why, for a suggestion's evidence.
 */
export class SelectedRecommender implements LimitRecommender {
  readonly name = 'learner+vpa-fallback';
  readonly learner: LearnedRecommender;
  readonly vpa = new VpaRecommender();
  readonly #options: LearnedRecommenderOptions;
  lastChoice: 'learner' | 'vpa-rule' = 'vpa-rule';
  lastScores: { learner: BacktestScore; vpa: BacktestScore } | undefined;
  /** The VPA rule's recommendation at the last call, for evidence. */
  lastBaseline: number | undefined;
  /** The learner's recommendation at the last call (whether chosen or not), for evidence. */
  lastLearned: number | undefined;

  constructor(options: LearnedRecommenderOptions = {}) {
    this.#options = options;
    this.learner = new LearnedRecommender(options);
  }

  recommend(history: readonly Observation[], context: RecommendContext): number {
    const past = history.filter((o) => o.at < context.now);
    const scores = {
      learner: backtest(new LearnedRecommender({ ...this.#options, keepModel: false }), past, context.resource, context.currentLimit),
      vpa: backtest(this.vpa, past, context.resource, context.currentLimit),
    };
    this.lastScores = scores;
    const learnerWins = Number.isFinite(scores.learner.slack) && scores.learner.hitRate <= scores.vpa.hitRate + 1e-9 && scores.learner.slack < scores.vpa.slack;
    this.lastLearned = this.learner.recommend(past, context);
    this.lastBaseline = this.vpa.recommend(past, context);
    this.lastChoice = learnerWins && this.learner.lastMethod === 'model' ? 'learner' : 'vpa-rule';
    return this.lastChoice === 'learner' ? this.lastLearned : this.lastBaseline;
  }
}
