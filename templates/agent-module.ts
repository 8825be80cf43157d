/** @module templates/agent-module — the fixed module the bundler gives an agent that imports `agent-factory/agent`. */

/** The one package specifier an agent may import. */
export const AGENT_MODULE_SPECIFIER = 'agent-factory/agent';

/** The esbuild namespace the virtual module lives in: never `file`, so nothing is read from disk for it. */
export const AGENT_MODULE_NAMESPACE = 'agent-factory';

/**
 * What `agent-factory/agent` is inside a bundle: `defineAgent` and nothing else (its types vanish when esbuild strips
 * them, so `import type { Context }` never reaches the bundler). It is text here, not the installed package, so a
 * template bundles to the same bytes on every machine and the bundler reads no node_modules.
 * Its bytes are part of every bundle that imports it, and of no source hash: changing them changes bundles without
 * changing digests, so change them only together with the shape number in BUNDLE_FORMAT (templates/bundle.ts).
 * It behaves as agent/index.ts does at run time (test/templates/agent-module.test.ts checks both).
 */
export const AGENT_MODULE_SOURCE = 'export function defineAgent(run) {\n  return run;\n}\n';
