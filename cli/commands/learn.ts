/** @module cli/commands/learn — `af learn`, `af suggestions list|show|accept|reject`, `af rollout` and `af rollback`. */
import { FactoryError } from '../../core/errors.js';
import { plural } from '../../core/plural.js';
import type { Suggestion, SuggestionState } from '../../core/suggestion.js';
import { acceptSuggestion, learn, previewSuggestion, rankSuggestions, rejectSuggestion, rollback, startRollout } from '../../learner/index.js';
import type { Store } from '../../store/index.js';
import { TemplateRegistry } from '../../templates/index.js';
import { escapeLine, terminalSafeJson } from '../../core/terminal-text.js';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-status.js';
import { formatTable, printJson } from '../io.js';
import { tooFewRunsNote } from '../learn-readiness.js';
import { progressBar } from '../progress.js';
import { trustOf, withStore } from '../store-access.js';

function registryOf(context: CommandContext): TemplateRegistry {
  const config = context.config();
  return new TemplateRegistry({ agentsDir: config.agentsDir, displayRoot: config.root, bundleCacheDir: config.bundleCacheDir, env: config.env });
}

function actorOf(context: CommandContext): string {
  return context.streams.env.AF_ACTOR ?? context.streams.env.USER ?? 'cli';
}

export function learnCommand(context: CommandContext, options: { template?: string[]; json?: boolean }): Promise<number> {
  return withStore(context, async (store) => {
    const registry = registryOf(context);
    const bar = progressBar(context.streams.stderr, 'learning', context.streams.env);
    try {
      const result = await learn({ store, registry, ...(options.template ? { templates: options.template } : {}), onProgress: (done, total, template) => bar.update(done, total, template) });
      bar.done();
      if (options.json) printJson(context.streams, result);
      else {
        context.streams.stdout.write(
          `learned from ${plural(result.runs, 'run')} of ${plural(result.templates, 'template')} in ${result.seconds.toFixed(1)} s (TensorFlow.js backend: ${result.backend})\n` +
            `${plural(result.created.length, 'new suggestion')}, ${result.unchanged} unchanged, ${result.suppressedRejected} held back after rejection, ${result.replaced} replaced, ${result.withdrawn.length} withdrawn\n`,
        );
        for (const stale of result.withdrawn) context.streams.stderr.write(`withdrew ${stale.id} (${escapeLine(stale.template)}): ${escapeLine(stale.reason)}\n`);
        for (const skipped of result.skipped) context.streams.stderr.write(`skipped ${escapeLine(skipped.template)}: ${escapeLine(skipped.reason)}\n`);
        const tooFew = await tooFewRunsNote(store, options.template);
        if (tooFew) context.streams.stderr.write(`${escapeLine(tooFew)}\n`);
        if (result.created.length > 0) context.streams.stdout.write(`\n${suggestionTable(context, result.created)}\n\nreview with \`af suggestions show ID\`\n`);
      }
      return EXIT.ok;
    } finally {
      registry.close();
    }
  });
}

function suggestionTable(context: CommandContext, suggestions: readonly Suggestion[]): string {
  const { paint } = context;
  const rows = suggestions.map((s) => [
    s.id,
    s.kind,
    escapeLine(s.template),
    s.state === 'open' ? paint.bold(s.state) : s.state,
    `${Math.round(s.confidence * 100)}%`,
    escapeLine(s.expectedImpact.summary),
  ]);
  return formatTable(['ID', 'KIND', 'TEMPLATE', 'STATE', 'CONF', 'EXPECTED IMPACT'], rows);
}

export function suggestionsListCommand(context: CommandContext, options: { template?: string; state?: string; all?: boolean; json?: boolean }): Promise<number> {
  return withStore(context, async (store) => {
    const state = (options.all ? undefined : (options.state ?? 'open')) as SuggestionState | undefined;
    const list = rankSuggestions(await store.suggestions.list({ ...(options.template ? { template: options.template } : {}), ...(state ? { state } : {}) }), await store.suggestions.acceptanceByKind());
    if (options.json) printJson(context.streams, list);
    else if (list.length === 0) context.streams.stderr.write(`no ${state ?? ''} suggestions; run \`af learn\`\n`);
    else context.streams.stdout.write(`${suggestionTable(context, list)}\n`);
    return EXIT.ok;
  });
}

async function getSuggestion(store: Store, id: string): Promise<Suggestion> {
  const suggestion = await store.suggestions.get(id);
  if (!suggestion) throw new FactoryError('E_SUGGESTION_NOT_FOUND', `no suggestion ${id}; run \`af suggestions list\``);
  return suggestion;
}

export function suggestionsShowCommand(context: CommandContext, id: string, options: { json?: boolean }): Promise<number> {
  return withStore(context, async (store) => {
    const suggestion = await getSuggestion(store, id);
    const registry = registryOf(context);
    try {
      const preview = suggestion.state === 'open' ? await previewSuggestion(registry, suggestion).catch(() => undefined) : undefined;
      if (options.json) {
        printJson(context.streams, { ...suggestion, ...(preview ? { preview: { before: preview.before, after: preview.after } } : {}) });
        return EXIT.ok;
      }
      const { paint } = context;
      const lines = [
        `${paint.bold(suggestion.id)} ${suggestion.kind} for ${paint.bold(escapeLine(suggestion.template))} ${escapeLine(suggestion.baseVersion)} — ${suggestion.state}, confidence ${Math.round(suggestion.confidence * 100)}%`,
        // Evidence and manifests quote runs and signers: text, never terminal controls.
        escapeLine(suggestion.expectedImpact.summary),
        '',
      ];
      if (preview) {
        lines.push(paint.dim('agent.json:'));
        for (const line of preview.diff) {
          if (line.kind === 'added') lines.push(paint.green(`+ ${escapeLine(line.text)}`));
          else if (line.kind === 'removed') lines.push(paint.red(`- ${escapeLine(line.text)}`));
          else lines.push(paint.dim(`  ${escapeLine(line.text)}`));
        }
      } else {
        lines.push(paint.dim('patch:'), terminalSafeJson(JSON.stringify(suggestion.patch, null, 2)));
      }
      lines.push('', paint.dim('evidence:'), terminalSafeJson(JSON.stringify(suggestion.evidence, null, 2)));
      if (suggestion.decidedBy) lines.push('', escapeLine(`decided by ${suggestion.decidedBy}${suggestion.reason ? `: ${suggestion.reason}` : ''}`));
      context.streams.stdout.write(`${lines.join('\n')}\n`);
      return EXIT.ok;
    } finally {
      registry.close();
    }
  });
}

export function suggestionsAcceptCommand(context: CommandContext, id: string, options: { reason?: string; weight?: string; json?: boolean }): Promise<number> {
  return withStore(context, async (store) => {
    const registry = registryOf(context);
    try {
      const weight = options.weight === undefined ? undefined : Number(options.weight);
      const accepted = await acceptSuggestion({ store, registry, keyRing: trustOf(context, store).keyRing }, id, {
        actor: actorOf(context),
        ...(options.reason ? { reason: options.reason } : {}),
        ...(weight !== undefined ? { canaryWeight: weight } : {}),
      });
      if (options.json) printJson(context.streams, accepted);
      else {
        const rollout = await store.rollouts.get(accepted.template);
        context.streams.stdout.write(
          `accepted ${id}: ${accepted.template} ${accepted.baseVersion} → ${accepted.candidateVersion}, signed` +
            (accepted.state === 'canary' && rollout ? `; canary started with ${Math.round(rollout.weight * 100)}% of new agents (promoted or rolled back automatically)\n` : '\n'),
        );
      }
      return EXIT.ok;
    } finally {
      registry.close();
    }
  });
}

export function suggestionsRejectCommand(context: CommandContext, id: string, options: { reason?: string; json?: boolean }): Promise<number> {
  return withStore(context, async (store) => {
    const rejected = await rejectSuggestion({ store }, id, { actor: actorOf(context), reason: options.reason ?? '' });
    if (options.json) printJson(context.streams, rejected);
    else context.streams.stdout.write(`rejected ${id}; it returns only if its evidence changes materially\n`);
    return EXIT.ok;
  });
}

export function rolloutCommand(context: CommandContext, name: string, options: { candidate: string; weight: string; json?: boolean }): Promise<number> {
  return withStore(context, async (store) => {
    const registry = registryOf(context);
    try {
      const weight = Number(options.weight);
      // --weight takes a share (0.1) or a percentage (10).
      const share = weight > 1 ? weight / 100 : weight;
      const result = await startRollout({ store, registry }, name, { candidate: options.candidate, weight: share, actor: actorOf(context) });
      if (options.json) printJson(context.streams, { name, ...result });
      else context.streams.stdout.write(`canary of ${name}: ${result.candidate} gets ${Math.round(result.weight * 100)}% of new agents, ${result.stable} the rest\n`);
      return EXIT.ok;
    } finally {
      registry.close();
    }
  });
}

export function rollbackCommand(context: CommandContext, name: string, options: { to?: string; json?: boolean }): Promise<number> {
  return withStore(context, async (store) => {
    const registry = registryOf(context);
    try {
      const result = await rollback({ store, registry }, name, { ...(options.to ? { to: options.to } : {}), actor: actorOf(context) });
      if (options.json) printJson(context.streams, result);
      else {
        const removed = result.removed.length > 0 ? `; removed ${result.removed.map(escapeLine).join(', ')}, which only the newer version had` : '';
        context.streams.stdout.write(
          `rolled ${escapeLine(name)} back from ${escapeLine(result.from)} to ${escapeLine(result.version)} (digest ${result.digest.slice(0, 12)}): the whole version, ${result.written.map(escapeLine).join(', ')}${removed}\n`,
        );
      }
      return EXIT.ok;
    } finally {
      registry.close();
    }
  });
}
