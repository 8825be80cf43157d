// Suggestions and learner models on PostgreSQL: the SQLite cases, and two nodes seeing each other's decisions.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Suggestion } from '../../../core/suggestion.js';
import { PgLearnerModels } from '../../../store/postgres/learner-models.js';
import { PgSuggestions } from '../../../store/postgres/suggestions.js';
import { pgFixture, type PgFixture } from './pg-fixture.js';

const T0 = 1_700_000_000_000;

function suggestion(id: string, overrides: Partial<Suggestion> = {}): Suggestion {
  return {
    id,
    kind: 'right-sizing',
    template: 'hello',
    tenant: 'acme',
    baseVersion: '1.0.0',
    baseDigest: 'd'.repeat(64),
    patch: [{ op: 'replace', path: '/limits/memoryMb', value: 64 }],
    evidence: { runs: 120, p95: 12.5 },
    expectedImpact: { summary: 'less memory' },
    confidence: 0.8,
    state: 'open',
    createdAt: T0,
    evidenceKey: `key-${id}`,
    ...overrides,
  };
}

let pg: PgFixture;
let suggestions: PgSuggestions;
beforeEach(async () => {
  pg = await pgFixture();
  suggestions = new PgSuggestions(pg.db);
});
afterEach(() => pg.close());

const ids = (list: Suggestion[]) => list.map((s) => s.id);

describe('PostgreSQL suggestions', () => {
  it('reads back every field, lists newest first under each filter, a suggestion for every tenant in each tenant’s list', async () => {
    await suggestions.add(suggestion('s1', { createdAt: T0 + 1 }));
    await suggestions.add(suggestion('s2', { createdAt: T0 + 2, kind: 'least-privilege', tenant: '*' }));
    await suggestions.add(suggestion('s3', { createdAt: T0 + 3, template: 'other', tenant: 'globex' }));
    expect(await suggestions.get('s1')).toEqual(suggestion('s1', { createdAt: T0 + 1 }));
    expect(await suggestions.get('nope')).toBeUndefined();
    expect(ids(await suggestions.list())).toEqual(['s3', 's2', 's1']);
    expect(ids(await suggestions.list({ template: 'hello' }))).toEqual(['s2', 's1']);
    expect(ids(await suggestions.list({ tenant: 'globex' }))).toEqual(['s3', 's2']);
    expect(ids(await suggestions.list({ tenant: 'acme', template: 'hello', kind: 'right-sizing' }))).toEqual(['s1']);
    expect(ids(await suggestions.list({ kind: 'least-privilege' }))).toEqual(['s2']);
    expect(ids(await suggestions.list({ state: 'open', limit: 1 }))).toEqual(['s3']);
    expect(ids(await suggestions.list({ template: '' }))).toEqual(['s3', 's2', 's1']);
    expect(ids(await suggestions.history('hello', 'right-sizing'))).toEqual(['s1']);
  });

  it('records decisions, withdraws only open suggestions, and counts acceptance per kind', async () => {
    await suggestions.add(suggestion('s1'));
    await suggestions.add(suggestion('s2'));
    await suggestions.add(suggestion('s3', { kind: 'least-privilege' }));
    expect(await suggestions.decide('s1', 'accepted', { by: 'ada', at: T0 + 5, candidateVersion: '1.0.1' })).toMatchObject({ state: 'accepted', decidedBy: 'ada', decidedAt: T0 + 5, candidateVersion: '1.0.1' });
    expect(await suggestions.decide('s1', 'promoted', { at: T0 + 9 })).toMatchObject({ state: 'promoted', decidedBy: 'ada', decidedAt: T0 + 9, candidateVersion: '1.0.1' });
    await suggestions.decide('s3', 'rejected', { by: 'bob', reason: 'no', at: T0 + 6 });
    expect(await suggestions.decide('missing', 'accepted', { at: 1 })).toBeUndefined();
    expect(await suggestions.withdraw('s1')).toBe(false);
    expect(await suggestions.withdraw('s2')).toBe(true);
    expect(await suggestions.withdraw('s2')).toBe(false);
    expect(await suggestions.get('s2')).toBeUndefined();
    expect(await suggestions.acceptanceByKind()).toEqual({ 'right-sizing': { accepted: 1, rejected: 0 }, 'least-privilege': { accepted: 0, rejected: 1 } });
  });

  it('refuses a second suggestion with the same id with E_STORE', async () => {
    await suggestions.add(suggestion('s1'));
    await expect(suggestions.add(suggestion('s1'))).rejects.toMatchObject({ code: 'E_STORE', message: expect.stringContaining('duplicate key') });
  });

  it('another node sees a suggestion added and decided by this one', async () => {
    const other = new PgSuggestions(pg.node());
    await suggestions.add(suggestion('s1'));
    expect(ids(await other.list())).toEqual(['s1']);
    await other.decide('s1', 'rejected', { by: 'bob', at: T0 + 1 });
    expect(await suggestions.get('s1')).toMatchObject({ state: 'rejected', decidedBy: 'bob' });
  });
});

describe('PostgreSQL learner models', () => {
  it('saves a model per template and target, the last save wins, and another node loads it', async () => {
    const models = new PgLearnerModels(pg.db);
    const other = new PgLearnerModels(pg.node());
    expect(await models.load('hello', 'runMs')).toBeUndefined();
    await models.save('hello', 'runMs', { weights: [1, 2] }, T0, 100);
    await other.save('hello', 'runMs', { weights: [3] }, T0 + 1, 150);
    expect(await models.load('hello', 'runMs')).toEqual({ state: { weights: [3] }, trainedAt: T0 + 1, samples: 150 });
    expect(await other.load('hello', 'cpuMs')).toBeUndefined();
  });
});
