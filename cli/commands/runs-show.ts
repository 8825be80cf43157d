/** @module cli/commands/runs-show — `af runs show ID`: one run in full (stats, grants, denials, error, version, digest, spawn tree) and what was captured of it. */
import { FactoryError } from '../../core/errors.js';
import type { EffectiveLimits } from '../../core/agent-spec.js';
import type { RunRecord } from '../../core/run-record.js';
import { escapeLine, terminalSafeJson } from '../../core/terminal-text.js';
import type { StoredCapture } from '../../store/index.js';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-status.js';
import { printJson } from '../io.js';
import { displayRunId } from '../run-ids.js';
import { withStore } from '../store-access.js';

/** What `af runs show --json` prints: the run record, its spawn tree, and its capture (or null). */
export interface RunDetail extends Omit<RunRecord, 'capture'> {
  children: Array<{ id: string; template: string; outcome: 'ok' | 'error'; errorCode?: string }>;
  capture: Omit<StoredCapture, 'runId' | 'startedAt'> | null;
}

export function runsShowCommand(context: CommandContext, id: string, options: { json?: boolean }): Promise<number> {
  return withStore(context, async (store) => {
    const fullId = await store.queries.resolveId(id);
    const run = await store.queries.get(fullId);
    if (!run) throw new FactoryError('E_NOT_FOUND', `run ${fullId} was pruned a moment ago`);
    const children = (await store.queries.children(fullId)).map((child) => ({ id: child.id, template: child.template, outcome: child.outcome, ...(child.errorCode ? { errorCode: child.errorCode } : {}) }));
    const stored = await store.queries.capture(fullId);
    const capture = stored ? (({ runId: _runId, startedAt: _startedAt, ...rest }) => rest)(stored) : null;
    if (options.json) printJson(context.streams, { ...run, children, capture } satisfies RunDetail);
    else context.streams.stdout.write(formatRun(context, run, children, capture));
    return EXIT.ok;
  });
}

function formatRun(context: CommandContext, run: RunRecord, children: RunDetail['children'], capture: RunDetail['capture']): string {
  const { paint } = context;
  const lines: string[] = [];
  // Every value below may come from an agent or an API client: one line each, no terminal controls.
  const field = (label: string, value: string) => lines.push(`${paint.bold(label.padEnd(10))}${value}`);
  field('run', run.id);
  field('template', `${escapeLine(run.template)} ${escapeLine(run.version)}`);
  field('digest', run.digest);
  field('env', `${escapeLine(run.env)} · tenant ${escapeLine(run.tenant)}`);
  field('started', `${new Date(run.startedAt).toISOString().replace('T', ' ').replace('Z', '')} UTC`);
  if (run.outcome === 'ok') field('outcome', paint.green('ok'));
  else {
    const message = capture?.errorMessage !== undefined ? `: ${escapeLine(capture.errorMessage)}` : '';
    field('outcome', `${paint.red(escapeLine(run.errorCode ?? 'error'))}${message}`);
  }
  field('stats', `run ${run.runMs.toFixed(2)} ms · create ${run.createMs.toFixed(2)} ms · cpu ${run.cpuMs.toFixed(2)} ms · heap ${(run.heapUsedAtEndBytes / 1024 / 1024).toFixed(1)} MB · input ${run.inputBytes} B · output ${run.outputBytes} B`);
  field('memory', memoryText(run, paint.dim));
  if (run.limits !== undefined) field('limits', limitsText(run.limits));
  if (run.censoredBy !== undefined) field('stopped', stoppedText(run));
  const tools = Object.entries(run.tools).map(([tool, n]) => `${escapeLine(tool)}×${n}`);
  field('tools', tools.length > 0 ? tools.join(' ') : paint.dim('none'));
  field('grants', run.grantsUsed === undefined ? paint.dim('not recorded') : run.grantsUsed.length > 0 ? run.grantsUsed.map(escapeLine).join(', ') : paint.dim('none used'));
  field('denials', run.denials.length > 0 ? run.denials.map((d) => `${escapeLine(d.permission)} ${escapeLine(d.target)}`).join(', ') : paint.dim('none'));
  if (run.logsDropped > 0) field('logs', `${run.logsDropped} entries dropped past limits.logKb`);
  if (run.parentId !== undefined) field('parent', `${run.parentId} (af runs show ${displayRunId(run.parentId)})`);
  if (run.depth > 0) field('depth', String(run.depth));
  if (children.length > 0) {
    field('children', String(children.length));
    for (const child of children) lines.push(`  ${displayRunId(child.id)}  ${escapeLine(child.template)}  ${child.outcome === 'ok' ? paint.green('ok') : paint.red(escapeLine(child.errorCode ?? 'error'))}`);
  }
  if (capture === null) {
    if (run.outcome === 'error') {
      lines.push(paint.dim('nothing captured: the template does not keep failed runs; add "debug": { "captureFailures": true } to its agent.json to keep their input, output or error message, and logs'));
    }
  } else {
    lines.push('', paint.bold(`captured (each part at most ${Math.round(capture.maxBytes / 1024)} KB)`));
    lines.push(`${paint.bold('input')}${capture.inputTruncated ? paint.yellow(' (truncated: cannot be replayed)') : ''}`, indent(capture.input));
    if (capture.output !== undefined) lines.push(`${paint.bold('output')}${capture.outputTruncated ? paint.yellow(' (truncated)') : ''}`, indent(capture.output));
    lines.push(`${paint.bold('logs')}${capture.logsTruncated ? paint.yellow(' (truncated)') : ''}`, formatLogs(capture.logs));
    if (!capture.inputTruncated && capture.input !== undefined) lines.push('', paint.dim(`replay it: af runs replay ${displayRunId(run.id)}`));
  }
  return `${lines.join('\n')}\n`;
}

const MB = 1024 * 1024;

/** The run's own heap growth (docs/architecture.md, "Per-run memory"), or why there is none. */
export function memoryText(run: RunRecord, dim: (text: string) => string): string {
  if (run.heapGrowthBytes !== undefined) return `heap growth ${(run.heapGrowthBytes / MB).toFixed(2)} MB`;
  if (run.censoredBy !== undefined) return dim(`not measured: stopped by limits.${run.censoredBy}`);
  // Not sampled (one run in 8 per isolate by default), crashed, disturbed by an old-generation GC, or recorded before.
  return dim('not measured (see "Per-run memory" in docs/architecture.md)');
}

/** The limits the run ran under, and the input measure that set them when a `byInput` rule did. */
export function limitsText(limits: EffectiveLimits): string {
  const measure = limits.measure !== undefined ? ` · from ${escapeLine(limits.measure.name)} = ${limits.measure.value}` : '';
  return `cpu ${limits.cpuMs} ms · timeout ${limits.timeoutMs} ms · memory ${limits.memoryMb} MB${measure}`;
}

/** Which limit stopped the run, and what that makes of its figures. */
export function stoppedText(run: RunRecord): string {
  const at = run.limits === undefined ? '' : run.censoredBy === 'memoryMb' ? ` (${run.limits.memoryMb} MB)` : ` (${run.limits[run.censoredBy as 'cpuMs' | 'timeoutMs']} ms)`;
  const bound = run.censoredBy === 'cpuMs' ? 'cpu and run time are lower bounds' : run.censoredBy === 'timeoutMs' ? 'run time is a lower bound' : 'its memory need is above the limit';
  return `by limits.${run.censoredBy}${at}: ${bound}`;
}

/** Captured JSON, pretty when it parses (a truncated part does not), never with terminal controls. */
function indent(text: string | undefined): string {
  if (text === undefined) return '  (no JSON form)';
  let shown: string;
  try {
    shown = terminalSafeJson(JSON.stringify(JSON.parse(text), null, 2));
  } catch {
    shown = escapeLine(text);
  }
  return shown.split('\n').map((line) => `  ${line}`).join('\n');
}

function formatLogs(text: string): string {
  let entries: Array<{ level?: unknown; message?: unknown; fields?: unknown }>;
  try {
    entries = JSON.parse(text) as typeof entries;
  } catch {
    return `  ${escapeLine(text)}`;
  }
  if (entries.length === 0) return '  (none)';
  return entries.map((entry) => `  [${escapeLine(String(entry.level))}] ${escapeLine(String(entry.message))}${entry.fields !== undefined ? ` ${escapeLine(JSON.stringify(entry.fields))}` : ''}`).join('\n');
}
