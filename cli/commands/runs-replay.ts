/** @module cli/commands/runs-replay — `af runs replay ID`: runs a captured failed run's input again and prints the result as `af run` does. */
import { FactoryError } from '../../core/errors.js';
import { escapeLine } from '../../core/terminal-text.js';
import { createFactory } from '../../runtime/index.js';
import type { CommandContext } from '../context.js';
import { displayRunId } from '../run-ids.js';
import { printRunReport } from '../run-report.js';
import { withStore } from '../store-access.js';

export interface ReplayOptions {
  /** @default the environment the run had */
  env?: string;
  /** @default the tenant the run had */
  tenant?: string;
  /** Run the version the run had (a recorded version) instead of the current one. */
  sameVersion?: boolean;
  json?: boolean;
}

/**
 * Replays a run whose input was captured (a failed run of a template with `debug.captureFailures`): same template,
 * environment and tenant (so the same kv namespace: a replay can write to it), the current version unless
 * `sameVersion`. Exit status as `af run`.
 * @throws FactoryError `E_NOT_FOUND` when nothing was captured, `E_USAGE` when the input was cut when captured.
 */
export async function runsReplayCommand(context: CommandContext, id: string, options: ReplayOptions): Promise<number> {
  const { run, input } = await withStore(context, async (store) => {
    const fullId = await store.queries.resolveId(id);
    const found = await store.queries.get(fullId);
    if (!found) throw new FactoryError('E_NOT_FOUND', `run ${fullId} was pruned a moment ago`);
    const capture = await store.queries.capture(fullId);
    if (!capture || capture.input === undefined) {
      const why = capture
        ? 'its input had no JSON form'
        : found.outcome === 'ok'
          ? 'only failed runs are captured'
          : `"${found.template}" did not capture failed runs when it ran (add "debug": { "captureFailures": true } to its agent.json), or the capture was pruned`;
      throw new FactoryError('E_NOT_FOUND', `run ${displayRunId(fullId)} has no captured input to replay: ${why}`);
    }
    if (capture.inputTruncated) {
      throw new FactoryError('E_USAGE', `the input of run ${displayRunId(fullId)} was cut to ${Math.round(capture.maxBytes / 1024)} KB when it was captured, so it cannot be replayed; raise "debug": { "maxCaptureKb" } in agent.json to keep larger inputs`);
    }
    return { run: found, input: JSON.parse(capture.input) as unknown };
  });
  const config = context.config();
  const env = options.env ?? run.env;
  const factory = await createFactory({ root: config.root, env, home: config.home, store: config.store, hosts: 1, watch: false, processEnv: context.streams.env, logger: context.logger });
  try {
    const agent = await factory.createAgent(run.template, { env, tenant: options.tenant ?? run.tenant, ...(options.sameVersion ? { version: run.version } : {}) });
    let report;
    try {
      report = await agent.runSettled(input);
    } finally {
      await agent.dispose();
    }
    const sameCode = agent.digest === run.digest ? 'the same code' : `other code than the run (digest ${run.digest.slice(0, 12)})`;
    context.streams.stderr.write(
      `${context.errPaint.dim(`replayed run ${displayRunId(run.id)} as ${displayRunId(report.runId)}: ${escapeLine(agent.name)} ${escapeLine(agent.version)} (digest ${agent.digest.slice(0, 12)}, ${sameCode}), env ${escapeLine(env)}, tenant ${escapeLine(agent.tenant)}`)}\n`,
    );
    return printRunReport(context, run.template, report, { ...(options.json ? { json: true } : {}), extra: { replayOf: run.id } });
  } finally {
    await factory.close();
  }
}
