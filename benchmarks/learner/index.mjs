/** @module benchmarks/learner — the learner's offline evaluation: walk-forward scoring of limit recommenders and the precision of permission suggestions. */
export { evaluate, formatEvaluation, nearestRank, permissionPrecision, removalsOf, scoreWindow } from './evaluate.mjs';
