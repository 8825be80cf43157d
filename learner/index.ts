/** @module learner — the improvement loop: features, TensorFlow.js models, suggestion generators, the maintainer workflow and the baselines it is measured against. */
export { initTf } from './tf.js';
export { FEATURE_COUNT, FEATURE_NAMES, featuresOf, hitLimit, observationsOf, peakOf } from './features.js';
export { LIMIT_FLOOR, RESOURCES, roundLimit, type LimitRecommender, type Observation, type RecommendContext, type Resource } from './recommender.js';
export { AutopilotRecommender, decayWeights, StaticRecommender, VpaRecommender, weightedQuantile } from './baselines.js';
export { createLearnedRecommender, LearnedRecommender, type LearnedRecommenderOptions } from './learned-recommender.js';
export { censoredPinballLoss, QuantileModel, type QuantileModelOptions, type QuantileModelState, type TrainingSample } from './quantile-model.js';
export { backtest, type BacktestScore } from './backtest.js';
export { applyJsonPatch, parsePointer } from './json-patch.js';
export { learn, rankSuggestions, type LearnOptions, type LearnResult } from './learn.js';
export { acceptSuggestion, bumpPatch, rejectSuggestion, retireVersion, rollback, startRollout, type AcceptOptions, type RetireResult, type WorkflowContext } from './workflow.js';
export { reliableFailureRegion } from './generators/failure-pattern.js';
export { MIN_RUNS as LEAST_PRIVILEGE_MIN_RUNS } from './generators/least-privilege.js';
export { MIN_RUNS as RIGHT_SIZING_MIN_RUNS } from './generators/right-sizing.js';
export { diffLines, previewSuggestion, type DiffLine } from './preview.js';
export { SelectedRecommender } from './selected-recommender.js';
