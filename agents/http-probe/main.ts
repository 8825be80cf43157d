// Probes a URL: status, content type, body size and how long it took. Only hosts in permissions.net are reachable.
import { defineAgent } from 'agent-factory/agent';

export default defineAgent(async function run(input: { url: string; method?: string }, ctx) {
  const started = Date.now();
  const response = await ctx.fetch(input.url, { method: input.method ?? 'GET' });
  const body = await response.text();
  return {
    url: response.url,
    status: response.status,
    ok: response.ok,
    redirected: response.redirected,
    contentType: response.headers.get('content-type'),
    bytes: new TextEncoder().encode(body).length,
    ms: Date.now() - started,
  };
});
