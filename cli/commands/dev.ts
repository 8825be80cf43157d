/** @module cli/commands/dev — `af dev NAME`: runs an agent, then again on every save of its template folder with the same input, showing output, logs, limits used and denials. */
import { FactoryError, toFactoryError } from '../../core/errors.js';
import { escapeLine, terminalSafeJson } from '../../core/terminal-text.js';
import { type AgentFactory, createFactory, type RunReport } from '../../runtime/index.js';
import { TemplateWatcher } from '../../templates/index.js';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-status.js';
import { printError } from '../io.js';
import { untilStopped } from '../process-lifetime.js';
import { describeOrigin } from '../run-report.js';
import { readInput, type RunCommandOptions } from './run.js';

export type DevCommandOptions = RunCommandOptions;

/** What the tests and embedders may pass instead of process signals. */
export interface DevCommandHooks {
  /** Aborting stops the loop as ctrl+c does. */
  signal?: AbortSignal;
}

/**
 * The edit-and-run loop. Reads the template from disk before every run (the registry is cleared on each save, so a run
 * never races the reload), in a dev environment only: elsewhere a signed version runs and an edit changes nothing until
 * it is signed. Ends with status 0 on ctrl+c (SIGINT) or SIGTERM.
 */
export async function devCommand(context: CommandContext, name: string, options: DevCommandOptions, hooks: DevCommandHooks = {}): Promise<number> {
  if (options.input !== undefined && options.inputFile !== undefined) throw new FactoryError('E_USAGE', 'give the input once: either --input or --input-file');
  const input = await readInput(context, options);
  const config = context.config();
  const env = options.env ?? config.env;
  const factory = await createFactory({ root: config.root, env, home: config.home, store: config.store, hosts: 1, watch: false, processEnv: context.streams.env, logger: context.logger });
  let watcher: TemplateWatcher | undefined;
  try {
    if (!factory.isDevEnvironment(env)) {
      throw new FactoryError('E_USAGE', `af dev runs the code on disk, which only a dev environment does; ${env} runs signed versions only. Use \`af dev ${name}\` without --env ${env}, or \`af run ${name} --env ${env}\``);
    }
    const { stderr } = context.streams;
    const { errPaint } = context;
    let runs = 0;
    let chain: readonly string[] = [name];
    let running: Promise<void> | undefined;
    let isAgain = false;
    const runOnce = async (why: string): Promise<void> => {
      runs++;
      if (!options.json) stderr.write(`${errPaint.bold(`── run ${runs}`)} ${errPaint.dim(`${new Date().toISOString().slice(11, 19)} · ${why}`)}\n`);
      // Whatever the last save was, read it now: one clear() costs a cold resolve, which is what an edit needs anyway.
      factory.registry.clear();
      try {
        const report = await factory.runSettled(name, input, options.tenant !== undefined ? { tenant: options.tenant } : {});
        const template = factory.registry.peek(name);
        if (template) chain = template.chain;
        printRun(context, name, report, template?.manifest.limits, options.json === true);
      } catch (error) {
        // A broken edit: say what and where, and wait for the next save.
        printError(context.streams, toFactoryError(error), errPaint);
      }
      if (!options.json) stderr.write(errPaint.dim(`watching agents/${escapeLine(name)} for changes; ctrl+c to stop\n`));
    };
    // One run at a time; saves during a run make one more run after it, with what is on disk then.
    const trigger = (why: string) => {
      if (running) {
        isAgain = true;
        return;
      }
      running = (async () => {
        let reason = why;
        for (;;) {
          isAgain = false;
          await runOnce(reason);
          if (!isAgain) break;
          reason = 'changed during the last run';
        }
      })().finally(() => (running = undefined));
    };
    watcher = new TemplateWatcher(config.agentsDir, (changed) => {
      const touched = chain.filter((link) => changed.has(link));
      if (touched.length > 0) trigger(`${touched.join(', ')} changed`);
    }, context.logger);
    trigger('started');
    const stopped = await untilStopped(hooks.signal);
    await running;
    if (!options.json) stderr.write(errPaint.dim(`stopped (${stopped}) after ${runs} ${runs === 1 ? 'run' : 'runs'}\n`));
    return EXIT.ok;
  } finally {
    watcher?.close();
    await closeQuietly(factory);
  }
}

async function closeQuietly(factory: AgentFactory): Promise<void> {
  try {
    await factory.close();
  } catch {
    // Stopping: nothing left to report to.
  }
}

/** One run: logs and denials to stderr, the output to stdout, then which code ran and the limits it used. */
function printRun(context: CommandContext, name: string, report: RunReport, limits: { cpuMs: number; timeoutMs: number; memoryMb: number } | undefined, isJson: boolean): void {
  const { stats } = report;
  const used = {
    cpuMs: stats.cpuMs,
    wallMs: stats.runMs,
    heapUsedAtEndMb: stats.heapUsedAtEndBytes / 1024 / 1024,
    ...(limits ? { limits: { cpuMs: limits.cpuMs, timeoutMs: limits.timeoutMs, memoryMb: limits.memoryMb } } : {}),
  };
  if (isJson) {
    const { ok, runId, version, digest, source, signed, keyId } = report;
    const body = report.ok ? { output: report.output } : { error: report.error };
    context.streams.stdout.write(`${terminalSafeJson(JSON.stringify({ ok, runId, version, digest, source, signed, ...(keyId ? { keyId } : {}), ...body, used, stats }))}\n`);
    return;
  }
  const { errPaint } = context;
  const { stderr, stdout } = context.streams;
  // The agent's logs, outputs and messages: one line each, never terminal controls.
  for (const entry of stats.logs) {
    stderr.write(`${errPaint.dim(`[${escapeLine(name)}] ${escapeLine(entry.level)}`)} ${escapeLine(entry.message)}${entry.fields !== undefined ? ` ${escapeLine(JSON.stringify(entry.fields))}` : ''}\n`);
  }
  if (stats.logsDropped > 0) stderr.write(errPaint.yellow(`${stats.logsDropped} log lines dropped (limits.logKb)\n`));
  for (const denial of stats.denials) stderr.write(`${errPaint.yellow('denied')} ${escapeLine(denial.permission)} ${escapeLine(denial.target)}\n`);
  if (report.ok) stdout.write(`${terminalSafeJson(JSON.stringify(report.output, null, 2) ?? 'undefined')}\n`);
  else stderr.write(`${errPaint.red('error')} ${errPaint.bold(escapeLine(report.error.code))}: ${escapeLine(report.error.message)}\n`);
  const of = (value: number, limit: number | undefined, unit: string) => `${value.toFixed(value < 10 ? 2 : 1)}${limit !== undefined ? `/${limit}` : ''} ${unit}`;
  stderr.write(
    `${report.ok ? errPaint.green('ok') : errPaint.red('failed')} ${errPaint.dim(
      `cpu ${of(used.cpuMs, limits?.cpuMs, 'ms')} · wall ${of(used.wallMs, limits?.timeoutMs, 'ms')} · heap ${of(used.heapUsedAtEndMb, limits?.memoryMb, 'MB')}`,
    )}\n${errPaint.dim(describeOrigin(name, report))}\n`,
  );
}
