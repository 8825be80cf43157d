// Each suggestion kind from crafted run records: the exact patch, and the evidence behind it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../core/run-record.js';
import { type Candidate, type TemplateHistory } from '../../learner/generators/context.js';
import { failurePattern } from '../../learner/generators/failure-pattern.js';
import { leastPrivilege } from '../../learner/generators/least-privilege.js';
import { preWarming } from '../../learner/generators/pre-warming.js';
import { rightSizing } from '../../learner/generators/right-sizing.js';
import { initTf, reliableFailureRegion, stoppedBy } from '../../learner/index.js';
import { loadTemplateFile, resolveTemplate, type ResolvedTemplate } from '../../templates/index.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';
import { craftRuns } from './helpers.js';

let project: TempProject;
const templates = new Map<string, ResolvedTemplate>();

beforeAll(async () => {
  await initTf();
  project = createProject({
    ...simpleTemplate('sized', {
      limits: { memoryMb: 256, timeoutMs: 5000, cpuMs: 5000 },
      permissions: { kv: true, net: ['api.example.com'] },
      pool: { prewarm: 1 },
      input: { type: 'object', properties: { items: { type: 'array' } } },
    }),
    'agents/base/agent.json': { name: 'base', version: '1.0.0', abstract: true, permissions: { env: ['LOG_LEVEL'] } },
    ...simpleTemplate('child', { extends: 'base' }),
    ...simpleTemplate('listed', {
      permissions: { env: ['LOG_LEVEL', 'REGION', 'DEBUG'], net: ['api.example.com'], read: ['./data'] },
      environments: { prod: { permissions: { env: ['DEBUG'] } } },
    }),
  });
  for (const name of ['sized', 'child', 'listed']) templates.set(name, await resolveTemplate({ agentsDir: project.agentsDir, displayRoot: project.root }, name, { env: 'dev' }));
});
afterAll(() => project.remove());

function history(name: string, records: RunRecord[]): TemplateHistory {
  const template = templates.get(name) as ResolvedTemplate;
  const raw = loadTemplateFile(template.dir, project.root).manifest;
  const digested = records.map((record) => ({ ...record, template: name, digest: template.digest }));
  return { template, raw, hasParent: raw.extends !== undefined, records: digested, limitsOf: () => template.manifest.limits, now: (digested.at(-1)?.startedAt ?? 0) + 1 };
}

const bySlot = (candidates: Candidate[], slot: string) => candidates.find((c) => c.slot === slot);

describe('right-sizing', () => {
  it('lowers a memory limit far above what runs need, patching limits.memoryMb', () => {
    // Heap 4–15 MB under a 256 MB limit.
    const found = rightSizing(history('sized', craftRuns({ count: 1200 })));
    const memory = bySlot(found, 'limits.memoryMb');
    expect(memory?.patch).toHaveLength(1);
    const [op] = memory?.patch ?? [];
    expect(op?.op).toBe('replace');
    expect(op?.path).toBe('/limits/memoryMb');
    expect(op?.value).toBeGreaterThanOrEqual(15);
    expect(op?.value).toBeLessThanOrEqual(40);
    expect(memory?.evidence).toMatchObject({ resource: 'memoryMb', runs: 1200, limitHits: 0, currentLimit: 256 });
    expect(['vpa', 'autopilot']).toContain(memory?.evidence.method);
    expect(memory?.evidenceKey).toMatch(/^right-sizing:memoryMb:\d+$/);
  });

  it('raises a limit that runs keep hitting', () => {
    const template = templates.get('sized') as ResolvedTemplate;
    // A quarter of runs hit the 256 MB limit.
    const records = craftRuns({ count: 800, heapMb: (size) => 150 + size / 10, fails: (size) => (size > 750 ? 'E_MEMORY_LIMIT' : undefined) });
    const found = rightSizing(history('sized', records));
    const memory = bySlot(found, 'limits.memoryMb');
    expect(memory?.patch[0]?.value).toBeGreaterThanOrEqual(Math.round(template.manifest.limits.memoryMb * 1.2));
    expect(memory?.evidence.limitHits).toBeGreaterThan(100);
  });

  it('proposes limits.byInput where CPU and wall time follow the input, with every method scored at the same hit budget', () => {
    // CPU ≈ 5 + size/4 ms and wall ≈ 10 + size/3 ms, inputs of 20–8,000 bytes, under flat limits of 5,000 ms.
    const found = rightSizing(history('sized', craftRuns({ count: 1200, cpuMs: (size, noise) => 5 + size / 4 + 5 * noise, runMs: (size, noise) => 10 + size / 3 + 5 * noise })));
    for (const resource of ['cpuMs', 'timeoutMs'] as const) {
      const suggestion = bySlot(found, `limits.${resource}`);
      expect(suggestion?.evidence.method).toBe('conditional');
      const [op] = suggestion?.patch ?? [];
      expect(op?.op).toBe('add');
      expect(op?.path).toBe('/limits/byInput');
      const rule = (op?.value as Record<string, { base: number; exponent: number }>)[resource] as { base: number; exponent: number };
      expect((op?.value as { measure: string }).measure).toBe('inputBytes');
      // Need ≈ a + size/k: sub-linear in log–log over these sizes (the constant dominates small inputs).
      expect(rule.exponent).toBeGreaterThan(0.3);
      expect(rule.exponent).toBeLessThan(1.2);
      // No input gets less than the resource's floor.
      expect((rule as { min?: number }).min).toBe(resource === 'cpuMs' ? 20 : 50);
      // Small inputs get a limit far under the flat 5,000 ms; the largest get more than the small ones.
      const examples = suggestion?.evidence.examples as Array<{ quantile: string; limit: number }>;
      const limitAt = (q: string) => examples.find((e) => e.quantile === q)?.limit as number;
      expect(limitAt('p10')).toBeLessThan(limitAt('max'));
      expect(limitAt('max')).toBeLessThan(5000);
      const methods = suggestion?.evidence.methods as Record<string, { capacitySlack: number; hitRate: number }>;
      expect(Object.keys(methods).sort()).toEqual(['autopilot', 'conditional', 'vpa']);
      // Calibrated to the 1 % budget, the rule reserves less than the flat methods.
      expect(methods.conditional?.capacitySlack).toBeLessThan(methods.vpa?.capacitySlack as number);
      expect(methods.conditional?.capacitySlack).toBeLessThan(methods.autopilot?.capacitySlack as number);
      for (const method of Object.values(methods)) expect(method.hitRate).toBeLessThanOrEqual(0.01);
      expect(suggestion?.expectedImpact.summary).toMatch(new RegExp(`^${resource} follows inputBytes: \\d+ ms for small inputs \\(\\d+ bytes\\)`));
      expect(suggestion?.evidenceKey).toMatch(new RegExp(`^right-sizing:${resource}:by-input:inputBytes:`));
    }
  });

  it('proposes a flat limit, not a rule, when the floor covers every input anyway', () => {
    // CPU ≈ 1 + size/60 ms: under the 20 ms floor for every input.
    const cpu = bySlot(rightSizing(history('sized', craftRuns({ count: 1200 }))), 'limits.cpuMs');
    expect(cpu?.patch).toEqual([{ op: 'replace', path: '/limits/cpuMs', value: 20 }]);
  });

  it('never proposes a limit under one that recent runs were stopped at, whatever the budget says', () => {
    // The largest inputs hit the CPU limit of 5,000 ms: their need is unknown, so the budget (over measured runs) cannot see them.
    const records = craftRuns({ count: 1200, fails: (size) => (size > 950 ? 'E_CPU_LIMIT' : undefined) });
    const found = rightSizing(history('sized', records));
    const cpu = bySlot(found, 'limits.cpuMs');
    const flat = cpu?.patch.find((op) => op.path === '/limits/cpuMs')?.value as number;
    expect(flat).toBeGreaterThanOrEqual(6000);
  });

  it('does not believe a run row edited to claim a limit above its version\'s flat one, nor an unknown censoring', () => {
    // Stopped at the CPU limit, each row claiming it ran under 500,000 ms (no rule can lift a limit past the flat 5,000).
    const forged = craftRuns({ count: 1200, fails: (size) => (size > 950 ? 'E_CPU_LIMIT' : undefined) }).map((r) =>
      r.errorCode === 'E_CPU_LIMIT' ? { ...r, censoredBy: 'cpuMs' as const, limits: { cpuMs: 500_000, timeoutMs: 5000, memoryMb: 256 } } : r,
    );
    const cpu = bySlot(rightSizing(history('sized', forged)), 'limits.cpuMs');
    expect(cpu?.patch.find((op) => op.path === '/limits/cpuMs')?.value).toBe(6000);
    // A censoring no resource has is ignored: the run counts as measured, its figures as needs.
    const odd = { ...(forged[0] as RunRecord), censoredBy: 'diskMb' as unknown as RunRecord['censoredBy'] };
    expect(stoppedBy(odd)).toBeUndefined();
  });

  it('stays quiet below 100 runs', () => {
    expect(rightSizing(history('sized', craftRuns({ count: 60 })))).toEqual([]);
  });
});

describe('least privilege', () => {
  it('proposes removing a permission unused in 300 runs, and never one that was used', () => {
    const records = craftRuns({ count: 320, tools: (size) => (size % 97 === 0 ? { kv: 1 } : { log: 1 }) });
    const found = leastPrivilege(history('sized', records));
    expect(found.map((c) => c.slot)).toEqual(['permissions.net']);
    expect(found[0]?.patch).toEqual([{ op: 'remove', path: '/permissions/net' }]);
    expect(found[0]?.evidence).toMatchObject({ permission: 'net', runs: 320, uses: 0 });
    expect(String(found[0]?.evidence.rule)).toContain('below 0.94% (95% confidence)');
  });

  it('removes an inherited permission with null, which is how extends deletes', () => {
    const found = leastPrivilege(history('child', craftRuns({ count: 300 })));
    expect(found.map((c) => c.patch)).toEqual([[{ op: 'add', path: '/permissions', value: { env: null } }]]);
  });

  it('waits for 300 runs', () => {
    expect(leastPrivilege(history('sized', craftRuns({ count: 299 })))).toEqual([]);
  });

  it('proposes dropping single entries never used while others of their list were, keeping the rest', () => {
    // Every run reads LOG_LEVEL and ./data; REGION is never read; DEBUG is never read here but prod grants it too.
    const records = craftRuns({ count: 310, tools: () => ({ env: 1, readTextFile: 1 }) }).map((record) => ({ ...record, grantsUsed: ['env:LOG_LEVEL', 'read:./data'] }));
    const found = leastPrivilege(history('listed', records));
    expect(found.map((c) => c.slot)).toEqual(['permissions.net', 'permissions.env.entries']);
    const entries = bySlot(found, 'permissions.env.entries');
    expect(entries?.patch).toEqual([{ op: 'replace', path: '/permissions/env', value: ['LOG_LEVEL', 'DEBUG'] }]);
    expect(entries?.evidence).toMatchObject({ permission: 'env', entries: ['REGION'], kept: ['LOG_LEVEL', 'DEBUG'], runs: 310, uses: 0 });
    expect(entries?.expectedImpact.summary).toBe('drop env:REGION: never used in 310 runs');
  });

  it('counts only runs that recorded their grants, and never an entry that was used once', () => {
    const withGrants = craftRuns({ count: 299, tools: () => ({ env: 1 }) }).map((record) => ({ ...record, grantsUsed: ['env:LOG_LEVEL'] }));
    const older = craftRuns({ count: 100, tools: () => ({ env: 1 }) }); // written before grants were recorded
    expect(leastPrivilege(history('listed', [...older, ...withGrants])).map((c) => c.slot)).toEqual(['permissions.read', 'permissions.net']);
    const once = [...withGrants, { ...withGrants[0]!, id: 'once', grantsUsed: ['env:LOG_LEVEL', 'env:REGION'] }];
    expect(leastPrivilege(history('listed', once)).map((c) => c.slot)).toEqual(['permissions.read', 'permissions.net']);
  });

  it('proposes nothing for a template others extend: they inherit its grants and their runs are not counted', () => {
    const records = craftRuns({ count: 320, tools: (size) => (size % 97 === 0 ? { kv: 1 } : { log: 1 }) });
    expect(leastPrivilege({ ...history('sized', records), isExtended: true })).toEqual([]);
  });

  it('leaves single entries alone in a template with a parent, whose lists are unioned with its own', () => {
    const records = craftRuns({ count: 320, tools: () => ({ env: 1 }) }).map((record) => ({ ...record, grantsUsed: [] }));
    expect(leastPrivilege(history('child', records))).toEqual([]);
  });
});

describe('failure patterns', () => {
  it('finds the array length above which runs fail, and proposes maxItems', () => {
    const records = craftRuns({ count: 600, fails: (size) => (size > 800 ? 'E_TIMEOUT' : undefined) });
    const [found] = failurePattern(history('sized', records));
    const threshold = Math.max(...records.filter((r) => (r.inputShape?.lengths?.items ?? 0) <= 800).map((r) => r.inputShape?.lengths?.items ?? 0));
    expect(found?.patch).toEqual([{ op: 'add', path: '/input/properties/items/maxItems', value: threshold }]);
    expect(found?.evidence).toMatchObject({ property: 'items', above: { failureRate: 1 }, atOrBelow: { failureRate: 0 } });
    expect((found?.evidence.classifier as { accuracy: number }).accuracy).toBeGreaterThan(0.9);
  });

  it('finds no region when failures are scattered', () => {
    expect(reliableFailureRegion(Array.from({ length: 200 }, (_, i) => ({ length: i, failed: i % 7 === 0 })))).toBeUndefined();
  });
});

describe('pre-warming', () => {
  it('sizes prewarm from the peak arrival rate and run time', () => {
    // 4 runs a second of ~2.5 s each: about 10 at once.
    const records = craftRuns({ count: 600, spacingMs: 250, size: () => 20 }).map((r) => ({ ...r, runMs: 2500 }));
    const [found] = preWarming(history('sized', records));
    expect(found?.patch).toEqual([{ op: 'replace', path: '/pool/prewarm', value: 12 }]);
    expect(found?.evidence).toMatchObject({ peakRatePerSecond: 4, meanRunMs: 2500, concurrency: 10, currentPrewarm: 1 });
  });
});
