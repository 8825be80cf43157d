/** @module cli/commands/new-agent — `af new NAME [--from TEMPLATE]`: a new agent folder, scaffolded or copied from a template; never over an existing one. */
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { applyEdits, modify, parse } from 'jsonc-parser';
import { FactoryError } from '../../core/errors.js';
import { escapeLine, terminalSafeJson } from '../../core/terminal-text.js';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-status.js';

export interface NewCommandOptions {
  /** A template of the project (its name) or a template folder (a path) to copy, or an abstract one to extend. */
  from?: string;
  json?: boolean;
}

/** The manifest schema's pattern for `name` (templates/manifest.schema.json), checked here to say so before writing anything. */
const NAME_PATTERN = /^[a-z][a-z0-9-]{0,63}$/;

/** Files never copied: a signature is of the template it was made for, so a copy starts unsigned. */
const NOT_COPIED = new Set(['agent.sig']);

const manifestFor = (name: string, extendsName?: string) =>
  extendsName === undefined
    ? `{
  "name": "${name}",
  "version": "0.1.0",
  "description": "${name}: what it does, in one line",
  "entry": "main.ts",
  "permissions": {},
  "limits": { "memoryMb": 32, "timeoutMs": 1000, "cpuMs": 500 },
  "input": {
    "type": "object",
    "properties": { "name": { "type": "string", "maxLength": 200 } }
  },
  "output": { "type": "object" }
}
`
    : `{
  "name": "${name}",
  "version": "0.1.0",
  "extends": "${extendsName}",
  "description": "${name}: what it does, in one line",
  "entry": "main.ts"
}
`;

const sourceFor = (name: string) => `// ${name}: its default export is called once per run with the input (checked against agent.json "input") and ctx.
// ctx carries only what agent.json grants (permissions: read, write, net, env, kv, spawn); ctx.log and ctx.config always.
import { defineAgent } from 'agent-factory/agent';

interface Input {
  name?: string;
}

export default defineAgent(async (input: Input, ctx) => {
  ctx.log.info('running', { input });
  return { message: \`Hello from ${name}, \${input.name ?? 'world'}\` };
});
`;

/**
 * Creates `agents/NAME/`: agent.json and main.ts using `agent-factory/agent`, or a copy of `--from` with only the name
 * changed in agent.json (the rest of its text, formatting and key order as they were); an abstract `--from` is extended
 * instead, since a copy of it could not run either. The folder is created with a plain mkdir, so an existing one,
 * even one made a moment ago by someone else, fails the command instead of being written into.
 * @throws FactoryError `E_USAGE` for an invalid name or a project without agents/, `E_CONFLICT` when the folder exists,
 *   `E_TEMPLATE_NOT_FOUND` when `--from` names no template.
 */
export async function newCommand(context: CommandContext, name: string, options: NewCommandOptions): Promise<number> {
  if (!NAME_PATTERN.test(name)) {
    throw new FactoryError(
      'E_USAGE',
      `"${escapeLine(name)}" is not a valid agent name: use lowercase letters, digits and '-', starting with a letter, at most 64 characters (e.g. "${suggestName(name)}")`,
    );
  }
  const config = context.config();
  if (!existsSync(config.agentsDir) || !statSync(config.agentsDir).isDirectory()) {
    throw new FactoryError('E_USAGE', `${escapeLine(config.agentsDir)} does not exist: run \`af init\` to start a project here, or pass --root with the project's folder`);
  }
  const target = path.join(config.agentsDir, name);
  const shown = path.relative(config.root, target).split(path.sep).join('/') || target;
  if (existsSync(target) || isLink(target)) {
    throw new FactoryError('E_CONFLICT', `${escapeLine(shown)} already exists; af new never overwrites: pick another name, or edit that agent where it is`);
  }

  const plan = options.from === undefined ? scaffold(name) : fromTemplate(context, name, options.from);
  try {
    mkdirSync(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new FactoryError('E_CONFLICT', `${escapeLine(shown)} already exists; af new never overwrites`);
    throw error;
  }
  try {
    for (const [relative, bytes] of plan.files) {
      const file = path.join(target, ...relative.split('/'));
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, bytes, { flag: 'wx' });
    }
  } catch (error) {
    // Only what this command made: the folder did not exist before the mkdir above.
    rmSync(target, { recursive: true, force: true });
    throw error;
  }

  const files = plan.files.map(([relative]) => relative);
  if (options.json) {
    context.streams.stdout.write(`${terminalSafeJson(JSON.stringify({ name, dir: shown, files, ...(plan.from ? { from: plan.from, how: plan.how } : {}), skipped: plan.skipped }))}\n`);
  } else {
    const source = plan.from === undefined ? '' : plan.how === 'extends' ? `, extending ${plan.from}` : `, a copy of ${plan.from}`;
    context.streams.stderr.write(`created ${escapeLine(shown)}/ (${files.map(escapeLine).join(', ')}${escapeLine(source)})\n`);
    for (const skipped of plan.skipped) context.streams.stderr.write(`not copied: ${escapeLine(skipped)}\n`);
    context.streams.stderr.write(`next: af run ${name}   (or \`af dev ${name}\` to run it again on every save; \`af sign ${name}\` before running it outside dev)\n`);
  }
  return EXIT.ok;
}

interface Plan {
  files: Array<[string, string | Buffer]>;
  from?: string;
  how?: 'copy' | 'extends';
  /** Files of the source left out, with why. */
  skipped: string[];
}

function scaffold(name: string): Plan {
  return { files: [['agent.json', manifestFor(name)], ['main.ts', sourceFor(name)]], skipped: [] };
}

/** A template name of the project (the usual case) or, when it looks like a path, a template folder anywhere. */
function fromTemplate(context: CommandContext, name: string, from: string): Plan {
  const config = context.config();
  const isPath = from.includes('/') || from.includes(path.sep) || from.startsWith('.');
  const dir = isPath ? path.resolve(context.streams.cwd, from) : path.join(config.agentsDir, from);
  const manifestFile = path.join(dir, 'agent.json');
  if (!isPath && !NAME_PATTERN.test(from)) throw new FactoryError('E_USAGE', `"${escapeLine(from)}" is not a template name; give --from a template of the project (af templates lists them) or a template folder`);
  if (!existsSync(manifestFile) || !statSync(manifestFile).isFile()) {
    throw new FactoryError(
      'E_TEMPLATE_NOT_FOUND',
      isPath ? `${escapeLine(from)} is not a template folder (it has no agent.json)` : `no template "${from}" in ${escapeLine(path.relative(config.root, config.agentsDir) || config.agentsDir)}/; \`af templates\` lists them`,
    );
  }
  const text = readFileSync(manifestFile, 'utf8');
  const manifest = parse(text) as { abstract?: unknown; name?: unknown } | undefined;
  if (manifest === undefined || manifest === null || typeof manifest !== 'object') {
    throw new FactoryError('E_TEMPLATE_INVALID', `${escapeLine(path.relative(context.streams.cwd, manifestFile) || manifestFile)} is not a JSON object; fix it before copying it (af validate)`);
  }
  const sourceName = typeof manifest.name === 'string' ? manifest.name : from;
  // An abstract template never runs: what an author wants "from" it is an agent that inherits it.
  if (manifest.abstract === true && !isPath) {
    return { files: [['agent.json', manifestFor(name, from)], ['main.ts', sourceFor(name)]], from, how: 'extends', skipped: [] };
  }
  const renamed = applyEdits(text, modify(text, ['name'], name, { formattingOptions: { insertSpaces: true, tabSize: 2, eol: text.includes('\r\n') ? '\r\n' : '\n' } }));
  const plan: Plan = { files: [['agent.json', renamed]], from: isPath ? from : sourceName, how: 'copy', skipped: [] };
  collect(dir, '', plan);
  return plan;
}

/** Regular files and folders only: a symlink in the source could point anywhere, and a copy must stay inside the new folder. */
function collect(dir: string, prefix: string, plan: Plan): void {
  for (const entry of readdirSync(dir).sort()) {
    const relative = prefix === '' ? entry : `${prefix}/${entry}`;
    if (relative === 'agent.json') continue;
    if (NOT_COPIED.has(relative)) {
      plan.skipped.push(`${relative} (a signature of the original; sign the copy with af sign)`);
      continue;
    }
    const full = path.join(dir, entry);
    const stat = lstatSync(full);
    if (stat.isDirectory()) collect(full, relative, plan);
    else if (stat.isFile()) plan.files.push([relative, readFileSync(full)]);
    else plan.skipped.push(`${relative} (${stat.isSymbolicLink() ? 'a symlink' : 'not a regular file'})`);
  }
}

function isLink(file: string): boolean {
  try {
    return lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

/** A valid name close to what was typed, for the error message. */
function suggestName(name: string): string {
  const cleaned = name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^[^a-z]+/, '').replace(/-+$/, '').slice(0, 64);
  return cleaned === '' ? 'my-agent' : cleaned;
}
