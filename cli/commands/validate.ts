/** @module cli/commands/validate — `af validate [path]`: checks templates and lists every problem with its place. */
import path from 'node:path';
import { FactoryError, formatProblem } from '../../core/errors.js';
import { BundleCache, validateTemplates } from '../../templates/index.js';
import { escapeLine } from '../../core/terminal-text.js';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-status.js';
import { printJson } from '../io.js';

export interface ValidateOptions {
  json?: boolean;
}

/** @returns 0 when every template is valid, 1 when any is not. */
export async function validateCommand(context: CommandContext, target: string | undefined, options: ValidateOptions): Promise<number> {
  const config = context.config();
  const where = target === undefined ? config.root : path.resolve(context.streams.cwd, target);
  const reports = await validateTemplates(where, {
    env: config.env,
    displayRoot: config.root,
    bundleCache: new BundleCache(config.bundleCacheDir),
  });
  if (reports === undefined) {
    throw new FactoryError('E_TEMPLATE_NOT_FOUND', `no templates in ${where}: expected a template folder (with agent.json), an agents folder, or a project root with agents/`);
  }
  const invalidCount = reports.filter((report) => !report.valid).length;
  if (options.json) {
    printJson(context.streams, { valid: invalidCount === 0, env: config.env, templates: reports });
    return invalidCount === 0 ? EXIT.ok : EXIT.failed;
  }
  const { paint } = context;
  const lines: string[] = [];
  for (const report of reports) {
    if (report.valid) {
      lines.push(`${paint.green('✓')} ${escapeLine(report.name)} ${paint.dim(escapeLine(report.version ?? ''))}${report.abstract ? paint.dim(' (abstract)') : ''}`);
    } else {
      lines.push(`${paint.red('✗')} ${escapeLine(report.name)} ${paint.dim(report.code ?? '')}`);
      // Problems quote the manifest, which its signer wrote: text, never terminal controls.
      for (const problem of report.problems) lines.push(`    ${escapeLine(formatProblem(problem))}`);
    }
  }
  lines.push('', `${reports.length - invalidCount} valid, ${invalidCount} invalid`);
  context.streams.stdout.write(`${lines.join('\n')}\n`);
  return invalidCount === 0 ? EXIT.ok : EXIT.failed;
}
