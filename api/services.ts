/** @module api/services — the small interfaces the suggestion and rollback routes are written against, so the learner can plug in without the API knowing it. */
import type { Suggestion, SuggestionState } from '../core/suggestion.js';

/** Who asked, for the record: `key:<api key id>`. */
export interface ActorInfo {
  actor: string;
}

/**
 * The learner's suggestions as the API needs them. Implementations throw a `FactoryError` for
 * failures; a suggestion that is no longer `open` should fail with code `E_CONFLICT` (409).
 */
export interface SuggestionService {
  /** Suggestions of `tenant` (the caller decides whether `*` ones are asked for separately). */
  list(filter: { tenant: string; template?: string; state?: SuggestionState }): Suggestion[] | Promise<Suggestion[]>;
  get(id: string): Suggestion | undefined | Promise<Suggestion | undefined>;
  accept(id: string, options: ActorInfo & { reason?: string }): Promise<Suggestion>;
  reject(id: string, options: ActorInfo & { reason: string }): Promise<Suggestion>;
}

/** Template versions in service: rolling back to an earlier recorded version. */
export interface RolloutService {
  /**
   * Makes `to` (default: the version before the current one) the version that runs.
   * @throws FactoryError `E_TEMPLATE_NOT_FOUND` / `E_NOT_FOUND` for an unknown template or version.
   */
  rollback(name: string, options: ActorInfo & { to?: string }): Promise<{ name: string; version: string }>;
  /**
   * Retires a version: refused outside dev from now on; retiring it again changes nothing (`isNew: false`).
   * Optional: without it the retire route answers 501.
   */
  retire?(name: string, version: string, options: ActorInfo & { reason?: string }): Promise<RetiredVersion>;
}

/** A retired version, as the retire route answers. */
export interface RetiredVersion {
  name: string;
  version: string;
  retiredAt: number;
  reason: string;
  by: string;
  /** False when it was already retired. */
  isNew: boolean;
}
