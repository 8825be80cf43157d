/** @module cli/commands/templates — `af templates list` and `af templates show NAME`: what is available and what exactly runs. */
import type { Limits, PowerRule } from '../../core/agent-spec.js';
import { ruledResources } from '../../core/effective-limits.js';
import { BundleCache, TemplateRegistry, validateTemplates } from '../../templates/index.js';
import { escapeLine, terminalSafeJson } from '../../core/terminal-text.js';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-status.js';
import { formatTable, printJson } from '../io.js';

export async function listTemplatesCommand(context: CommandContext, options: { json?: boolean }): Promise<number> {
  const config = context.config();
  const reports =
    (await validateTemplates(config.agentsDir, { env: config.env, displayRoot: config.root, bundleCache: new BundleCache(config.bundleCacheDir) })) ?? [];
  if (options.json) {
    printJson(
      context.streams,
      reports.map((report) => ({
        name: report.name,
        version: report.version ?? null,
        status: report.valid ? (report.abstract ? 'abstract' : 'valid') : 'invalid',
        extends: report.extends ?? null,
        description: report.description ?? null,
        digest: report.digest ?? null,
        ...(report.valid ? {} : { error: { code: report.code, message: report.message } }),
      })),
    );
    return EXIT.ok;
  }
  if (reports.length === 0) {
    context.streams.stderr.write(`no templates in ${config.agentsDir}; run \`af init\` to create an example\n`);
    return EXIT.ok;
  }
  const { paint } = context;
  const rows = reports.map((report) => [
    escapeLine(report.name),
    escapeLine(report.version ?? '-'),
    report.valid ? (report.abstract ? paint.dim('abstract') : paint.green('valid')) : paint.red('invalid'),
    escapeLine(report.extends ?? '-'),
    // The description is the signer's and a problem may quote the manifest: text, never terminal controls.
    escapeLine(report.valid ? (report.description ?? '') : (report.problems[0]?.message ?? report.message ?? '')),
  ]);
  context.streams.stdout.write(`${formatTable(['NAME', 'VERSION', 'STATUS', 'EXTENDS', 'DESCRIPTION'], rows)}\n`);
  return EXIT.ok;
}

export async function showTemplateCommand(context: CommandContext, name: string, options: { json?: boolean; env?: string }): Promise<number> {
  const config = context.config();
  const env = options.env ?? config.env;
  const registry = new TemplateRegistry({ agentsDir: config.agentsDir, displayRoot: config.root, bundleCacheDir: config.bundleCacheDir, env });
  const template = await registry.inspect(name, { env });
  const view = {
    name: template.name,
    version: template.version,
    env,
    abstract: template.abstract,
    digest: template.abstract ? null : template.digest,
    chain: template.chain,
    file: template.file,
    sources: template.sources,
    manifest: template.manifest,
  };
  if (options.json) {
    printJson(context.streams, view);
    return EXIT.ok;
  }
  const { paint } = context;
  const lines = [
    `${paint.bold(template.name)} ${template.version} ${paint.dim(`(env ${env})`)}${template.abstract ? paint.dim(' abstract') : ''}`,
    `${paint.dim('file    ')} ${template.file}`,
    `${paint.dim('chain   ')} ${template.chain.join(' → ')}`,
  ];
  const rule = template.manifest.limits.byInput;
  // The rule as the runtime applies it (bounded by the flat limit), in one line: the JSON below has the raw form.
  if (rule) lines.push(`${paint.dim('byInput ')} ${escapeLine(describeByInput(template.manifest.limits))}`);
  if (!template.abstract) {
    lines.push(`${paint.dim('digest  ')} ${template.digest}`);
    lines.push(`${paint.dim('sources ')} ${Object.keys(template.sources).sort().join(', ')}`);
  }
  lines.push('', terminalSafeJson(JSON.stringify(template.manifest, null, 2)));
  context.streams.stdout.write(`${lines.join('\n')}\n`);
  return EXIT.ok;
}

/** `limits.byInput` as the runtime applies it, e.g. `cpuMs = min(2000, ceil(5 × x^1)) for x = /rows (at least 1)`. */
export function describeByInput(limits: Limits): string {
  const rule = limits.byInput;
  if (!rule) return '';
  const parts = ruledResources(limits).map((resource) => {
    const power = rule[resource] as PowerRule;
    const min = power.min !== undefined && power.min > 1 ? `max(${power.min}, ` : '';
    return `${resource} = min(${Math.min(power.max ?? limits[resource], limits[resource])}, ${min}ceil(${power.base} × x^${power.exponent})${min ? ')' : ''})`;
  });
  return `${parts.join(', ')} for x = ${rule.measure} (at least 1)`;
}
