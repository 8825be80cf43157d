/** @module learner/generators/right-sizing — limits from the method that reserves least at a fixed limit-hit budget on the template's own past: a flat limit, or a `limits.byInput` rule where the need follows the input. */
import { BY_INPUT_RESOURCES, type ByInputResource, type LimitsByInput, type PowerRule } from '../../core/agent-spec.js';
import type { RunRecord } from '../../core/run-record.js';
import type { LimitScore } from '../backtest.js';
import { AutopilotRecommender, VpaRecommender } from '../baselines.js';
import { ConditionalRecommender } from '../conditional-recommender.js';
import { observationsOf } from '../features.js';
import { LearnedRecommender } from '../learned-recommender.js';
import { type LimitRecommender, type LimitRule, limitFor, RESOURCES, type Resource, roundLimit } from '../recommender.js';
import { type CandidateResult, SelectedRecommender } from '../selected-recommender.js';
import { type Candidate, quantileOf, round, type TemplateHistory } from './context.js';
import { setAt } from './patch-helpers.js';

/** Fewer observations than this and no limit is proposed. */
export const MIN_RUNS = 100;
/** A change smaller than this share of the current limit is not worth a new version. */
const MIN_CHANGE = 0.15;
/** A limit-hit rate above this in the recent runs asks for a raise. */
const HIT_RATE_ALARM = 0.01;
/** The uncensored limit-hit rate every method is calibrated to before they are compared. */
export const HIT_BUDGET = 0.01;
/** A rule whose exponent is below this is a flat limit in disguise: proposed as one. */
const MIN_EXPONENT = 0.05;

export interface RightSizingOptions {
  /** Called with each trained model's owner, so the caller can save models. */
  onModel?(resource: Resource, recommender: LearnedRecommender): void;
  /**
   * Resources for which the learner's neural model (TensorFlow.js, over input shape and time of day) is also compared.
   * It costs one training per backtest window; memory is where no rule applies, so it is compared there.
   * @default ['memoryMb']
   */
  neuralFor?: readonly Resource[];
}

export function rightSizing(history: TemplateHistory, options: RightSizingOptions = {}): Candidate[] {
  const candidates: Candidate[] = [];
  const byInput = history.template.manifest.limits.byInput;
  const measure = byInput?.measure ?? 'inputBytes';
  for (const resource of RESOURCES) {
    const ruled = (BY_INPUT_RESOURCES as readonly string[]).includes(resource);
    const observations = observationsOf(history.records, resource, history.limitsOf, (record) => measureOf(record, measure));
    if (observations.length < MIN_RUNS) continue;
    const current = history.template.manifest.limits[resource];
    const currentRule = ruled ? byInput?.[resource as ByInputResource] : undefined;
    const context = { resource, currentLimit: current, now: history.now };
    const learner = (options.neuralFor ?? ['memoryMb']).includes(resource) ? new LearnedRecommender({ keepModel: true }) : undefined;
    const methods: LimitRecommender[] = [new VpaRecommender({ round: false }), new AutopilotRecommender({ round: false })];
    if (ruled) methods.push(new ConditionalRecommender());
    if (learner) methods.push(learner);
    const selected = new SelectedRecommender({ budget: HIT_BUDGET, candidates: methods });
    const rule = selected.recommendRule(observations, context);
    if (learner) options.onModel?.(resource, learner);
    const { chosen, results } = selected.last as { chosen: string; results: CandidateResult[] };

    const recent = observations.slice(-Math.max(200, Math.floor(observations.length / 4)));
    const recentHits = recent.filter((o) => o.censored && o.value >= current).length / recent.length;
    const sizes = recent.map((o) => o.size).sort((a, b) => a - b);
    const proposal = proposalOf(resource, rule, current, ruled, sizes[0] ?? 1, sizes[sizes.length - 1] ?? 1);
    const typical = proposal.rule ? limitFor(proposal.rule as LimitRule, quantileOf(sizes, 0.5)) : proposal.flat;
    const isRaise = proposal.flat > current;
    // A rule is worth proposing when it lowers the typical run's limit by a step, or replaces a different rule.
    const change = Math.abs(typical - (currentRule ? limitFor({ max: current, ...currentRule }, quantileOf(sizes, 0.5)) : current)) / current;
    if (change < MIN_CHANGE && !(recentHits > HIT_RATE_ALARM && isRaise)) continue;

    const peaks = observations.filter((o) => !o.censored).map((o) => o.value).sort((a, b) => a - b);
    const chosenResult = results.find((r) => r.name === chosen);
    const vpaResult = results.find((r) => r.name === 'vpa');
    const patch = proposal.rule
      ? [...(proposal.flat !== current ? setAt(history.raw as unknown as Record<string, unknown>, ['limits', resource], proposal.flat) : []), ...setAt(history.raw as unknown as Record<string, unknown>, ['limits', 'byInput'], withRule(byInput, measure, resource as ByInputResource, proposal.rule))]
      : setAt(history.raw as unknown as Record<string, unknown>, ['limits', resource], proposal.flat);
    const examples = proposal.rule ? ruleExamples(proposal.rule, proposal.flat, sizes) : undefined;
    candidates.push({
      kind: 'right-sizing',
      slot: `limits.${resource}`,
      template: history.template.name,
      tenant: '*',
      baseVersion: history.template.version,
      baseDigest: history.template.digest,
      patch: mergeAdds(patch),
      // The UI shows the first few keys: what was chosen and why come first.
      evidence: {
        resource,
        method: chosen,
        ...(proposal.rule ? { rule: { measure, ...proposal.rule, max: proposal.flat }, examples } : {}),
        budget: HIT_BUDGET,
        methods: Object.fromEntries(results.map((r) => [r.name, { scale: round(r.scale, 3), ...scoreEvidence(r.score), proposes: ruleEvidence(r.rule) }])),
        ...(chosen === 'conditional' && !proposal.rule ? { why: 'the conditional rule won, but its exponent is so small that it is a flat limit; proposed as one' } : {}),
        ...(results.length === 0 ? { why: 'too little history to backtest the methods: the VPA rule is used' } : {}),
        runs: observations.length,
        limitHits: observations.filter((o) => o.censored).length,
        recentHitRate: round(recentHits, 4),
        peaks: { p50: round(quantileOf(peaks, 0.5)), p95: round(quantileOf(peaks, 0.95)), p99: round(quantileOf(peaks, 0.99)), max: round(peaks[peaks.length - 1] ?? 0) },
        currentLimit: current,
        ...(currentRule ? { currentRule } : {}),
      },
      expectedImpact: {
        summary: summaryOf(resource, current, proposal, examples, measure, chosenResult?.score, vpaResult?.score),
        ...(chosenResult ? { backtestCapacitySlack: round(chosenResult.score.capacitySlack, 4), backtestHitRate: round(chosenResult.score.hitRate, 4) } : {}),
        ...(vpaResult ? { vpaCapacitySlack: round(vpaResult.score.capacitySlack, 4) } : {}),
      },
      confidence: round(Math.min(0.95, 0.5 + 0.45 * Math.min(1, observations.length / 2000)) * (chosenResult ? 1 : 0.6)),
      // Proposed again only when the typical limit moves by more than one 15% step, or the rule's shape changes.
      evidenceKey: proposal.rule
        ? `right-sizing:${resource}:by-input:${measure}:${Math.round(Math.log(proposal.rule.base) / Math.log(1.15))}:${Math.round(proposal.rule.exponent * 20)}`
        : `right-sizing:${resource}:${Math.round(Math.log(proposal.flat) / Math.log(1.15))}`,
    });
  }
  return candidates;
}

/** The input measure of a run as a rule with `measure` saw it (recorded on the run), or can tell from its shape. */
function measureOf(record: RunRecord, measure: string): number | undefined {
  if (record.limits?.measure?.name === measure) return record.limits.measure.value;
  if (measure === 'inputBytes') return record.inputBytes;
  // A top-level pointer: the record keeps the lengths of the input's top-level arrays and strings.
  const key = /^\/([^/~]+)$/.exec(measure)?.[1];
  return key !== undefined ? record.inputShape?.lengths?.[key] : undefined;
}

interface Proposal {
  /** The flat limit (for a rule, its max). */
  flat: number;
  rule?: PowerRule;
}

/** Rounds the chosen rule to what a manifest says: a flat limit, or a rule with a 3-digit base and a 2-decimal exponent. */
function proposalOf(resource: Resource, rule: LimitRule, current: number, ruled: boolean, smallest: number, largest: number): Proposal {
  // A flat limit is a rule with exponent 0; a nearly flat rule, or one that gives the smallest and the largest inputs the
  // same limit (its floor), is proposed as the flat limit it gives the largest input.
  if (!ruled || rule.exponent < MIN_EXPONENT || limitFor(rule, smallest) >= limitFor(rule, largest)) return { flat: roundLimit(resource, limitFor(rule, largest)) };
  const flat = Math.max(current, roundLimit(resource, rule.max));
  const exponent = Math.round(rule.exponent * 100) / 100;
  const base = Number(rule.base.toPrecision(3));
  const min = rule.min !== undefined && rule.min > 1 ? Math.ceil(rule.min) : undefined;
  return { flat, rule: { base, exponent, ...(min !== undefined ? { min } : {}) } };
}

function withRule(current: LimitsByInput | undefined, measure: string, resource: ByInputResource, rule: PowerRule): LimitsByInput {
  return { ...(current ?? {}), measure, [resource]: rule };
}

/** The limit the rule gives small, typical and large recent inputs. */
function ruleExamples(rule: PowerRule, max: number, sizes: readonly number[]): Array<{ quantile: string; measure: number; limit: number }> {
  return [
    ['p10', 0.1],
    ['p50', 0.5],
    ['p90', 0.9],
    ['max', 1],
  ].map(([name, q]) => {
    const size = quantileOf(sizes, q as number);
    return { quantile: name as string, measure: round(size), limit: Math.ceil(limitFor({ max, ...rule }, size)) };
  });
}

function scoreEvidence(score: LimitScore) {
  return { capacitySlack: round(score.capacitySlack, 4), perRunSlack: round(score.perRunSlack, 4), hitRate: round(score.hitRate, 4), censored: score.censored, runs: score.runs };
}

function ruleEvidence(rule: LimitRule): number | { base: number; exponent: number; min?: number; max: number } {
  if (rule.exponent === 0) return round(Math.max(rule.min ?? 0, Math.min(rule.base, rule.max)), 1);
  return { base: Number(rule.base.toPrecision(3)), exponent: round(rule.exponent, 2), ...(rule.min ? { min: round(rule.min, 1) } : {}), max: round(rule.max, 1) };
}

function summaryOf(resource: Resource, current: number, proposal: Proposal, examples: ReturnType<typeof ruleExamples> | undefined, measure: string, chosen: LimitScore | undefined, vpa: LimitScore | undefined): string {
  const backtest =
    chosen && vpa
      ? ` (backtest at ${HIT_BUDGET * 100}% hits: ${round(chosen.capacitySlack * 100, 1)}% of the reserved ${resource} unused, VPA rule ${round(vpa.capacitySlack * 100, 1)}%)`
      : '';
  if (proposal.rule && examples) {
    const [p10, p50, , largest] = examples as [(typeof examples)[0], (typeof examples)[0], (typeof examples)[0], (typeof examples)[0]];
    const at = (x: number) => (measure === 'inputBytes' ? `${Math.round(x)} bytes` : `${measure} = ${Math.round(x)}`);
    return `${resource} follows ${measure}: ${p10.limit} ms for small inputs (${at(p10.measure)}), ${p50.limit} typical (${at(p50.measure)}), ${largest.limit} for the largest (${at(largest.measure)}), instead of ${current} for all${backtest}`;
  }
  return `${resource} ${current} → ${proposal.flat}${proposal.flat > current ? ': fewer limit hits' : ''}${backtest}`;
}

/** Two operations that add `/limits` (a template without its own limits) become one, so the second does not replace the first. */
function mergeAdds(patch: ReturnType<typeof setAt>): ReturnType<typeof setAt> {
  const first = patch[0];
  const second = patch[1];
  if (patch.length === 2 && first?.op === 'add' && second?.op === 'add' && first.path === '/limits' && second.path === '/limits') {
    return [{ op: 'add', path: '/limits', value: { ...(first.value as object), ...(second.value as object) } }];
  }
  return patch;
}
