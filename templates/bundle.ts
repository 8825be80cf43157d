/** @module templates/bundle — bundles a template's entry with esbuild into one script, allowing only relative imports inside the folder. */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as esbuild from 'esbuild';
import { FactoryError, formatProblem, type Problem } from '../core/errors.js';
import { AGENT_MODULE_NAMESPACE, AGENT_MODULE_SOURCE, AGENT_MODULE_SPECIFIER } from './agent-module.js';
import { isInside } from './discover.js';
import { displayPath } from './template-file.js';

/** The global the bundle assigns the module's exports to; the sandbox prelude reads it. */
export const BUNDLE_GLOBAL = '__afModule';

/**
 * The bundler's identity: the bundle's shape and options, and esbuild's version. Same sources + same
 * BUNDLE_FORMAT ⇒ the same bytes, wherever the template folder is, because nothing else is read (see
 * {@link bundleTemplate}). It changes whenever the output could, so cached bundles of an older shape are not
 * reused, and `agent.sig` records it beside the bundle hash it signs.
 */
export const BUNDLE_FORMAT = `iife-${BUNDLE_GLOBAL}-2/esbuild-${(createRequire(import.meta.url)('esbuild/package.json') as { version: string }).version}`;

/**
 * What esbuild would otherwise take from a tsconfig.json or jsconfig.json in the template folder or any folder
 * above it (class field semantics, strictness, JSX factory, which imports are kept…). Fixed here, so only the
 * signed sources decide what the bundle does.
 */
const TSCONFIG: esbuild.TsconfigRaw = {
  compilerOptions: {
    target: 'es2022',
    useDefineForClassFields: true,
    strict: false,
    alwaysStrict: false,
    verbatimModuleSyntax: false,
    preserveValueImports: false,
    importsNotUsedAsValues: 'remove',
    experimentalDecorators: false,
    jsx: 'react',
    jsxFactory: 'React.createElement',
    jsxFragmentFactory: 'React.Fragment',
  },
};

export interface Bundle {
  /** A script that assigns the entry module's exports to `globalThis.__afModule`. */
  code: string;
  /** Every file that went into the bundle, relative to the template folder → SHA-256 of its bytes. */
  sources: Record<string, string>;
  /** SHA-256 of `code`: what `agent.sig` signs beside the digest. */
  sha256: string;
}

const RESOLVE_EXTENSIONS = ['', '.ts', '.mts', '.js', '.mjs', '.json', '/index.ts', '/index.js'];

/** esbuild's own loader for each extension it knows (an onLoad result must name it); CSS has no place in an agent. */
const LOADERS: Readonly<Record<string, esbuild.Loader>> = {
  '.ts': 'ts', '.mts': 'ts', '.cts': 'ts', '.tsx': 'tsx', '.js': 'js', '.mjs': 'js', '.cjs': 'js', '.jsx': 'jsx', '.json': 'json', '.txt': 'text',
};

/**
 * Bundles `entry` of the template in `dir`.
 * A script (not an ES module) because isolated-vm binds a module to one context, while a script
 * compiles once per isolate and runs in every fresh context.
 * The output depends on the sources and {@link BUNDLE_FORMAT} only: the plugin resolves every import (the
 * entry too) and reads every file itself, so esbuild never looks at a package.json (`type`, `sideEffects`,
 * `browser`), and the compiler options are {@link TSCONFIG}, so no tsconfig.json or jsconfig.json is read.
 * The source hashes are of the very bytes esbuild compiled.
 * @throws FactoryError `E_TEMPLATE_IMPORT` naming the file, line and specifier of every forbidden import;
 *   `E_TEMPLATE_INVALID` for syntax errors. The caller checks that the entry exists.
 */
export async function bundleTemplate(dir: string, entry: string, displayRoot: string): Promise<Bundle> {
  const realDir = realpathSync(dir);
  const entryPath = path.resolve(realDir, entry);
  const entryDisplay = displayPath(path.join(dir, entry), displayRoot);
  const realEntry = realpathSync(entryPath);
  if (!isInside(realDir, realEntry)) {
    throw importError([{ file: entryDisplay, message: `entry ${entry} is a symlink to ${realEntry}, outside the template folder` }]);
  }

  const boundaryViolations = new Set<string>();
  const loaded = new Map<string, Buffer>();
  let result: esbuild.BuildResult<{ write: false }>;
  try {
    // Imported here, not at the top: with the bundle cache warm a process never bundles, and never pays to load esbuild.
    const { build } = await import('esbuild');
    result = await build({
      entryPoints: [realEntry],
      absWorkingDir: realDir,
      bundle: true,
      write: false,
      format: 'iife',
      globalName: BUNDLE_GLOBAL,
      platform: 'neutral',
      target: 'es2022',
      charset: 'utf8',
      legalComments: 'none',
      logLevel: 'silent',
      loader: { '.json': 'json' },
      tsconfigRaw: TSCONFIG,
      plugins: [templateBoundary(realDir, boundaryViolations, loaded)],
    });
  } catch (error) {
    const failure = error as esbuild.BuildFailure;
    if (!Array.isArray(failure.errors)) throw error;
    const problems: Problem[] = failure.errors.map((message) => ({
      file: message.location ? displayPath(path.resolve(realDir, message.location.file), displayRoot) : entryDisplay,
      ...(message.location ? { line: message.location.line, column: message.location.column + 1 } : {}),
      message: message.text,
    }));
    if (failure.errors.some((message) => boundaryViolations.has(message.text))) throw importError(problems);
    const syntaxProblems = problems.map((problem) => ({ ...problem, message: `cannot compile: ${problem.message}` }));
    throw new FactoryError('E_TEMPLATE_INVALID', syntaxProblems.map(formatProblem).join('\n'), { problems: syntaxProblems });
  }

  const sources: Record<string, string> = {};
  for (const [absolute, bytes] of [...loaded].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    sources[path.relative(realDir, absolute).split(path.sep).join('/')] = sha256(bytes);
  }
  const output = result.outputFiles[0];
  if (!output) throw new FactoryError('E_INTERNAL', `esbuild produced no output for ${entryDisplay}`);
  return { code: output.text, sources, sha256: sha256(output.text) };
}

/**
 * Resolves relative imports itself, so that nothing outside the folder can be reached, even through symlinks
 * (the one bare specifier allowed, `agent-factory/agent`, is a fixed virtual module: templates/agent-module.ts);
 * and loads every file itself, recording its bytes, so esbuild reads nothing but what is hashed.
 */
function templateBoundary(realDir: string, violations: Set<string>, loaded: Map<string, Buffer>): esbuild.Plugin {
  const reject = (text: string) => {
    violations.add(text);
    return { errors: [{ text }] };
  };
  return {
    name: 'agent-factory-template-boundary',
    setup(build) {
      // The entry too: resolved by esbuild, it would carry the module type of the nearest package.json.
      build.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind === 'entry-point') return { path: args.path };
        const specifier = args.path;
        const verb = args.kind === 'require-call' || args.kind === 'require-resolve' ? 'require' : 'import';
        if (specifier.startsWith('node:')) {
          return reject(`${verb} of Node builtin "${specifier}" is not allowed: agents reach the host only through ctx tools`);
        }
        // The published agent type: a fixed virtual module, so the bundle never depends on what node_modules holds.
        if (specifier === AGENT_MODULE_SPECIFIER) return { path: specifier, namespace: AGENT_MODULE_NAMESPACE };
        if (specifier === 'agent-factory' || specifier.startsWith('agent-factory/')) {
          return reject(`${verb} of "${specifier}" is not allowed: the only module of agent-factory an agent may import is "${AGENT_MODULE_SPECIFIER}"`);
        }
        if (!specifier.startsWith('./') && !specifier.startsWith('../')) {
          const kind = path.isAbsolute(specifier) ? 'absolute path' : /^[a-z]+:/i.test(specifier) ? 'URL' : 'bare package';
          return reject(`${verb} of ${kind} "${specifier}" is not allowed: templates may import only relative files inside their folder`);
        }
        const candidate = path.resolve(args.resolveDir, specifier);
        if (!isInside(realDir, candidate)) {
          return reject(`${verb} of "${specifier}" leaves the template folder: templates may import only relative files inside their folder`);
        }
        for (const extension of RESOLVE_EXTENSIONS) {
          const attempt = candidate + extension;
          if (!existsSync(attempt) || !statSync(attempt).isFile()) continue;
          const real = realpathSync(attempt);
          if (!isInside(realDir, real)) {
            return reject(`${verb} of "${specifier}" resolves through a symlink to ${real}, outside the template folder`);
          }
          return { path: real };
        }
        return { errors: [{ text: `cannot find "${specifier}" (tried ${RESOLVE_EXTENSIONS.map((e) => e || '(as written)').join(', ')})` }] };
      });
      // Registered first, so the file loader below never sees the virtual module's path.
      build.onLoad({ filter: /.*/, namespace: AGENT_MODULE_NAMESPACE }, () => ({ contents: AGENT_MODULE_SOURCE, loader: 'js' }));
      // Every path here came from the resolver above (or is the checked entry); the bytes hashed are the bytes compiled.
      build.onLoad({ filter: /.*/ }, (args) => {
        const extension = path.extname(args.path).toLowerCase();
        const loader = Object.hasOwn(LOADERS, extension) ? LOADERS[extension] : undefined;
        if (!loader) {
          return reject(`import of ${path.basename(args.path)} is not allowed: templates may import only ${Object.keys(LOADERS).join(', ')} files`);
        }
        const contents = readFileSync(args.path);
        loaded.set(args.path, contents);
        return { contents, loader, resolveDir: path.dirname(args.path) };
      });
    },
  };
}

function importError(problems: Problem[]): FactoryError {
  return new FactoryError('E_TEMPLATE_IMPORT', problems.map(formatProblem).join('\n'), { problems });
}

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
