/** @module cli/commands/init — `af init [dir]`: a project with an example agent, its state folder and dev keys, the example signed so it runs in every environment. */
import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FactoryError } from '../../core/errors.js';
import { escapeLine } from '../../core/terminal-text.js';
import { type CommandContext, createCommandContext } from '../context.js';
import { EXIT } from '../exit-status.js';
import { trustOf, withStore } from '../store-access.js';
import { signCommand } from './sign.js';

const EXAMPLE = 'hello';

const EXAMPLE_MANIFEST = `{
  "name": "${EXAMPLE}",
  "version": "1.0.0",
  "description": "Greets someone and counts the greetings of each tenant",
  "entry": "main.ts",
  "permissions": { "kv": true },
  "limits": { "memoryMb": 32, "timeoutMs": 1000, "cpuMs": 500 },
  "input": {
    "type": "object",
    "required": ["name"],
    "additionalProperties": false,
    "properties": { "name": { "type": "string", "minLength": 1, "maxLength": 200 } }
  },
  "output": { "type": "object" }
}
`;

const EXAMPLE_SOURCE = `// An agent is an ES module whose default export is called once per run with the input and ctx.
// ctx carries only what agent.json grants: here kv (the template's own store, per tenant) and log.
interface Context {
  log: { info(message: string, fields?: Record<string, unknown>): void };
  kv: { get(key: string): Promise<unknown>; set(key: string, value: unknown): Promise<void> };
}

export default async function run(input: { name: string }, ctx: Context) {
  ctx.log.info('greeting', { name: input.name });
  const n = (((await ctx.kv.get('count')) as number | undefined) ?? 0) + 1;
  await ctx.kv.set('count', n);
  return { greeting: \`Hello, \${input.name}\`, n };
}
`;

/**
 * Creates what is missing and never overwrites: an existing agent, key or .gitignore line is kept, so running it
 * again on a project loses nothing.
 */
export async function initCommand(context: CommandContext, dir: string | undefined): Promise<number> {
  const root = dir === undefined ? context.config().root : path.resolve(context.streams.cwd, dir);
  if (existsSync(root) && !statSync(root).isDirectory()) {
    throw new FactoryError('E_USAGE', `${escapeLine(root)} is a file, not a folder; give af init a folder to make the project in (it is created if missing)`);
  }
  const project = createCommandContext({ ...context.streams, cwd: root }, () => ({ root }));
  const config = project.config();
  const said: string[] = [];

  const folder = path.join(config.agentsDir, EXAMPLE);
  const manifest = path.join(folder, 'agent.json');
  const isNewExample = !existsSync(manifest);
  if (isNewExample) {
    mkdirSync(folder, { recursive: true });
    writeFileSync(manifest, EXAMPLE_MANIFEST, { flag: 'wx' });
    writeFileSync(path.join(folder, 'main.ts'), EXAMPLE_SOURCE, { flag: 'wx' });
    said.push(`created ${path.relative(root, folder)}/ (agent.json, main.ts)`);
  } else {
    said.push(`kept ${path.relative(root, manifest)}`);
  }

  // The state folder holds private keys: keep it out of version control from the start.
  const gitignore = path.join(root, '.gitignore');
  const ignored = existsSync(gitignore) && readFileSync(gitignore, 'utf8').split(/\r?\n/).some((line) => /^\/?\.af\/?$/.test(line.trim()));
  if (!ignored) {
    appendFileSync(gitignore, `${existsSync(gitignore) && !readFileSync(gitignore, 'utf8').endsWith('\n') ? '\n' : ''}.af/\n`);
    said.push('added .af/ to .gitignore');
  }

  const created = await withStore(project, (store) => {
    const { keyRing, store: trust } = trustOf(project, store);
    if (trust.keys().length > 0) return false;
    const { root: rootKey, signer } = keyRing.init();
    for (const record of [rootKey, signer]) store.audit.append({ type: 'key.created', actor: 'cli', subject: record.id, data: { name: record.name, role: record.role } });
    return true;
  });
  said.push(created ? `created dev keys in ${path.relative(root, config.keysDir)}/ (private keys, mode 0600; never commit them)` : 'kept the existing keys');

  for (const line of said) context.streams.stderr.write(`${escapeLine(line)}\n`);
  // Signed, so the example runs outside dev too; an existing example is signed only if it was just created.
  const status = isNewExample ? await signCommand(project, EXAMPLE, {}) : EXIT.ok;
  if (status !== EXIT.ok) return status;
  const where = dir === undefined ? '' : `cd ${escapeLine(dir)} && `;
  context.streams.stderr.write(`next: ${where}af run ${EXAMPLE} --input '{"name":"Ada"}'   (then edit agents/${EXAMPLE}/main.ts, and \`af sign ${EXAMPLE}\` before running it outside dev)\n`);
  return EXIT.ok;
}
