// Bundles the compiled CLI (dist/cli/main.js and every module it imports, the lazily imported commands as chunks) into
// dist/cli-bundle/: Node then reads and links a few files instead of about two hundred at each start of `af`.
// Packages stay external (loaded from node_modules as before), but for @opentelemetry/api, which every start loads
// (the telemetry module) and costs more to resolve and read as its ~20 CommonJS files than to run: its ES module build
// is bundled (its state lives in a global keyed by its version, so it stays one API with the SDK's own copy). Every `import.meta.url` is rewritten to the URL of the
// module it was written in, so files found beside a module (schemas, generated validators, host-main.js,
// package.json) are found where they always were.
//
// Beside it, the hand-off client (cli/handoff-client and the few small modules it imports) as one CommonJS file,
// dist/cli-bundle/handoff.cjs: bin/af.js (CommonJS too) requires it first for `af run`, so a run handed to a running
// `af serve` never starts Node's ES module loader nor reads the rest of the CLI (measured: ~10 ms of an ES entry
// alone, a third of what a hand-off costs above a bare `node` start). Only when the run stays here is the bundle
// loaded, at its `run-here` entry (the hand-off already tried).
import { readFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import path from 'node:path';

/** What every bundle here shares: one Node 20 file (or chunk set) with its imports inlined. */
const NODE_BUNDLE = { bundle: true, platform: 'node', target: 'node20', logLevel: 'warning' };

const BUNDLED_PACKAGES = new Set(['@opentelemetry/api']);

export async function buildCliBundle(root) {
  const { build } = await import('esbuild');
  const dist = path.join(root, 'dist');
  const outdir = path.join(dist, 'cli-bundle');
  rmSync(outdir, { recursive: true, force: true });
  const rewriteMetaUrl = ownImportMetaUrl(outdir);
  await build({
    ...NODE_BUNDLE,
    entryPoints: { main: path.join(dist, 'cli/main.js'), 'run-here': path.join(dist, 'cli/run-here.js') },
    outdir,
    splitting: true,
    format: 'esm',
    mainFields: ['module', 'main'],
    plugins: [rewriteMetaUrl, {
      name: 'tf-api-external',
      // The learner's TensorFlow.js is a bundle of its own (scripts/build.mjs): imported from where it is.
      setup: (b) => b.onResolve({ filter: /tf-api\.js$/ }, (args) => ({ path: './' + path.relative(outdir, path.resolve(args.resolveDir, args.path)).split(path.sep).join('/'), external: true })),
    }],
    chunkNames: 'chunk-[hash]',
  });
  await build({
    ...NODE_BUNDLE,
    entryPoints: [path.join(dist, 'cli/handoff-client.js')],
    outfile: path.join(outdir, 'handoff.cjs'),
    format: 'cjs',
    // Node's own modules only: a package here would be read at every `af run`.
    plugins: [{ name: 'node-builtins-only', setup: (b) => b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('node:') ? { path: args.path, external: true } : { errors: [{ text: `the hand-off client may import Node's modules only, not ${args.path}` }] })) }],
  });
  // The host's early fork (cli/host-prestart, with the lockdown probe cache) the same way, dist/cli-bundle/prestart.cjs:
  // bin/af.js forks a one-shot run's host with it as soon as the hand-off is ruled out, before the ES module loader and
  // the CLI load (~30 ms of the host's start, the critical path of a run here). The forked host is kept on the process
  // (sandbox/prestarted-host), where the bundled CLI's copy of that module adopts it.
  await build({
    ...NODE_BUNDLE,
    entryPoints: [path.join(dist, 'cli/host-prestart.js')],
    outfile: path.join(outdir, 'prestart.cjs'),
    format: 'cjs',
    // Outside the bundled modules, whose own `require` (isolate-library's createRequire) would shadow Node's.
    banner: { js: "const __afOwnUrl = (relative) => require('node:url').pathToFileURL(require('node:path').join(__dirname, relative)).href;" },
    plugins: [{
      name: 'commonjs-own-url',
      setup(b) {
        // `import.meta` is empty in CommonJS: each module's own URL, from this file's folder.
        b.onLoad({ filter: /[\\/]dist[\\/].*\.js$/ }, async (args) => {
          const text = await readFile(args.path, 'utf8');
          const relative = path.relative(outdir, args.path).split(path.sep).join('/');
          return { contents: text.replaceAll('import.meta.url', `__afOwnUrl(${JSON.stringify(relative)})`), loader: 'js' };
        });
        b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('node:') ? { path: args.path, external: true } : { errors: [{ text: `the host's early fork may import Node's modules only, not ${args.path}` }] }));
      },
    }],
  });
}

/**
 * The sandbox host (dist/sandbox/host-main.js and what it imports) as one file, dist/sandbox/bundle/host-main.js, which
 * sandbox/prestarted-host forks when it is there: a host reads and links one module instead of about twenty, under the
 * permission model's checks, at every start (measured: ~20 ms less CPU before its first line of work, of a start that
 * is a one-shot run's critical path). Still inside dist/, which a locked-down host may read; isolated-vm stays a
 * package of its own, loaded from node_modules.
 */
export async function buildHostBundle(root) {
  const { build } = await import('esbuild');
  const outdir = path.join(root, 'dist/sandbox/bundle');
  rmSync(outdir, { recursive: true, force: true });
  await build({
    ...NODE_BUNDLE,
    entryPoints: { 'host-main': path.join(root, 'dist/sandbox/host-main.js') },
    outdir,
    format: 'esm',
    plugins: [ownImportMetaUrl(outdir)],
  });
}

/**
 * Every `import.meta.url` of a module of dist/ becomes that module's own URL, and packages stay external (but for
 * BUNDLED_PACKAGES): files found beside a module are found where they always were.
 */
function ownImportMetaUrl(outdir) {
  return {
    name: 'own-import-meta-url',
    setup(b) {
      b.onLoad({ filter: /[\\/]dist[\\/].*\.js$/ }, async (args) => {
        const text = await readFile(args.path, 'utf8');
        if (!text.includes('import.meta.url')) return { contents: text, loader: 'js' };
        const relative = path.relative(outdir, args.path).split(path.sep).join('/');
        return { contents: text.replaceAll('import.meta.url', `new URL(${JSON.stringify(relative)}, import.meta.url).href`), loader: 'js' };
      });
      b.onResolve({ filter: /^[^./]/ }, (args) => (BUNDLED_PACKAGES.has(args.path) ? undefined : { path: args.path, external: true }));
    },
  };
}
