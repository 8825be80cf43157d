// The accept path and version rows planted in the database: accepting records the version on disk before it changes
// it, and a row planted beforehand under that version's digest (with other files) must not be what a rollback restores.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../core/config.js';
import type { Suggestion } from '../../core/suggestion.js';
import { acceptSuggestion, rollback } from '../../learner/index.js';
import { systemClock } from '../../core/clock.js';
import { createLogger } from '../../core/logger.js';
import { RolloutRouter } from '../../runtime/rollout-router.js';
import { openStore, type Store } from '../../store/index.js';
import { type KeyRing, openProjectTrust, TemplateRegistry } from '../../templates/index.js';
import { sha256 } from '../../templates/bundle.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';
import { craftRuns } from './helpers.js';

const EVIL = "export default () => ({ who: 'PLANTED' });\n";

let project: TempProject;
let store: Store;
let registry: TemplateRegistry;
let keyRing: KeyRing;
let dbPath: string;

beforeEach(async () => {
  project = createProject(simpleTemplate('sized', { limits: { memoryMb: 256 } }, "export default () => ({ who: 'real' });\n"));
  const config = resolveConfig({ root: project.root, processEnv: {} });
  dbPath = config.dbPath;
  store = openStore({ path: config.dbPath, auditAnchorDir: config.keysDir });
  keyRing = openProjectTrust(config, { store: store.trust }).keyRing;
  await keyRing.init();
  registry = new TemplateRegistry({ agentsDir: project.agentsDir, displayRoot: project.root, bundleCacheDir: config.bundleCacheDir });
});

afterEach(async () => {
  registry.close();
  await store.close();
  project.remove();
});

function suggestion(digest: string): Suggestion {
  return {
    id: 'sg-1', kind: 'right-sizing', template: 'sized', tenant: 'default', baseVersion: '1.0.0', baseDigest: digest,
    patch: [{ op: 'replace', path: '/limits/memoryMb', value: 128 }], evidence: { slot: 'limits.memoryMb' }, expectedImpact: { summary: 'less memory' },
    confidence: 0.9, state: 'open', createdAt: Date.now(), evidenceKey: 'memoryMb:128',
  } as Suggestion;
}

describe('accept → rollback with version rows planted in the database', () => {
  it('a row planted under the current digest with other files is replaced when accepting records the version, so the rollback restores the real files', async () => {
    const current = await registry.inspect('sized');
    // The forger's row: the real digest, manifest and agent.json, but main.ts swapped (with a hash to match it).
    const db = new Database(dbPath);
    db.prepare(`INSERT INTO template_versions (name, version, digest, manifest, sources, bundle, signature, recorded_at, manifest_file, source_files) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)`).run(
      'sized', '1.0.0', current.digest, JSON.stringify(current.inherited), JSON.stringify({ 'main.ts': sha256(EVIL) }), current.code, 1,
      readFileSync(path.join(current.dir, 'agent.json'), 'utf8'), JSON.stringify({ 'main.ts': Buffer.from(EVIL).toString('base64') }),
    );
    db.close();
    store.suggestions.add(suggestion(current.digest));
    const accepted = await acceptSuggestion({ store, registry, keyRing }, 'sg-1', { actor: 'ada', canaryWeight: 1 });
    expect(accepted.candidateVersion).toBe('1.0.1');
    const rolled = await rollback({ store, registry }, 'sized', { to: '1.0.0', actor: 'ada' });
    expect(rolled.version).toBe('1.0.0');
    expect(readFileSync(path.join(current.dir, 'main.ts'), 'utf8')).toBe("export default () => ({ who: 'real' });\n");
    expect(JSON.parse(readFileSync(path.join(current.dir, 'agent.json'), 'utf8'))).toMatchObject({ version: '1.0.0', limits: { memoryMb: 256 } });
  });

  it('a planted row for the version accepted from is refused by the rollback, which writes nothing', async () => {
    const current = await registry.inspect('sized');
    store.suggestions.add(suggestion(current.digest));
    await acceptSuggestion({ store, registry, keyRing }, 'sg-1', { actor: 'ada', canaryWeight: 1 });
    const db = new Database(dbPath);
    db.prepare("UPDATE template_versions SET sources = ?, source_files = ? WHERE name = 'sized' AND version = '1.0.0'")
      .run(JSON.stringify({ 'main.ts': sha256(EVIL) }), JSON.stringify({ 'main.ts': Buffer.from(EVIL).toString('base64') }));
    db.close();
    await expect(rollback({ store, registry }, 'sized', { to: '1.0.0', actor: 'ada' })).rejects.toMatchObject({
      code: 'E_TRUST_STATE', message: expect.stringContaining('version 1.0.0 of "sized" in the store'),
    });
    expect(readFileSync(path.join(current.dir, 'main.ts'), 'utf8')).not.toContain('PLANTED');
    expect(JSON.parse(readFileSync(path.join(current.dir, 'agent.json'), 'utf8')).version).toBe('1.0.1');
  });
});

describe("the canary's own rollback with a stable row edited in the database", () => {
  it('decides, but writes nothing from a row the keys folder does not vouch for, and says why', async () => {
    const current = await registry.inspect('sized');
    store.suggestions.add(suggestion(current.digest));
    await acceptSuggestion({ store, registry, keyRing }, 'sg-1', { actor: 'ada', canaryWeight: 0.5 });
    // The candidate fails far more often than the stable version: the analysis rolls it back.
    const startedAt = store.rollouts.get('sized')!.startedAt;
    const runs = craftRuns({ count: 600, startAt: startedAt + 1, spacingMs: 1 }).map((run, i) => ({
      ...run, id: `canary-${i}`, version: i % 2 === 0 ? '1.0.0' : '1.0.1', ...(i % 2 === 1 && i % 3 !== 0 ? { outcome: 'error' as const, errorCode: 'E_AGENT_THREW' as const } : {}),
    }));
    for (const run of runs) store.runs.write(run);
    await store.runs.flush();
    const db = new Database(dbPath);
    db.prepare("UPDATE template_versions SET sources = ?, source_files = ? WHERE name = 'sized' AND version = '1.0.0'")
      .run(JSON.stringify({ 'main.ts': sha256(EVIL) }), JSON.stringify({ 'main.ts': Buffer.from(EVIL).toString('base64') }));
    db.close();
    const warnings: string[] = [];
    const logger = createLogger({ level: 'warn', stream: { write: (line: string) => (warnings.push(line), true) } });
    const router = new RolloutRouter({ store, clock: systemClock, logger, dirOf: () => current.dir });
    expect(await router.check('sized')).toMatchObject({ action: 'rollback' });
    expect(store.rollouts.get('sized')?.state).toBe('rolled_back');
    expect(readFileSync(path.join(current.dir, 'main.ts'), 'utf8')).not.toContain('PLANTED');
    expect(JSON.parse(readFileSync(path.join(current.dir, 'agent.json'), 'utf8')).version).toBe('1.0.1');
    expect(warnings.join('')).toContain('could not put 1.0.0 back on disk: version 1.0.0 of "sized" in the store');
  });
});
