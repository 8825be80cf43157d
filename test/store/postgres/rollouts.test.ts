// Rollouts on PostgreSQL: the SQLite cases, and two nodes deciding the same canary at once (exactly one wins).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PgRollouts } from '../../../store/postgres/rollouts.js';
import { pgFixture, type PgFixture } from './pg-fixture.js';

const T0 = 1_700_000_000_000;

let pg: PgFixture;
let rollouts: PgRollouts;
beforeEach(async () => {
  pg = await pgFixture();
  rollouts = new PgRollouts(pg.db);
});
afterEach(() => pg.close());

describe('PostgreSQL rollouts', () => {
  it('starts a canary, lists it as active, decides it once, and a new start replaces it', async () => {
    expect(await rollouts.start({ template: 'hello', stableVersion: '1.0.0', candidateVersion: '1.0.1', weight: 0.1, startedAt: T0, suggestionId: 's1' })).toEqual({
      template: 'hello', stableVersion: '1.0.0', candidateVersion: '1.0.1', weight: 0.1, state: 'canary', startedAt: T0, suggestionId: 's1',
    });
    expect((await rollouts.active()).map((r) => r.template)).toEqual(['hello']);
    expect(await rollouts.decide('hello', 'promoted', T0 + 5, { p95: 12 })).toBe(true);
    expect(await rollouts.decide('hello', 'rolled_back', T0 + 6, {})).toBe(false);
    expect(await rollouts.get('hello')).toMatchObject({ state: 'promoted', decidedAt: T0 + 5, decision: { p95: 12 } });
    expect(await rollouts.active()).toEqual([]);
    await rollouts.start({ template: 'hello', stableVersion: '1.0.1', candidateVersion: '1.0.2', weight: 0.5, startedAt: T0 + 7 });
    expect(await rollouts.get('hello')).toEqual({ template: 'hello', stableVersion: '1.0.1', candidateVersion: '1.0.2', weight: 0.5, state: 'canary', startedAt: T0 + 7 });
    expect(await rollouts.get('other')).toBeUndefined();
    expect(await rollouts.decide('other', 'promoted', T0, {})).toBe(false);
  });

  it('refuses a weight outside 0..1 with E_STORE and keeps what was there', async () => {
    await rollouts.start({ template: 'hello', stableVersion: '1.0.0', candidateVersion: '1.0.1', weight: 0.1, startedAt: T0 });
    await expect(rollouts.start({ template: 'hello', stableVersion: '1.0.0', candidateVersion: '1.0.2', weight: 1.5, startedAt: T0 })).rejects.toMatchObject({ code: 'E_STORE' });
    expect(await rollouts.get('hello')).toMatchObject({ candidateVersion: '1.0.1', weight: 0.1 });
  });

  it('when two nodes decide the same canaries at once, exactly one decides each, and its decision is the one kept', async () => {
    const other = new PgRollouts(pg.node());
    const templates = Array.from({ length: 40 }, (_, i) => `t${i}`);
    for (const template of templates) await rollouts.start({ template, stableVersion: '1.0.0', candidateVersion: '1.0.1', weight: 0.2, startedAt: T0 });
    const results = await Promise.all(
      templates.map(async (template) => {
        const [mine, theirs] = await Promise.all([
          rollouts.decide(template, 'promoted', T0 + 1, { by: 'this node' }),
          other.decide(template, 'rolled_back', T0 + 2, { by: 'other node' }),
        ]);
        return { template, mine, theirs };
      }),
    );
    for (const { template, mine, theirs } of results) {
      expect(mine !== theirs, `${template}: this node ${mine}, the other ${theirs}`).toBe(true);
      const kept = await other.get(template);
      expect(kept).toMatchObject(mine ? { state: 'promoted', decision: { by: 'this node' } } : { state: 'rolled_back', decision: { by: 'other node' } });
    }
    expect(await other.active()).toEqual([]);
  });
});
