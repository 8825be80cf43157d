// The price of deciding ctx.fetch on the address actually connected to: the address check on its own, and one
// whole host-side fetch to a local server with and without the policy's address rules, beside Node's global fetch
// (what the host used before it made its own connections). No isolate: this is the host's share of a fetch.
import http from 'node:http';
import { Agent as HttpAgent } from 'node:http';
import { AddressRules } from '../dist/core/net-address.js';
import { guardedFetch } from '../dist/sandbox/guarded-fetch.js';
import { addressRulesOf, DEFAULT_POLICY } from '../dist/templates/index.js';
import { metric, runStandalone, sample, summarise } from './lib/measure.mjs';

const BATCH = 1000;

export default async function bench({ quick = false } = {}) {
  const samples = quick ? 200 : 2000;
  const prodRules = addressRulesOf(DEFAULT_POLICY, 'prod');
  const rules = new AddressRules(prodRules);
  const metrics = [];

  // The check alone, per address, over the default policy's rules (every rule tried: the address passes).
  for (const [label, address] of [['public IPv4', '93.184.216.34'], ['public IPv6', '2606:4700::1111'], ['IPv4-mapped IPv6', '::ffff:93.184.216.34']]) {
    const stats = await sample(() => {
      for (let i = 0; i < BATCH; i++) if (rules.denial(address, 443) !== undefined) throw new Error('denied');
    }, { warmup: 50, samples: Math.ceil(samples / 4) });
    metrics.push(metric(`address check, ${label}, ${prodRules.length} rules`, 'µs', scale(stats, 1 / BATCH)));
  }

  const server = http.createServer((_req, res) => res.end('ok'));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  // The local server is on loopback, which the default rules deny: the same rules minus loopback, so every other
  // range is still checked on each fetch.
  const reachable = prodRules.filter((rule) => rule.label !== 'loopback' && rule.cidr !== '127.0.0.1/32' && rule.cidr !== '::1/128');
  const base = { name: 'bench', permissions: { net: ['127.0.0.1', 'localhost'] } };
  const devSpec = { ...base };
  const prodSpec = { ...base, netDeny: reachable };
  const signal = new AbortController().signal;
  const request = (url) => ({ url, method: 'GET', headers: [], body: null });
  const options = (spec) => ({ spec, maxBytes: 1 << 20, signal, onGrants() {} });
  try {
    for (const [label, url] of [['IP literal', `http://127.0.0.1:${port}/`], ['name (localhost, resolved by the host)', `http://localhost:${port}/`]]) {
      // Interleaved, one of each per round, so the load of a shared machine falls on every row alike.
      const rows = [
        [`guarded fetch, ${label}, no address rules (dev)`, () => guardedFetch(request(url), options(devSpec)).then((r) => r.body)],
        [`guarded fetch, ${label}, ${reachable.length} address rules (prod)`, () => guardedFetch(request(url), options(prodSpec)).then((r) => r.body)],
        // Before: Node's fetch, redirect 'manual', as the old fetchTool called it (pooled connections).
        [`Node global fetch (before), ${label}, pooled connections`, () => fetch(url, { redirect: 'manual' }).then((r) => r.text())],
        // The floor: node:http with a fresh connection and no checks, as guarded fetch connects.
        [`node:http, ${label}, fresh connection, no checks`, () => new Promise((resolve, reject) => {
          http.get(url, { agent: new HttpAgent({ keepAlive: false }) }, (res) => {
            let body = '';
            res.on('data', (chunk) => (body += chunk));
            res.on('end', () => resolve(body));
          }).on('error', reject);
        })],
      ];
      const times = rows.map(() => []);
      for (let round = 0; round < samples + 50; round++) {
        for (const [index, [, run]] of rows.entries()) {
          const start = process.hrtime.bigint();
          if ((await run()) !== 'ok') throw new Error('unexpected body');
          if (round >= 50) times[index].push(Number(process.hrtime.bigint() - start) / 1000);
        }
      }
      for (const [index, [name]] of rows.entries()) metrics.push(metric(name, 'µs', summarise(times[index])));
    }
  } finally {
    server.closeAllConnections();
    server.close();
  }
  return {
    name: 'net-address',
    title: 'Network: the address check on every fetch (host side, no isolate)',
    metrics,
    notes: [
      `Address check: ${BATCH} checks per sample, reported per check; the addresses pass, so every rule is tried (the worst case).`,
      'Guarded fetch: one GET to a server on 127.0.0.1 as the sandbox host makes it (resolve, check each address, connect to the checked address with a fresh connection, read the body). "prod" uses the default rules without the loopback ones, so the local server is reachable and every other rule is checked.',
      'The difference between the "no address rules" and "prod" rows is the price of the check per fetch; the name rows add the host\'s own DNS lookup, which the connection then reuses instead of looking up again.',
    ],
  };
}

function scale(stats, factor) {
  const out = { ...stats };
  for (const key of ['p50', 'p95', 'p99', 'mean', 'min', 'max']) out[key] = stats[key] * factor;
  return out;
}

await runStandalone(import.meta.url, bench);
