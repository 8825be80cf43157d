/** @module sandbox/guarded-fetch — ctx.fetch, served by the calling process (sandbox/capability-tools): grants checked on the name, then every resolved address checked against the policy, and the connection made to exactly the addresses checked, on every redirect hop. */
import { lookup as dnsLookup } from 'node:dns/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { AgentSpec } from '../core/agent-spec.js';
import { ADDRESS_CLASSES, type AddressDenial, AddressRules } from '../core/net-address.js';
import { checkNet, netTarget, ToolDenied, ToolError } from './permissions.js';

/** What the prelude sends for one `ctx.fetch`. */
export interface FetchRequest {
  url: string;
  method: string;
  headers: Array<[string, string]>;
  body: string | null;
}

/** What goes back to the isolate. */
export interface FetchResult {
  status: number;
  statusText: string;
  url: string;
  redirected: boolean;
  headers: Array<[string, string]>;
  body: string;
}

export interface GuardedFetchOptions {
  spec: AgentSpec;
  maxBytes: number;
  /** Ends the request when the run ends. */
  signal: AbortSignal;
  /** Receives the `permissions.net` entries that admitted each hop. */
  onGrants(entries: string[]): void;
}

const MAX_REDIRECTS = 10;
const FORBIDDEN_HEADERS = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive', 'upgrade', 'te', 'trailer']);
/** What Node's own fetch sends unless the caller sets them, so servers see the same requests as before. */
const DEFAULT_HEADERS: ReadonlyArray<[string, string]> = [
  ['accept', '*/*'],
  ['accept-language', '*'],
  ['sec-fetch-mode', 'cors'],
  ['user-agent', 'node'],
  ['accept-encoding', 'gzip, deflate'],
];
const NO_RULES = new AddressRules([]);
/** Compiled once per spec (a host receives each spec once), so a fetch parses no policy. */
const compiled = new WeakMap<AgentSpec, AddressRules>();

function rulesOf(spec: AgentSpec): AddressRules {
  if (!spec.netDeny || spec.netDeny.length === 0) return NO_RULES;
  let rules = compiled.get(spec);
  if (rules === undefined) {
    rules = new AddressRules(spec.netDeny);
    compiled.set(spec, rules);
  }
  return rules;
}

/**
 * fetch with the allowlist applied to the first URL and to every redirect hop, the policy's address rules applied
 * to every address each hop resolves to, and a cap on the (decoded) body.
 * @throws ToolDenied for an ungranted host or a denied address; ToolError `E_FETCH`, `E_USAGE`, `E_DISPOSED`.
 */
export async function guardedFetch(request: FetchRequest, options: GuardedFetchOptions): Promise<FetchResult> {
  const { signal, maxBytes } = options;
  const rules = rulesOf(options.spec);
  const grants = options.spec.permissions.net;
  let url: URL;
  try {
    url = new URL(String(request.url));
  } catch {
    throw new ToolError('E_USAGE', `fetch: invalid URL ${JSON.stringify(String(request.url))}`, 'TypeError');
  }
  let method = String(request.method || 'GET').toUpperCase();
  let body: string | null = typeof request.body === 'string' ? request.body : null;
  let headers: Headers;
  try {
    headers = new Headers((Array.isArray(request.headers) ? request.headers : []).map(([k, v]) => [String(k), String(v)] as [string, string]).filter(([k]) => !FORBIDDEN_HEADERS.has(k.toLowerCase())));
  } catch (error) {
    throw new ToolError('E_USAGE', `fetch: ${(error as Error).message}`, 'TypeError');
  }
  for (const [name, value] of DEFAULT_HEADERS) if (!headers.has(name)) headers.set(name, value);
  for (let hop = 0; ; hop++) {
    options.onGrants(checkNet(grants, url));
    if (url.username !== '' || url.password !== '') throw new ToolError('E_FETCH', `fetch ${url.origin} failed: a URL with credentials cannot be fetched`, 'TypeError');
    const addresses = await checkedAddresses(url, rules, signal);
    const sendBody = method === 'GET' || method === 'HEAD' ? null : body;
    let response: IncomingMessage;
    try {
      response = await send(url, method, headers, sendBody, addresses, signal);
    } catch (error) {
      if (signal.aborted) throw cancelled();
      throw new ToolError('E_FETCH', `fetch ${url.origin} failed: ${(error as Error).message}`, 'TypeError');
    }
    const status = response.statusCode ?? 0;
    const location = response.headers.location;
    if (status >= 300 && status < 400 && location !== undefined) {
      response.destroy();
      if (hop >= MAX_REDIRECTS) throw new ToolError('E_FETCH', `fetch: more than ${MAX_REDIRECTS} redirects`, 'TypeError');
      try {
        url = new URL(location, url);
      } catch {
        throw new ToolError('E_FETCH', `fetch ${url.origin}: invalid redirect location ${JSON.stringify(location)}`, 'TypeError');
      }
      if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
        method = 'GET';
        body = null;
        headers.delete('content-type');
      }
      continue;
    }
    const text = method === 'HEAD' || status === 204 || status === 304 ? (response.destroy(), '') : await readBody(response, maxBytes, url, signal);
    const received = new Headers();
    for (let i = 0; i + 1 < response.rawHeaders.length; i += 2) {
      try {
        received.append(response.rawHeaders[i]!, response.rawHeaders[i + 1]!);
      } catch {
        // A header value Headers refuses (Node's parser is laxer) is dropped, as fetch would have refused the response.
      }
    }
    const pairs: Array<[string, string]> = [];
    received.forEach((value, key) => pairs.push([key, value]));
    return { status, statusText: response.statusMessage ?? '', url: url.href, redirected: hop > 0, headers: pairs, body: text };
  }
}

/**
 * Resolves the URL's host once and checks every address it gave. One forbidden address refuses the whole
 * hop: a name that resolves to a public address and to 127.0.0.1 is a rebinding setup, not a fallback, and
 * connecting only to the "good" half would still let the resolver choose which of our checks to pass.
 * @returns the checked addresses, which are all the connection may use.
 */
async function checkedAddresses(url: URL, rules: AddressRules, signal: AbortSignal): Promise<Array<{ address: string; family: number }>> {
  const target = netTarget(url);
  let addresses: Array<{ address: string; family: number }>;
  const literal = isIP(target.host);
  if (literal !== 0) {
    addresses = [{ address: target.host, family: literal }];
  } else {
    try {
      addresses = await dnsLookup(target.host, { all: true, verbatim: true });
    } catch (error) {
      if (signal.aborted) throw cancelled();
      throw new ToolError('E_FETCH', `fetch ${url.origin} failed: ${(error as Error).message}`, 'TypeError');
    }
    if (signal.aborted) throw cancelled();
    if (addresses.length === 0) throw new ToolError('E_FETCH', `fetch ${url.origin} failed: ${target.host} has no address`, 'TypeError');
  }
  if (rules.size > 0) {
    for (const { address } of addresses) {
      const denial = rules.denial(address, target.port);
      if (denial) throw addressDenied(target.label, address, denial);
    }
  }
  return addresses;
}

function addressDenied(label: string, address: string, denial: AddressDenial): ToolDenied {
  const { rule } = denial;
  const via = denial.address === address ? address : `${address} (${denial.address})`;
  const what = rule.label in ADDRESS_CLASSES ? `a ${rule.label} address` : `in ${rule.label}`;
  const target = `${label} -> ${via}`;
  return new ToolDenied('net', target, `${denial.address} is ${what}, which policy rule "${rule.rule}" forbids in this environment; a grant in agent.json cannot lift it`);
}

/** One request, connected to the checked addresses only: the lookup hands them back instead of asking DNS again. */
function send(url: URL, method: string, headers: Headers, body: string | null, addresses: Array<{ address: string; family: number }>, signal: AbortSignal): Promise<IncomingMessage> {
  const lookup: LookupFunction = (_hostname, lookupOptions, callback) => {
    const first = addresses[0]!;
    if ((lookupOptions as { all?: boolean }).all) (callback as unknown as (error: null, all: typeof addresses) => void)(null, addresses);
    else callback(null, first.address, first.family);
  };
  const outgoing: Record<string, string> = {};
  headers.forEach((value, key) => (outgoing[key] = value));
  const payload = body === null ? undefined : Buffer.from(body, 'utf8');
  if (payload !== undefined) {
    outgoing['content-length'] = String(payload.length);
    outgoing['content-type'] ??= 'text/plain;charset=UTF-8';
  }
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request({
      protocol: url.protocol,
      hostname: netTarget(url).host,
      port: netTarget(url).port,
      path: `${url.pathname}${url.search}`,
      method,
      headers: outgoing,
      lookup,
      // No pooled connection: one made for another name, run or policy must never carry this request.
      agent: false,
    });
    // Not the `signal` option: Node 20 leaves its listener on the signal after the request, and a run's signal
    // outlives thousands of fetches. Aborting destroys the socket, which also ends a body being read.
    const abort = () => req.destroy(new Error('the run ended'));
    if (signal.aborted) abort();
    else signal.addEventListener('abort', abort, { once: true });
    req.once('close', () => signal.removeEventListener('abort', abort));
    req.once('response', resolve);
    req.once('error', reject);
    req.end(payload);
  });
}

/** The body, decoded as fetch would (gzip, deflate, br), capped at `maxBytes` decoded bytes. */
async function readBody(response: IncomingMessage, maxBytes: number, url: URL, signal: AbortSignal): Promise<string> {
  let stream: Readable = response;
  const codings = String(response.headers['content-encoding'] ?? '').toLowerCase().split(',').map((coding) => coding.trim()).filter((coding) => coding !== '' && coding !== 'identity');
  for (const coding of codings.reverse()) {
    const decoder = coding === 'gzip' || coding === 'x-gzip' ? createGunzip() : coding === 'deflate' ? createInflate() : coding === 'br' ? createBrotliDecompress() : undefined;
    if (decoder === undefined) break;
    stream.once('error', (error) => decoder.destroy(error));
    stream = stream.pipe(decoder);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > maxBytes) {
        response.destroy();
        throw new ToolError('E_FETCH', `fetch ${url.origin}: response body over ${maxBytes} bytes`, 'RangeError');
      }
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof ToolError) throw error;
    if (signal.aborted) throw cancelled();
    throw new ToolError('E_FETCH', `fetch ${url.origin} failed while reading the body: ${(error as Error).message}`, 'TypeError');
  } finally {
    response.destroy();
  }
  return Buffer.concat(chunks).toString('utf8');
}

function cancelled(): ToolError {
  return new ToolError('E_DISPOSED', 'fetch cancelled: the run ended', 'AbortError');
}
