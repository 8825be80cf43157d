// The registry: cache hits, TTL on an injected clock, versions, the on-disk bundle cache, and hot reload on real files.
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../core/clock.js';
import { createLogger } from '../../core/logger.js';
import { BundleCache, bundleTemplate, TemplateRegistry } from '../../templates/index.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

/** Polls `check` every 5 ms until it holds or `withinMs` passes; returns the time it took. */
async function within(withinMs: number, check: () => Promise<boolean>): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await check()) return performance.now() - start;
    if (performance.now() - start > withinMs) throw new Error(`condition not met within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('TemplateRegistry', () => {
  let project: TempProject;
  let registry: TemplateRegistry | undefined;
  afterEach(() => {
    registry?.close();
    registry = undefined;
    project.remove();
  });

  it('serves a cache hit as the very same resolved template', async () => {
    project = createProject(simpleTemplate('hit'));
    registry = new TemplateRegistry({ agentsDir: project.agentsDir });
    const first = await registry.resolve('hit');
    expect(await registry.resolve('hit')).toBe(first);
    expect(registry.peek('hit')).toBe(first);
    expect(registry.peek('hit', { env: 'prod' })).toBeUndefined();
  });

  it('reads the disk again once the TTL has passed on the injected clock', async () => {
    project = createProject(simpleTemplate('ttl', { description: 'one' }));
    const clock = createManualClock(0);
    registry = new TemplateRegistry({ agentsDir: project.agentsDir, ttlMs: 1000, clock });
    expect((await registry.resolve('ttl')).manifest.description).toBe('one');
    project.write('agents/ttl/agent.json', { name: 'ttl', version: '1.0.0', entry: 'main.ts', description: 'two' });
    clock.advance(999);
    expect((await registry.resolve('ttl')).manifest.description).toBe('one');
    clock.advance(2);
    expect((await registry.resolve('ttl')).manifest.description).toBe('two');
  });

  it('resolves per environment and refuses a version it does not have', async () => {
    project = createProject(simpleTemplate('envs', { environments: { prod: { limits: { timeoutMs: 10 } } } }));
    registry = new TemplateRegistry({ agentsDir: project.agentsDir, env: 'prod' });
    expect((await registry.resolve('envs')).manifest.limits.timeoutMs).toBe(10);
    expect((await registry.resolve('envs', { env: 'dev' })).manifest.limits.timeoutMs).toBe(5000);
    expect((await registry.resolve('envs', { version: '1.0.0' })).version).toBe('1.0.0');
    await expect(registry.resolve('envs', { version: '2.0.0' })).rejects.toMatchObject({
      code: 'E_TEMPLATE_NOT_FOUND',
      message: 'version 2.0.0 of template "envs" is not available; version 1.0.0 is in agents/envs/agent.json',
    });
  });

  it('shares one cold resolve between concurrent callers', async () => {
    project = createProject(simpleTemplate('shared'));
    registry = new TemplateRegistry({ agentsDir: project.agentsDir });
    const [a, b, c] = await Promise.all([registry.resolve('shared'), registry.resolve('shared'), registry.resolve('shared')]);
    expect(a).toBe(b);
    expect(b).toBe(c);
  });

  it('keeps bundles on disk, so another registry reuses them, and never serves a stale one', async () => {
    project = createProject(simpleTemplate('cached', {}, "import { n } from './n.ts';\nexport default () => n;\n"));
    project.write('agents/cached/n.ts', 'export const n = 1;\n');
    const cacheDir = path.join(project.root, '.af/cache/bundles');
    registry = new TemplateRegistry({ agentsDir: project.agentsDir, bundleCacheDir: cacheDir });
    const first = await registry.resolve('cached');
    expect(readdirSync(cacheDir)).toHaveLength(1);

    // A second cache over the same folder (as a second process would have) finds the bundle.
    const dir = path.join(project.agentsDir, 'cached');
    const reused = new BundleCache(cacheDir).get(first.dir, 'main.ts');
    expect(reused?.code).toBe(first.code);
    expect(reused?.sources).toEqual(first.sources);
    expect(reused).toEqual(await bundleTemplate(dir, 'main.ts', project.root));

    project.write('agents/cached/n.ts', 'export const n = 2;\n');
    expect(new BundleCache(cacheDir).get(first.dir, 'main.ts')).toBeUndefined();
    const second = new TemplateRegistry({ agentsDir: project.agentsDir, bundleCacheDir: cacheDir });
    expect((await second.resolve('cached')).code).toContain('n = 2');
    second.close();
  });

  it('survives an unwritable bundle cache by bundling in memory', async () => {
    project = createProject(simpleTemplate('nocache'));
    project.write('blocker', 'a file where the cache folder would be');
    registry = new TemplateRegistry({ agentsDir: project.agentsDir, bundleCacheDir: path.join(project.root, 'blocker/bundles') });
    expect((await registry.resolve('nocache')).code).toContain('__afModule');
  });

  describe('hot reload', () => {
    it('serves an edit within 200 ms', async () => {
      project = createProject(simpleTemplate('hot', { description: 'before' }));
      registry = new TemplateRegistry({ agentsDir: project.agentsDir, watch: true });
      expect((await registry.resolve('hot')).manifest.description).toBe('before');
      project.write('agents/hot/agent.json', { name: 'hot', version: '1.0.1', entry: 'main.ts', description: 'after' });
      const tookMs = await within(200, async () => (await registry!.resolve('hot')).manifest.description === 'after');
      expect(tookMs).toBeLessThan(200);
      expect(registry.peek('hot')?.version).toBe('1.0.1');
    });

    it('serves a source edit in a subfolder', async () => {
      project = createProject(simpleTemplate('deep', {}, "import { v } from './lib/v.ts';\nexport default () => v;\n"));
      project.write('agents/deep/lib/v.ts', "export const v = 'old';\n");
      registry = new TemplateRegistry({ agentsDir: project.agentsDir, watch: true });
      const before = await registry.resolve('deep');
      project.write('agents/deep/lib/v.ts', "export const v = 'new';\n");
      await within(200, async () => (await registry!.resolve('deep')).code.includes('"new"'));
      expect((await registry.resolve('deep')).digest).not.toBe(before.digest);
    });

    it('keeps the last good version serving when an edit breaks the template, and reports the error', async () => {
      project = createProject(simpleTemplate('fragile', { description: 'good' }));
      const lines: string[] = [];
      const logger = createLogger({ level: 'info', stream: { write: (line: string) => lines.push(line) }, color: false });
      registry = new TemplateRegistry({ agentsDir: project.agentsDir, watch: true, logger });
      const good = await registry.resolve('fragile');
      project.write('agents/fragile/agent.json', '{ "name": "fragile", "version": "1.0.0", "entry": "main.ts", }');
      await within(200, async () => registry!.failures().length === 1);
      expect(await registry.resolve('fragile')).toBe(good);
      const [failure] = registry.failures();
      expect(failure?.name).toBe('fragile');
      expect(failure?.servingVersion).toBe('1.0.0');
      expect(failure?.error.code).toBe('E_TEMPLATE_INVALID');
      expect(failure?.error.message).toBe('agents/fragile/agent.json:1:60: invalid JSON: trailing comma before "}"; remove the comma');
      expect(lines.join('')).toContain('template "fragile" failed to reload; still serving version 1.0.0');

      // Fixing the file clears the failure and serves the fix.
      project.write('agents/fragile/agent.json', { name: 'fragile', version: '1.0.2', entry: 'main.ts', description: 'fixed' });
      await within(200, async () => (await registry!.resolve('fragile')).version === '1.0.2');
      expect(registry.failures()).toEqual([]);
    });

    it('reloads a child when its parent changes', async () => {
      project = createProject({
        'agents/parent/agent.json': { name: 'parent', version: '1.0.0', abstract: true, limits: { timeoutMs: 100 } },
        ...simpleTemplate('kid', { extends: 'parent' }),
      });
      registry = new TemplateRegistry({ agentsDir: project.agentsDir, watch: true });
      expect((await registry.resolve('kid')).manifest.limits.timeoutMs).toBe(100);
      project.write('agents/parent/agent.json', { name: 'parent', version: '1.0.0', abstract: true, limits: { timeoutMs: 250 } });
      await within(200, async () => (await registry!.resolve('kid')).manifest.limits.timeoutMs === 250);
    });

    it('forgets a template whose folder is removed and finds a new one', async () => {
      project = createProject(simpleTemplate('doomed'));
      registry = new TemplateRegistry({ agentsDir: project.agentsDir, watch: true });
      await registry.resolve('doomed');
      rmSync(path.join(project.agentsDir, 'doomed'), { recursive: true });
      await within(200, async () => registry!.peek('doomed') === undefined);
      await expect(registry.resolve('doomed')).rejects.toMatchObject({ code: 'E_TEMPLATE_NOT_FOUND' });
      project.write('agents/newcomer/agent.json', { name: 'newcomer', version: '1.0.0', entry: 'main.ts' });
      project.write('agents/newcomer/main.ts', 'export default () => 1;\n');
      expect(registry.names()).toEqual(['newcomer']);
      expect((await registry.resolve('newcomer')).name).toBe('newcomer');
    });
  });

  it('rejects bad options with a TypeError naming the option', () => {
    project = createProject();
    expect(() => new TemplateRegistry({ agentsDir: '' })).toThrow('TemplateRegistry: option "agentsDir" must be a non-empty path');
    expect(() => new TemplateRegistry({ agentsDir: project.agentsDir, maxEntries: 0 })).toThrow('option "maxEntries"');
  });
});
