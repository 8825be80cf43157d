/** @module benchmarks/learner — the learner's offline evaluation: methods compared at equal hit-rate budgets on frozen fixtures, and the precision of permission and failure-pattern suggestions. */
export { failurePatternPrecision, permissionPrecision, removalsOf } from './evaluate.mjs';
export { BUDGETS, COSTS, CURVE_SCALES, compareMethods, formatComparison, recordObservations } from './compare.mjs';
export { evaluateFixtures, formatFixtureEvaluation } from './fixture-evaluation.mjs';
export { FIXTURE_SEEDS, FIXTURE_TEMPLATES, FIXTURE_TRUTH, fixtureDigest, fixtureJsonl, fixtureTemplate, generateFixture } from './fixtures.mjs';
