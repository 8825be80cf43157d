/** @module cli/commands/init — `af init [dir]`: a project (an example agent, policy.json, tsconfig.json, the state folder kept out of git) and, with --keys, dev keys that sign the example. */
import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FactoryError } from '../../core/errors.js';
import { escapeLine } from '../../core/terminal-text.js';
import { DEFAULT_POLICY } from '../../templates/index.js';
import { type CommandContext, createCommandContext } from '../context.js';
import { EXIT } from '../exit-status.js';
import { trustOf, withStore } from '../store-access.js';
import { signCommand } from './sign.js';

/** The example's name: `af init && af run example` is the first thing a new user types. */
export const EXAMPLE = 'example';

const EXAMPLE_MANIFEST = `{
  "name": "${EXAMPLE}",
  "version": "0.1.0",
  "description": "Greets someone and counts the greetings of each tenant",
  "entry": "main.ts",
  "permissions": { "kv": true },
  "limits": { "memoryMb": 32, "timeoutMs": 1000, "cpuMs": 500 },
  "input": {
    "type": "object",
    "additionalProperties": false,
    "properties": { "name": { "type": "string", "minLength": 1, "maxLength": 200 } }
  },
  "output": {
    "type": "object",
    "required": ["greeting", "n"],
    "properties": { "greeting": { "type": "string" }, "n": { "type": "integer" } }
  }
}
`;

const EXAMPLE_SOURCE = `// An agent is an ES module whose default export is called once per run with the input and ctx.
// ctx carries only what agent.json grants: here kv (the template's own store, one per tenant); log is always there.
import { defineAgent } from 'agent-factory/agent';

interface Input {
  name?: string;
}

export default defineAgent(async (input: Input, ctx) => {
  const name = input.name ?? 'world';
  ctx.log.info('greeting', { name });
  const n = ((await ctx.kv.get<number>('count')) ?? 0) + 1;
  await ctx.kv.set('count', n);
  return { greeting: \`Hello, \${name}\`, n };
});
`;

/**
 * For type-checking and editors only: af bundles agents with its own fixed settings and never reads this file.
 * Types come from `npm install --save-dev agent-factory` (package export `agent-factory/agent`).
 */
const TSCONFIG = `{
  // Type-checking only (npx tsc): af bundles agents itself and never reads this file.
  // Types for \`agent-factory/agent\` come from \`npm install --save-dev agent-factory\`.
  "compilerOptions": {
    "target": "ES2022",
    "module": "ESNext",
    "moduleResolution": "Bundler",
    // DOM only for the web globals an agent has (URL, TextEncoder, crypto.randomUUID, setTimeout);
    // there is no global fetch, document or window: reach the network with ctx.fetch.
    "lib": ["ES2023", "DOM"],
    "types": [],
    "strict": true,
    "noEmit": true,
    "allowImportingTsExtensions": true
  },
  "include": ["agents/**/*.ts"]
}
`;

/** The built-in policy written out, so the rules that apply outside dev are in the project, under review, to edit. */
const POLICY = `${JSON.stringify({ rules: DEFAULT_POLICY.rules }, null, 2)}\n`;

export interface InitCommandOptions {
  /** Also create a signing key pair (a local root and a signer, in .af/keys) and sign the example. */
  keys?: boolean;
}

/**
 * Creates what is missing and never overwrites: an existing agent, policy, tsconfig, key, signature or .gitignore line
 * is kept, so running it again on a project loses nothing. Keys only with `--keys`: dev runs unsigned agents, and a
 * project that signs may prefer its own keys (`af keys init`, or AF_KEYS_DIR) to keys made here.
 */
export async function initCommand(context: CommandContext, dir: string | undefined, options: InitCommandOptions = {}): Promise<number> {
  const root = dir === undefined ? context.config().root : path.resolve(context.streams.cwd, dir);
  if (existsSync(root) && !statSync(root).isDirectory()) {
    throw new FactoryError('E_USAGE', `${escapeLine(root)} is a file, not a folder; give af init a folder to make the project in (it is created if missing)`);
  }
  const project = createCommandContext({ ...context.streams, cwd: root }, () => ({ root }));
  const config = project.config();
  const said: string[] = [];
  const relative = (file: string) => path.relative(root, file).split(path.sep).join('/');

  const folder = path.join(config.agentsDir, EXAMPLE);
  const manifest = path.join(folder, 'agent.json');
  const isNewExample = !existsSync(manifest);
  if (isNewExample) {
    mkdirSync(folder, { recursive: true });
    writeFileSync(manifest, EXAMPLE_MANIFEST, { flag: 'wx' });
    const source = path.join(folder, 'main.ts');
    if (!existsSync(source)) writeFileSync(source, EXAMPLE_SOURCE, { flag: 'wx' });
    said.push(`created ${relative(folder)}/ (agent.json, main.ts)`);
  } else {
    said.push(`kept ${relative(manifest)}`);
  }

  for (const [file, text, what] of [
    [config.policyPath, POLICY, 'the rules every environment but dev applies'],
    [path.join(root, 'tsconfig.json'), TSCONFIG, 'for type-checking agents: npx tsc'],
  ] as const) {
    if (existsSync(file)) {
      said.push(`kept ${relative(file)}`);
      continue;
    }
    writeFileSync(file, text, { flag: 'wx' });
    said.push(`created ${relative(file)} (${what})`);
  }

  // The state folder holds private keys: keep it out of version control from the start.
  const gitignore = path.join(root, '.gitignore');
  const ignored = existsSync(gitignore) && readFileSync(gitignore, 'utf8').split(/\r?\n/).some((line) => /^\/?\.af\/?$/.test(line.trim()));
  if (!ignored) {
    appendFileSync(gitignore, `${existsSync(gitignore) && !readFileSync(gitignore, 'utf8').endsWith('\n') ? '\n' : ''}.af/\n`);
    said.push('added .af/ to .gitignore');
  }

  // The store is opened either way, so the state folder exists from the start.
  const keys = await withStore(project, async (store) => {
    const { keyRing, store: trust } = trustOf(project, store);
    if (trust.keys().length > 0) return 'kept';
    if (options.keys !== true) return 'none';
    const { root: rootKey, signer } = await keyRing.init();
    for (const record of [rootKey, signer]) await store.audit.append({ type: 'key.created', actor: 'cli', subject: record.id, data: { name: record.name, role: record.role } });
    return 'created';
  });
  if (keys === 'created') said.push(`created dev keys in ${relative(config.keysDir)}/ (private keys, mode 0600; never commit them)`);
  else if (keys === 'kept') said.push('kept the existing keys');
  else said.push('no signing keys: dev runs unsigned agents (`af init --keys` or `af keys init` makes a key pair)');

  for (const line of said) context.streams.stderr.write(`${escapeLine(line)}\n`);
  // Signed, so the example runs outside dev too: when just made, or on request; an existing signature is never replaced.
  if (keys !== 'none' && (isNewExample || options.keys === true) && !existsSync(path.join(folder, 'agent.sig'))) {
    const status = await signCommand(project, EXAMPLE, {});
    if (status !== EXIT.ok) return status;
  }
  const where = dir === undefined ? '' : `cd ${escapeLine(dir)} && `;
  context.streams.stderr.write(`next: ${where}af run ${EXAMPLE}   (then edit agents/${EXAMPLE}/main.ts, or start another agent with \`af new NAME\`)\n`);
  return EXIT.ok;
}
