/** @module learner — the improvement loop: features, TensorFlow.js models, suggestion generators, the maintainer workflow and the baselines it is measured against. */
export { initTf } from './tf.js';
export { ADMISSION_FEATURE_NAMES, admissionFeaturesOf, FEATURE_COUNT, FEATURE_NAMES, featuresOf, hitLimit, observationsOf, peakOf, stoppedBy } from './features.js';
export { flatRule, isRuleRecommender, LIMIT_FLOOR, limitFor, RESOURCES, roundLimit, type LimitRecommender, type LimitRule, type Observation, type RecommendContext, type Resource, type RuleRecommender } from './recommender.js';
export { AutopilotRecommender, decayWeights, StaticRecommender, VpaRecommender, weightedQuantile } from './baselines.js';
export { createLearnedRecommender, LearnedRecommender, type LearnedRecommenderOptions } from './learned-recommender.js';
export { censoredPinballLoss, QuantileModel, type QuantileModelOptions, type QuantileModelState, type TrainingSample } from './quantile-model.js';
export { backtest, poolScores, scoreLimits, scoreWindows, walkForward, type BacktestScore, type BacktestWindow, type LimitScore } from './backtest.js';
export { calibrate, calibrateWindows, scaleForBudget, scaleRule, type Calibration } from './calibration.js';
export { fitPowerLaw, type PowerLawFit, type SizedSample } from './power-law-fit.js';
export { ConditionalRecommender, createConditionalRecommender, type ConditionalRecommenderOptions } from './conditional-recommender.js';
export { applyJsonPatch, parsePointer } from './json-patch.js';
export { learn, rankSuggestions, type LearnOptions, type LearnResult } from './learn.js';
export { acceptSuggestion, bumpPatch, rejectSuggestion, retireVersion, rollback, startRollout, type AcceptOptions, type RetireResult, type WorkflowContext } from './workflow.js';
export { reliableFailureRegion } from './generators/failure-pattern.js';
export { MIN_RUNS as LEAST_PRIVILEGE_MIN_RUNS } from './generators/least-privilege.js';
export { MIN_RUNS as RIGHT_SIZING_MIN_RUNS } from './generators/right-sizing.js';
export { diffLines, previewSuggestion, type DiffLine } from './preview.js';
export { createSelectedRecommender, defaultCandidates, SelectedRecommender, type CandidateResult, type SelectionOptions } from './selected-recommender.js';
