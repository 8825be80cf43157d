/** @module api/plugins/define-plugin — names a Fastify plugin, declares the decorators it needs, and (for the few that must) lets it extend its parent's scope: what `fastify-plugin` does, without the dependency. */
import type { FastifyPluginAsync, FastifyPluginOptions } from 'fastify';

export interface PluginMeta {
  /** Shown in Fastify's errors and `printPlugins()`. */
  name: string;
  /**
   * True when the plugin's hooks and decorators must reach its siblings (auth, lifecycle, rate limits, error answers);
   * false keeps Fastify's encapsulation (route modules).
   * @default false
   */
  shared?: boolean;
  /** Decorators that must exist when the plugin registers; Fastify refuses to start naming the missing one otherwise. */
  decorators?: { fastify?: string[]; request?: string[] };
}

/**
 * Marks `plugin` with Fastify's documented metadata symbols (`skip-override`, `plugin-meta`, `fastify.display-name`),
 * the ones `fastify-plugin` sets. Registration order stays the caller's: a plugin that needs another's decorators
 * is registered after it, and `decorators` turns a wrong order into a start-up error instead of an `undefined`.
 */
export function definePlugin<Options extends FastifyPluginOptions>(plugin: FastifyPluginAsync<Options>, meta: PluginMeta): FastifyPluginAsync<Options> {
  return Object.assign(plugin, {
    [Symbol.for('skip-override')]: meta.shared ?? false,
    [Symbol.for('fastify.display-name')]: meta.name,
    [Symbol.for('plugin-meta')]: { name: meta.name, fastify: '5.x', ...(meta.decorators ? { decorators: meta.decorators } : {}) },
  });
}
