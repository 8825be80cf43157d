// deploy/prometheus/alerts.yml: its shape, that every metric it reads is one the exporter really exposes, and promtool when installed.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createQueueMetrics, createTelemetry, enableTelemetry, type TelemetrySdk } from '../../runtime/telemetry/index.js';

const DIR = path.resolve(import.meta.dirname, '../../deploy/prometheus');
const RULES_FILE = path.join(DIR, 'alerts.yml');
const hasPromtool = spawnSync('promtool', ['--version']).status === 0;

interface Rule {
  alert?: unknown;
  expr?: unknown;
  for?: unknown;
  labels?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}

const document = parse(readFileSync(RULES_FILE, 'utf8')) as { groups?: Array<{ name?: unknown; rules?: Rule[] }> };
const rules = (document.groups ?? []).flatMap((group) => group.rules ?? []);

/** Series names and the label names seen on each, from a real scrape after every instrument was used. */
let exposed: Map<string, Set<string>>;
let sdk: TelemetrySdk | undefined;

beforeAll(async () => {
  sdk = await enableTelemetry({ enabled: true, env: {} });
  const telemetry = createTelemetry({ poolStats: () => [{ template: 'hello', ready: 1, busy: 1 }], queueDepth: () => 0, droppedRecords: () => 0 });
  telemetry.startCreate({ template: 'hello', env: 'dev', tenant: 'default' }).end({ version: '1.0.0', coldStart: false });
  const attributes = { template: 'hello', version: '1.0.0', env: 'dev', tenant: 'default' };
  await telemetry.traceRun(attributes, async () => ({ ok: false, error: { code: 'E_TIMEOUT' }, stats: { cpuMs: 1 } }));
  telemetry.recordTrustRejection('E_SIGNATURE_INVALID', 'hello');
  const queue = createQueueMetrics({ depth: async () => ({ queued: 0, running: 0 }) });
  queue.claimed(1);
  queue.finished('fenced');
  queue.leaseLost();
  queue.reaped(1, 1);
  exposed = parseExposition(await (sdk as TelemetrySdk).scrape());
  queue.close();
  telemetry.shutdown();
});

afterAll(async () => {
  await sdk?.shutdown();
});

describe('deploy/prometheus/alerts.yml', () => {
  it('is a list of groups of alerting rules, each with alert, expr, for, a severity and a summary', () => {
    expect(Array.isArray(document.groups) && document.groups.length > 0).toBe(true);
    for (const group of document.groups ?? []) {
      expect(typeof group.name).toBe('string');
      expect(Array.isArray(group.rules) && (group.rules?.length ?? 0) > 0).toBe(true);
    }
    const names = rules.map((rule) => rule.alert);
    expect(new Set(names).size).toBe(names.length);
    for (const rule of rules) {
      const where = String(rule.alert);
      expect(rule.alert, where).toMatch(/^[A-Z][A-Za-z0-9]+$/);
      expect(typeof rule.expr === 'string' && rule.expr.trim() !== '', where).toBe(true);
      expect(rule.for, where).toMatch(/^\d+[smh]$/);
      expect(['info', 'warning', 'critical'], where).toContain(rule.labels?.severity);
      expect(typeof rule.annotations?.summary === 'string' && rule.annotations.summary !== '', where).toBe(true);
    }
  });

  it('covers the error rate per template, p95 run latency, dropped telemetry and signature failures', () => {
    const exprs = rules.map((rule) => String(rule.expr));
    expect(exprs.some((expr) => expr.includes('af_runs_total{outcome="error"}') && /by \(template\)/.test(expr))).toBe(true);
    expect(exprs.some((expr) => /histogram_quantile\(0\.95,[\s\S]*af_agent_run_duration_bucket/.test(expr))).toBe(true);
    expect(exprs.some((expr) => expr.includes('af_telemetry_dropped_total') && /> 0\b/.test(expr))).toBe(true);
    expect(exprs.some((expr) => expr.includes('af_trust_rejections_total') && expr.includes('E_SIGNATURE_'))).toBe(true);
  });

  it('covers the run queue: backlog, leases taken back, runs abandoned, slow claims', () => {
    const exprs = rules.map((rule) => String(rule.expr));
    expect(exprs.some((expr) => expr.includes('af_queue_depth{state="queued"}'))).toBe(true);
    expect(exprs.some((expr) => expr.includes('af_queue_reaped_total{kind="requeued"}'))).toBe(true);
    expect(exprs.some((expr) => expr.includes('af_queue_reaped_total{kind="abandoned"}'))).toBe(true);
    expect(exprs.some((expr) => /histogram_quantile\(0\.95,[\s\S]*af_queue_claim_duration_bucket/.test(expr))).toBe(true);
  });

  it('reads only series the exporter exposes, grouped and filtered by labels those series carry', () => {
    for (const rule of rules) {
      const expr = String(rule.expr);
      const metrics = [...expr.matchAll(/\b(af_[a-z0-9_]+)/g)].map((match) => match[1] as string);
      expect(metrics.length, String(rule.alert)).toBeGreaterThan(0);
      const labels = new Set<string>();
      for (const metric of metrics) {
        expect([...exposed.keys()], `${String(rule.alert)} reads ${metric}`).toContain(metric);
        for (const label of exposed.get(metric) ?? []) labels.add(label);
      }
      const used = [
        ...[...expr.matchAll(/by \(([^)]*)\)/g)].flatMap((match) => (match[1] ?? '').split(',').map((label) => label.trim())),
        ...[...expr.matchAll(/[{,]\s*([a-z_]+)\s*(?:=~|!=|!~|=)/g)].map((match) => match[1] as string),
      ];
      for (const label of used) expect([...labels], `${String(rule.alert)} uses label ${label}`).toContain(label);
    }
  });

  it('has unit tests whose input series are exposed names too', () => {
    const tests = parse(readFileSync(path.join(DIR, 'alerts.test.yml'), 'utf8')) as { tests: Array<{ input_series: Array<{ series: string }> }> };
    for (const { series } of tests.tests.flatMap((test) => test.input_series)) {
      expect([...exposed.keys()]).toContain(series.split('{', 1)[0]);
    }
  });

  it.runIf(hasPromtool)('passes promtool check rules and promtool test rules', () => {
    const check = spawnSync('promtool', ['check', 'rules', 'alerts.yml'], { cwd: DIR, encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).toBe(0);
    const test = spawnSync('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: DIR, encoding: 'utf8' });
    expect(test.status, test.stdout + test.stderr).toBe(0);
  });
});

function parseExposition(text: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? /.exec(line);
    if (!match?.[1]) continue;
    const labels = out.get(match[1]) ?? new Set<string>();
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) labels.add(pair[1] as string);
    out.set(match[1], labels);
  }
  return out;
}
