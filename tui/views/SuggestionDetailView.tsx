/** @module tui/views/SuggestionDetailView — one suggestion: its patch as a diff of agent.json, its evidence, accept (a) or reject (x), and canary progress live. */
import { Box } from 'ink';
import { Text } from '../components/Text.js';
import { type ReactElement, useState } from 'react';
import type { DiffLine } from '../../learner/index.js';
import { TextField } from '../components/TextField.js';
import { canaryProgress, evidenceLines } from '../data.js';
import { bar, count, formatPercent, formatTime } from '../format.js';
import { useBindings } from '../hooks/use-bindings.js';
import { useCapture } from '../hooks/use-capture.js';
import { useRefresh } from '../hooks/use-refresh.js';
import { describeError } from '../services.js';
import { useUi } from '../ui-context.js';

type Prompt = { kind: 'none' } | { kind: 'confirm' } | { kind: 'reason'; text: string } | { kind: 'busy'; text: string };

/** Only changed lines and this many around them: agent.json can be longer than the screen. */
const CONTEXT_LINES = 2;

function diffHunks(diff: readonly DiffLine[]): Array<DiffLine | 'gap'> {
  const keep = new Set<number>();
  diff.forEach((line, i) => {
    if (line.kind === 'same') return;
    for (let j = Math.max(0, i - CONTEXT_LINES); j <= Math.min(diff.length - 1, i + CONTEXT_LINES); j++) keep.add(j);
  });
  const out: Array<DiffLine | 'gap'> = [];
  let last = -1;
  for (const i of [...keep].sort((a, b) => a - b)) {
    if (last !== -1 && i > last + 1) out.push('gap');
    out.push(diff[i] as DiffLine);
    last = i;
  }
  return out;
}

export function SuggestionDetailView({ id }: { id: string }) {
  const ui = useUi();
  const { services } = ui;
  const { theme } = services;
  const [prompt, setPrompt] = useState<Prompt>({ kind: 'none' });
  // Canary progress moves while agents run; the rest changes only when someone decides.
  const loaded = useRefresh(
    async () => {
      const suggestion = await services.store.suggestions.get(id);
      if (!suggestion) throw new Error(`no suggestion ${id}`);
      let preview: { diff: DiffLine[] } | { error: string };
      if (suggestion.state === 'open') {
        const { previewSuggestion } = await services.learner();
        try {
          preview = await previewSuggestion(services.factory.registry, suggestion);
        } catch (error) {
          preview = { error: describeError(error) };
        }
      } else preview = { error: '' };
      return { suggestion, preview, canary: await canaryProgress(services, suggestion) };
    },
    [id],
    services.refreshMs * 2,
  );
  useCapture(prompt.kind === 'reason');
  const suggestion = loaded.data?.suggestion;
  const isOpen = suggestion?.state === 'open';

  const accept = () => {
    setPrompt({ kind: 'busy', text: 'accepting: patching agent.json, signing, starting the canary…' });
    services
      .learner()
      .then(({ acceptSuggestion }) => acceptSuggestion({ store: services.store, registry: services.factory.registry, keyRing: services.keyRing(), now: services.now }, id, { actor: services.actor }))
      .then(async (accepted) => ({ accepted, rollout: await services.store.rollouts.get(accepted.template) }))
      .then(
        ({ accepted, rollout }) => {
          ui.setStatus({
            kind: 'ok',
            text: `accepted ${id}: ${accepted.template} ${accepted.baseVersion} → ${accepted.candidateVersion}, signed${accepted.state === 'canary' && rollout ? `; canary gets ${formatPercent(rollout.weight)} of new agents` : ''}`,
          });
        },
        (error: unknown) => ui.setStatus({ kind: 'error', text: describeError(error) }),
      )
      .finally(() => {
        setPrompt({ kind: 'none' });
        loaded.reload();
      });
  };
  const reject = (reason: string) => {
    if (!reason.trim()) {
      ui.setStatus({ kind: 'error', text: 'give a reason: it is kept with the decision and stops the same suggestion coming back' });
      return;
    }
    setPrompt({ kind: 'none' });
    services
      .learner()
      .then(async ({ rejectSuggestion }) => {
        await rejectSuggestion({ store: services.store, now: services.now }, id, { actor: services.actor, reason: reason.trim() });
        ui.setStatus({ kind: 'ok', text: `rejected ${id}: "${reason.trim()}"; it returns only if its evidence changes materially` });
      })
      .catch((error: unknown) => ui.setStatus({ kind: 'error', text: describeError(error) }))
      .finally(() => loaded.reload());
  };

  useBindings(
    prompt.kind === 'confirm'
      ? [
          { keys: ['y'], label: 'yes, accept', run: accept },
          { keys: ['n', 'esc'], label: 'cancel', run: () => setPrompt({ kind: 'none' }) },
        ]
      : prompt.kind === 'reason'
        ? [
            { keys: ['enter'], label: 'reject with this reason' },
            { keys: ['esc'], label: 'cancel' },
          ]
        : isOpen && prompt.kind === 'none'
          ? [
              { keys: ['a'], label: 'accept', run: () => setPrompt({ kind: 'confirm' }) },
              { keys: ['x'], label: 'reject', run: () => setPrompt({ kind: 'reason', text: '' }) },
              { keys: ['t'], label: 'template', run: () => suggestion && ui.push({ view: 'template', name: suggestion.template }) },
            ]
          : [{ keys: ['t'], label: 'template', run: () => suggestion && ui.push({ view: 'template', name: suggestion.template }) }],
  );

  if (!loaded.data || !suggestion) return <Text color={theme.color('red')}>{loaded.error ?? 'loading…'}</Text>;
  const { preview, canary } = loaded.data;
  const canaryLines: ReactElement[] = [];
  if (canary) {
    const { rollout, byVersion } = canary;
    canaryLines.push(
      <Text key="canary" bold>
        canary <Text color={theme.color(rollout.state === 'rolled_back' ? 'red' : rollout.state === 'promoted' ? 'green' : 'yellow')}>{rollout.state}</Text>{' '}
        <Text dimColor>
          {rollout.stableVersion} → {rollout.candidateVersion}, {formatPercent(rollout.weight)} of new agents since {formatTime(rollout.startedAt)}
        </Text>
      </Text>,
    );
    const most = Math.max(1, ...byVersion.map((entry) => entry.runs));
    for (const entry of byVersion) {
      canaryLines.push(
        <Text key={`v${entry.version}`}>
          {'  '}
          {entry.version.padEnd(10)} {entry.version === rollout.candidateVersion ? 'candidate' : 'stable   '} <Text color={theme.color('cyan')}>{bar(entry.runs, most, 20)}</Text> {count(entry.runs, 'run')}, {count(entry.errors, 'error')}
          {entry.runs > 0 ? ` (${formatPercent(entry.errors / entry.runs)})` : ''}
        </Text>,
      );
    }
    if (rollout.decision) canaryLines.push(<Text key="decision" dimColor wrap="truncate">{`  decision: ${JSON.stringify(rollout.decision)}`}</Text>);
  }
  const evidence = evidenceLines(suggestion.evidence);
  // Evidence keeps a few rows however long the diff is: a patch means little without its reasons.
  const evidenceRows = Math.min(evidence.length, 6);
  const patchRoom = Math.max(2, ui.bodyRows - 4 - canaryLines.length - evidenceRows - 1);
  const patchLines: ReactElement[] = [];
  if ('diff' in preview) {
    patchLines.push(<Text key="diff-title" bold>agent.json if accepted</Text>);
    for (const [i, line] of diffHunks(preview.diff).entries()) {
      if (line === 'gap') patchLines.push(<Text key={`d${i}`} dimColor>  ⋯</Text>);
      else if (line.kind === 'added') patchLines.push(<Text key={`d${i}`} color={theme.color('green')} wrap="truncate">{`+ ${line.text}`}</Text>);
      else if (line.kind === 'removed') patchLines.push(<Text key={`d${i}`} color={theme.color('red')} wrap="truncate">{`- ${line.text}`}</Text>);
      else patchLines.push(<Text key={`d${i}`} dimColor wrap="truncate">{`  ${line.text}`}</Text>);
    }
  } else if (preview.error) patchLines.push(<Text key="diff-error" color={theme.color('red')} wrap="truncate">cannot preview: {preview.error}</Text>);
  else patchLines.push(<Text key="patch" wrap="truncate"><Text bold>patch </Text>{suggestion.patch.map((op) => `${op.op} ${op.path}${op.value !== undefined ? ` = ${JSON.stringify(op.value)}` : ''}`).join('; ')}</Text>);
  const lines = [
    ...canaryLines,
    ...patchLines.slice(0, patchRoom),
    <Text key="evidence-title" bold>evidence</Text>,
    ...evidence.slice(0, evidenceRows).map(([key, value]) => (
      <Text key={`e${key}`} wrap="truncate">
        {'  '}
        <Text dimColor>{key.padEnd(20)}</Text> {value}
      </Text>
    )),
  ];
  return (
    <Box flexDirection="column">
      <Text wrap="truncate">
        <Text bold>{suggestion.id}</Text> {suggestion.kind} of <Text bold>{suggestion.template}</Text> {suggestion.baseVersion}
        {suggestion.candidateVersion ? ` → ${suggestion.candidateVersion}` : ''} · confidence {formatPercent(suggestion.confidence)} · <Text bold>{suggestion.state}</Text>
        {suggestion.decidedBy ? <Text dimColor> by {suggestion.decidedBy}{suggestion.reason ? `: "${suggestion.reason}"` : ''}</Text> : null}
      </Text>
      <Text wrap="truncate">
        <Text dimColor>impact </Text>
        {suggestion.expectedImpact.summary}
      </Text>
      {prompt.kind === 'confirm' ? (
        <Text color={theme.color('yellow')}>Accept {id}? This patches agent.json, bumps the version, signs it and starts a canary. [y/N]</Text>
      ) : prompt.kind === 'reason' ? (
        <TextField label="reason › " value={prompt.text} isActive placeholder="why not (kept with the decision)" onChange={(text) => setPrompt({ kind: 'reason', text })} onSubmit={reject} onCancel={() => setPrompt({ kind: 'none' })} />
      ) : prompt.kind === 'busy' ? (
        <Text color={theme.color('cyan')}>{prompt.text}</Text>
      ) : (
        <Text> </Text>
      )}
      {lines}
    </Box>
  );
}
