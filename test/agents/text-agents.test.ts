// log-triage, json-schema-infer and markdown-report on real inputs: a service log, the bundled agents' own
// manifests, and a metrics object, each through a real factory with its committed signature verified.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileDataSchema } from '../../templates/index.js';
import { type BundledFactory, openBundledFactory, readFixture, REPO_AGENTS } from './bundled.js';

let bundled: BundledFactory;
beforeAll(async () => {
  bundled = await openBundledFactory();
});
afterAll(() => bundled.close());

describe('log-triage', () => {
  it('groups the error lines of a log by shape, largest group first, with an example line', async () => {
    const { output } = await bundled.factory.run('log-triage', { log: readFixture('app.log') });
    expect(output).toEqual({
      lines: 10,
      // "err" inside the path of the last line is not an error marker.
      errorLines: 6,
      distinct: 3,
      groups: [
        {
          pattern: '<time> ERROR db: connection to <ip> refused after <n> (attempt <n>)',
          count: 3,
          example: '2025-01-06T10:00:01.004Z ERROR db: connection to 10.0.3.17:5432 refused after 1200ms (attempt 1)',
          firstLine: 2,
          lastLine: 6,
          share: 0.5,
        },
        {
          pattern: '<time> ERROR worker-<n>: job <hex>-<id> crashed: cannot read <path>',
          count: 2,
          example: '2025-01-06T10:00:03.512Z ERROR worker-4: job 9f1c2ab3-77de crashed: cannot read /var/lib/app/cache/5e0a1b2c3d4e.bin',
          firstLine: 5,
          lastLine: 8,
          share: 0.333,
        },
        {
          pattern: '<time> ERROR auth: token for user "<str>" expired at <time>',
          count: 1,
          example: '2025-01-06T10:00:07.000Z ERROR auth: token for user "ada42" expired at 2025-01-06T09:59:59Z',
          firstLine: 9,
          lastLine: 9,
          share: 0.167,
        },
      ],
    });
  });

  it('keeps the top N and takes other level words', async () => {
    const { output } = await bundled.factory.run('log-triage', { log: readFixture('app.log'), topN: 1, levels: ['warn'] });
    expect(output).toEqual({
      lines: 10,
      errorLines: 1,
      distinct: 1,
      groups: [{ pattern: '<time> WARN cache: hit ratio <n>% below target', count: 1, example: '2025-01-06T10:00:02.900Z WARN cache: hit ratio 71% below target', firstLine: 4, lastLine: 4, share: 1 }],
    });
  });
});

describe('json-schema-infer', () => {
  const manifests = readdirSync(REPO_AGENTS)
    .filter((name) => !name.startsWith('.'))
    .sort()
    .map((name) => JSON.parse(readFileSync(path.join(REPO_AGENTS, name, 'agent.json'), 'utf8')) as Record<string, unknown>);

  it('infers a schema from the bundled agents’ manifests that every one of them satisfies', async () => {
    const { output } = await bundled.factory.run('json-schema-infer', { samples: manifests, title: 'agent.json' });
    const { schema, samples } = output as { schema: Record<string, any>; samples: number };
    expect(samples).toBe(manifests.length);
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.title).toBe('agent.json');
    expect(schema.type).toBe('object');
    // base-worker has no entry and no input, so only these appear in every manifest.
    expect(schema.required).toEqual(['description', 'name', 'version']);
    expect(schema.properties.abstract).toEqual({ type: 'boolean' });
    expect(schema.properties.limits.properties.memoryMb).toEqual({ type: 'integer', minimum: 16, maximum: 64 });
    expect(schema.properties.permissions.properties.env).toEqual({ type: 'array', items: { type: 'string' } });
    const validator = compileDataSchema(schema);
    for (const manifest of manifests) expect(validator(manifest).valid).toBe(true);
  });

  it('unions types, drops integer into number, and keeps formats every string shares', async () => {
    const { output } = await bundled.factory.run('json-schema-infer', {
      samples: [
        { id: 1, at: '2025-01-06T10:00:00Z', site: 'https://example.com', note: null, tags: ['a'] },
        { id: 2.5, at: '2025-01-07T11:30:00Z', site: 'not a url', note: 'hi', tags: [] },
      ],
    });
    expect((output as { schema: unknown }).schema).toEqual({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      properties: {
        at: { type: 'string', format: 'date-time' },
        id: { type: 'number', minimum: 1, maximum: 2.5 },
        note: { type: ['null', 'string'] },
        site: { type: 'string' },
        tags: { type: 'array', items: { type: 'string' } },
      },
      required: ['at', 'id', 'note', 'site', 'tags'],
    });
  });
});

describe('markdown-report', () => {
  it('renders scalars as a table, nested objects as sections and lists of records as tables', async () => {
    const { output } = await bundled.factory.run('markdown-report', {
      title: 'Nightly',
      metrics: { totalRuns: 12345, error_rate: 0.012345, healthy: true, p95Ms: 41.678, byAgent: [{ agent: 'hello', runs: 10 }, { agent: 'a|b', runs: 2 }], region: { name: 'eu', tags: ['x', 'y'] } },
    });
    expect(output).toEqual({
      markdown: [
        '# Nightly',
        '',
        '| Metric | Value |',
        '| --- | --- |',
        '| Total runs | 12,345 |',
        '| Error rate | 0.0123 |',
        '| Healthy | yes |',
        '| P95 ms | 41.68 |',
        '',
        '## By agent',
        '',
        '| Agent | Runs |',
        '| --- | --- |',
        '| hello | 10 |',
        '| a\\|b | 2 |',
        '',
        '## Region',
        '',
        '| Metric | Value |',
        '| --- | --- |',
        '| Name | eu |',
        '',
        '### Tags',
        '',
        '- x',
        '- y',
        '',
      ].join('\n'),
      sections: 3,
      tables: 3,
    });
  });
});
