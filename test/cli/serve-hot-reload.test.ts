// `af serve` in dev is a long-lived factory that runs what is on disk: an edit of main.ts is served by the next request,
// without a restart. A real server on 127.0.0.1, the real SDK client, a real file edit.
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { FactoryClient } from '../../api/index.js';
import { serveCommand } from '../../cli/commands/serve.js';
import { createCommandContext } from '../../cli/context.js';
import { openStore } from '../../store/index.js';
import { createProject, simpleTemplate } from '../helpers/project.js';

describe('af serve in dev', () => {
  it('serves the edited code on the next request', async () => {
    const project = createProject(simpleTemplate('hi', {}, "export default () => ({ said: 'before' });\n"));
    const controller = new AbortController();
    let serving: Promise<number> | undefined;
    try {
      const streams = { stdout: { write: () => true }, stderr: { write: () => true }, stdin: new PassThrough(), env: { NO_COLOR: '1', AF_LOG_LEVEL: 'silent' }, cwd: project.root };
      const context = createCommandContext(streams, () => ({ root: project.root }));
      const setup = openStore({ path: context.config().dbPath });
      const { key } = setup.tenants.createApiKey('acme', 'operator');
      await setup.close();
      let onListening!: (url: string) => void;
      const listening = new Promise<string>((resolve) => (onListening = resolve));
      serving = serveCommand(context, { port: 0 }, { signal: controller.signal, onListening });
      const client = new FactoryClient({ baseUrl: await listening, apiKey: key });
      const before = await client.runAgent('hi', {});
      expect(before).toMatchObject({ version: '1.0.0', source: 'on-disk', signed: false, output: { said: 'before' } });

      writeFileSync(path.join(project.agentsDir, 'hi', 'main.ts'), "export default () => ({ said: 'after' });\n");
      let after = before;
      // The watcher reloads within milliseconds of the save: ask until it has.
      for (let attempt = 0; attempt < 100 && (after.output as { said: string }).said !== 'after'; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 30));
        after = await client.runAgent('hi', {});
      }
      expect(after.output).toEqual({ said: 'after' });
      expect(after.digest).toMatch(/^[0-9a-f]{64}$/);
      expect(after.digest).not.toBe(before.digest);
    } finally {
      controller.abort();
      if (serving) expect(await serving).toBe(0);
      project.remove();
    }
  });

  it('handles SIGTERM before it announces its URL, so a stop sent at once is graceful and leaves no serve.json', async () => {
    const project = createProject(simpleTemplate('hi'));
    try {
      const streams = { stdout: { write: () => true }, stderr: { write: () => true }, stdin: new PassThrough(), env: { NO_COLOR: '1', AF_LOG_LEVEL: 'silent' }, cwd: project.root };
      const context = createCommandContext(streams, () => ({ root: project.root }));
      const before = process.listenerCount('SIGTERM');
      let handledWhenAnnounced: boolean | undefined;
      let onListening!: (url: string) => void;
      const listening = new Promise<string>((resolve) => (onListening = resolve));
      const serving = serveCommand(context, { port: 0 }, {
        onListening: (url) => {
          handledWhenAnnounced = process.listenerCount('SIGTERM') > before;
          onListening(url);
        },
      });
      await listening;
      expect(existsSync(path.join(project.root, '.af/serve.json'))).toBe(true);
      process.emit('SIGTERM', 'SIGTERM');
      expect(await serving).toBe(0);
      expect(handledWhenAnnounced).toBe(true);
      expect(existsSync(path.join(project.root, '.af/serve.json'))).toBe(false);
      expect(process.listenerCount('SIGTERM')).toBe(before);
    } finally {
      project.remove();
    }
  });
});
