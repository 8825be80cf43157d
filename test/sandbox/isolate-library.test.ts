// The isolate library: the build npm installed for this Node is the one loaded, its version and patch state are
// reported from what is on disk, and a non-dev factory on an unpatched library says so once.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/logger.js';
import { createFactory } from '../../runtime/index.js';
import { isolateLibrary, isPatchedIsolatedVm, loadIsolatedVm, unpatchedIsolateLibraryWarning } from '../../sandbox/isolate-library.js';
import { createProject, simpleTemplate } from '../helpers/project.js';

const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
const nodeMajor = Number(process.versions.node.split('.')[0]);
const project = createProject(simpleTemplate('echo'));
afterAll(() => project.remove());

describe('isolate library', () => {
  it('knows which versions carry the fix for GHSA-864f-rcv7-6rh4', () => {
    expect(['5.0.4', '6.1.2', '6.2.0', '6.2.1', '7.0.0', '7.0.1', '7.1.0', '8.0.0'].map(isPatchedIsolatedVm)).toEqual([false, false, true, true, false, true, true, true]);
  });

  it('reports the build installed for this Node, read from node_modules, and loads that build', () => {
    const library = isolateLibrary();
    expect(library.packageName).toBe(nodeMajor >= 22 ? 'isolated-vm-patched' : 'isolated-vm-node20');
    const installed = JSON.parse(readFileSync(path.join(REPO_ROOT, 'node_modules', library.packageName, 'package.json'), 'utf8')) as { name: string; version: string };
    expect(installed.name).toBe('isolated-vm');
    expect(library.version).toBe(installed.version);
    // Node 22 and 24 must get a patched line; Node 20 can only run 5.0.x, which is not.
    if (nodeMajor >= 22) expect(library).toMatchObject({ patched: true });
    else expect(library).toMatchObject({ patched: false, version: expect.stringMatching(/^5\.0\./) });
    const ivm = loadIsolatedVm();
    const isolate = new ivm.Isolate({ memoryLimit: 16 });
    try {
      expect(isolate.compileScriptSync('6 * 7').runSync(isolate.createContextSync())).toBe(42);
    } finally {
      isolate.dispose();
    }
  });

  it('a non-dev factory warns once per process about an unpatched library, with the advisory and the fix; dev stays quiet', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', color: false, stream: { write: (chunk: string) => lines.push(chunk) } });
    const open = async (env: string) => (await createFactory({ root: project.root, env, store: false, logger, hosts: 1 })).close();
    await open('dev');
    expect(lines.join('')).not.toContain('GHSA-864f-rcv7-6rh4');
    await open('prod');
    await open('staging');
    const warnings = lines.filter((line) => line.includes('GHSA-864f-rcv7-6rh4'));
    if (isolateLibrary().patched) {
      expect(warnings).toEqual([]);
      expect(unpatchedIsolateLibraryWarning()).toBeUndefined();
    } else {
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(`isolated-vm ${isolateLibrary().version} on Node ${nodeMajor}`);
      expect(warnings[0]).toContain('run on Node 22 or 24 for isolated-vm 6.2+');
    }
  });
});
