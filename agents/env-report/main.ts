// Reads each named variable through ctx.env.get; a name outside permissions.env is reported as denied, not read.
import { defineAgent } from 'agent-factory/agent';

export default defineAgent(function run(input: { names?: string[] }, ctx) {
  const report: Record<string, string | null> = {};
  const denied: string[] = [];
  for (const name of input.names ?? ['LOG_LEVEL', 'AF_REGION']) {
    try {
      report[name] = ctx.env.get(name) ?? null;
    } catch (error) {
      if ((error as { code?: string }).code !== 'E_PERMISSION_DENIED') throw error;
      denied.push(name);
    }
  }
  return { values: report, denied };
});
