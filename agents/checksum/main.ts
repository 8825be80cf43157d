// Hashes `input.data` `config.passes` times with FNV-1a, salted by CHECKSUM_SALT: plain integer work whose
// CPU time is proportional to the input's length. It reads CHECKSUM_SALT (granted and needed), never reads
// LOG_LEVEL (granted beside it, not needed) and never fetches (net is granted but not needed), so the learner's
// least-privilege suggestions have a known answer for a whole permission and for a single entry.
import { defineAgent, type Context } from 'agent-factory/agent';

type Config = { passes?: number };

export default defineAgent(function run(input: { data: string }, ctx: Context<Config>) {
  const salt = ctx.env.get('CHECKSUM_SALT') ?? '';
  const passes = ctx.config.passes ?? 256;
  let hash = 0x811c9dc5;
  for (let i = 0; i < salt.length; i++) hash = Math.imul(hash ^ salt.charCodeAt(i), 0x01000193);
  const data = input.data;
  for (let pass = 0; pass < passes; pass++) {
    for (let i = 0; i < data.length; i++) hash = Math.imul(hash ^ data.charCodeAt(i), 0x01000193);
    hash ^= pass;
  }
  return { checksum: (hash >>> 0).toString(16).padStart(8, '0'), bytes: data.length };
});
