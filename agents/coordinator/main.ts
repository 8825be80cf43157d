// Runs the specialist agents in parallel through ctx.spawn, each with its own template's permissions (the
// coordinator itself can read nothing), merges what they found into one metrics object and has
// markdown-report render it. A child that fails is reported with its error code; the others still count.
import { defineAgent } from 'agent-factory/agent';

interface Input {
  title?: string;
  logs?: Array<{ name: string; text: string }>;
  samples?: unknown[];
  audit?: boolean | { lockfile: string; manifest?: string };
}

interface AuditResult {
  score: number;
  packages: number;
  deductions: Array<{ rule: string; count: number; points: number }>;
  installScripts: string[];
  licenses: Record<string, number>;
}

interface TriageResult {
  lines: number;
  errorLines: number;
  groups: Array<{ pattern: string; count: number; example: string }>;
}

interface Task {
  key: string;
  agent: string;
  input: unknown;
}

export default defineAgent(async function run(input: Input, ctx) {
  const tasks: Task[] = [];
  if (input.audit) tasks.push({ key: 'audit', agent: 'supply-chain-auditor', input: input.audit === true ? {} : input.audit });
  for (const log of input.logs ?? []) tasks.push({ key: `log:${log.name}`, agent: 'log-triage', input: { log: log.text, topN: 3 } });
  if (input.samples && input.samples.length > 0) tasks.push({ key: 'schema', agent: 'json-schema-infer', input: { samples: input.samples } });

  const settled = await Promise.allSettled(tasks.map((task) => ctx.spawn(task.agent, task.input)));
  const failed: Array<{ task: string; agent: string; code: string; message: string }> = [];
  const results = new Map<string, unknown>();
  settled.forEach((outcome, index) => {
    const task = tasks[index] as Task;
    if (outcome.status === 'fulfilled') results.set(task.key, outcome.value);
    else {
      const error = outcome.reason as { code?: string; message?: string };
      failed.push({ task: task.key, agent: task.agent, code: error.code ?? 'E_AGENT_THREW', message: String(error.message ?? error) });
    }
  });

  const metrics: Record<string, unknown> = { agents: tasks.length, succeeded: tasks.length - failed.length, failed: failed.length };
  const audit = results.get('audit') as AuditResult | undefined;
  if (audit) {
    metrics.supplyChain = {
      score: audit.score,
      packages: audit.packages,
      installScripts: audit.installScripts.length,
      deductions: audit.deductions.map((deduction) => ({ rule: deduction.rule, findings: deduction.count, points: deduction.points })),
    };
  }
  const logs = (input.logs ?? []).flatMap((log) => {
    const triage = results.get(`log:${log.name}`) as TriageResult | undefined;
    return triage ? [{ log: log.name, lines: triage.lines, errors: triage.errorLines, top: triage.groups[0]?.pattern ?? '—', topCount: triage.groups[0]?.count ?? 0 }] : [];
  });
  if (logs.length > 0) metrics.logs = logs;
  const schema = results.get('schema') as { schema: Record<string, unknown>; samples: number } | undefined;
  if (schema) metrics.schema = { samples: schema.samples, type: schema.schema.type ?? 'mixed', required: ((schema.schema.required as string[] | undefined) ?? []).join(', ') || '—' };
  if (failed.length > 0) metrics.failures = failed.map(({ task, code }) => ({ task, code }));

  const rendered = (await ctx.spawn('markdown-report', { title: input.title ?? 'Coordinator report', metrics })) as { markdown: string };
  return {
    children: tasks.length + 1,
    failed,
    audit: audit ? { score: audit.score, packages: audit.packages } : null,
    logs,
    schema: schema?.schema ?? null,
    report: rendered.markdown,
  };
});
