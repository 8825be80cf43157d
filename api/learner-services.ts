/** @module api/learner-services — the suggestion and rollback services of the API, backed by the real learner workflow. */
import type { SuggestionState } from '../core/suggestion.js';
import { acceptSuggestion, rankSuggestions, rejectSuggestion, retireVersion, rollback } from '../learner/index.js';
import type { AgentFactory } from '../runtime/index.js';
import type { Store } from '../store/index.js';
import type { RolloutService, SuggestionService } from './services.js';

/** Suggestions and rollbacks through the learner's workflow, with the factory's registry and keys. */
export function createLearnerServices(factory: AgentFactory, store: Store): { suggestions: SuggestionService; rollouts: RolloutService } {
  const context = { store, registry: factory.registry, keyRing: factory.trust.keyRing };
  return {
    suggestions: {
      list: async (filter) =>
        rankSuggestions(
          await store.suggestions.list({ tenant: filter.tenant, ...(filter.template ? { template: filter.template } : {}), ...(filter.state ? { state: filter.state as SuggestionState } : {}) }),
          await store.suggestions.acceptanceByKind(),
        ),
      get: (id) => store.suggestions.get(id),
      accept: (id, options) => acceptSuggestion(context, id, { actor: options.actor, ...(options.reason ? { reason: options.reason } : {}) }),
      reject: async (id, options) => rejectSuggestion(context, id, { actor: options.actor, reason: options.reason }),
    },
    rollouts: {
      rollback: async (name, options) => {
        const result = await rollback(context, name, { actor: options.actor, ...(options.to ? { to: options.to } : {}) });
        return { name: result.name, version: result.version };
      },
      retire: async (name, version, options) => {
        const result = await retireVersion(context, name, version, { actor: options.actor, ...(options.reason !== undefined ? { reason: options.reason } : {}) });
        return { name: result.name, version: result.version, retiredAt: result.retiredAt, reason: result.reason, by: result.by, isNew: result.isNew };
      },
    },
  };
}
