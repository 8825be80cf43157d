// Finding 11: the prelude parsed URLs itself and disagreed with the host (`http://0x7f.1/` was `0x7f.1` to the agent,
// `127.0.0.1` to the host's permission check). Now the isolate's URL asks the host's parser. Each table below is run
// by the same probe function twice: in a real isolate of a real sandbox host process, and here on Node; every
// component, every serialisation and every error must be equal.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { URL_MAX_CHARS, urlOp } from '../../sandbox/url-op.js';
import { makeHarness, makeSpec, type Harness } from '../sandbox/helpers.js';

// ---- probes: plain JavaScript, evaluated in the isolate (as an agent) and on the host (with Node's globals) ----

const URL_PROBE = `function probe(cases) {
  const view = (u) => ({
    href: u.href, origin: u.origin, protocol: u.protocol, username: u.username, password: u.password, host: u.host,
    hostname: u.hostname, port: u.port, pathname: u.pathname, search: u.search, hash: u.hash,
    params: [...u.searchParams], string: String(u), json: JSON.stringify(u),
  });
  return cases.map(([input, base]) => {
    // Guarded so that a missing static shows as a difference in its field, not as a probe that threw.
    const canParse = typeof URL.canParse !== 'function' ? 'missing' : base === null ? URL.canParse(input) : URL.canParse(input, base);
    const parsed = typeof URL.parse !== 'function' ? 'missing' : base === null ? URL.parse(input) : URL.parse(input, base);
    try {
      const u = base === null ? new URL(input) : new URL(input, base);
      return { canParse, parsed: parsed === null || parsed === 'missing' ? parsed : parsed.href, ...view(u) };
    } catch (e) {
      return { canParse, parsed, error: e.name, code: e.code, message: e.message, input: e.input, base: e.base };
    }
  });
}`;

const SETTER_PROBE = `function probe(cases) {
  return cases.map(([href, name, value]) => {
    const u = new URL(href);
    const params = u.searchParams;
    let error = null;
    try { u[name] = value; } catch (e) { error = e.name + ':' + e.code; }
    return { error, href: u.href, origin: u.origin, protocol: u.protocol, username: u.username, password: u.password,
      host: u.host, hostname: u.hostname, port: u.port, pathname: u.pathname, search: u.search, hash: u.hash,
      params: [...params], same: params === u.searchParams };
  });
}`;

const PARAMS_PROBE = `function probe(cases) {
  const show = (p) => ({ string: p.toString(), entries: [...p], keys: [...p.keys()], values: [...p.values()], size: p.size });
  return cases.map(([init, ops, href]) => {
    const out = [];
    try {
      const url = href === null ? null : new URL(href);
      const p = url === null ? new URLSearchParams(init) : url.searchParams;
      out.push(show(p));
      for (const [op, ...args] of ops) {
        const result = p[op](...args);
        out.push({ op, result: result === undefined ? 'undefined' : result, ...show(p), href: url === null ? null : url.href });
      }
    } catch (e) {
      out.push({ error: e.name, code: e.code });
    }
    return out;
  });
}`;

const DECODER_PROBE = `function probe(cases) {
  return cases.map(([chunks, options]) => {
    const d = new TextDecoder('utf-8', options);
    let text = '';
    try {
      for (let i = 0; i < chunks.length; i++) text += d.decode(new Uint8Array(chunks[i]), { stream: i < chunks.length - 1 });
      text += '|' + d.decode(new Uint8Array([0x41]));
      return { text, codes: Array.from(text, (c) => c.codePointAt(0)), fatal: d.fatal, ignoreBOM: d.ignoreBOM, encoding: d.encoding };
    } catch (e) {
      let after;
      try { after = d.decode(new Uint8Array([0x42])); } catch (x) { after = 'threw again'; }
      return { error: e.name, code: e.code, message: e.message, partial: text, after };
    }
  });
}`;

const ENCODER_PROBE = `function probe(cases) {
  const e = new TextEncoder();
  return cases.map(([text, room]) => {
    const dest = new Uint8Array(room);
    const into = typeof e.encodeInto === 'function' ? e.encodeInto(text, dest) : { read: 'missing', written: 'missing' };
    return { bytes: Array.from(e.encode(text)), read: into.read, written: into.written, dest: Array.from(dest), decoded: new TextDecoder().decode(e.encode(text)) };
  });
}`;

function onHost(probe: string, cases: unknown[]): unknown[] {
  return (new Function(`return ${probe}`)() as (cases: unknown[]) => unknown[])(cases);
}

// ---- tables ----

const URL_CASES: Array<[string, string | null]> = [
  // Hosts: IDN, punycode, IPv4 in every notation the WHATWG parser accepts, IPv6.
  ['http://ÉXAMPLE.com/', null],
  ['http://exämple.com/', null],
  ['http://xn--exmple-cua.com/', null],
  ['http://xn--a.com/', null],
  ['http://faß.de/', null],
  ['http://example.com./', null],
  ['http://ex%41mple.com/', null],
  ['http://ex%00ample.com/', null],
  ['http://0x7f.1/', null],
  ['http://127.1/', null],
  ['http://127.0.1/', null],
  ['http://2130706433/', null],
  ['http://0177.0.0.1/', null],
  ['http://0x7f000001/', null],
  ['http://1.2.3.4.5/', null],
  ['http://1.2.3.08/', null],
  ['http://256.0.0.1/', null],
  ['http://4294967296/', null],
  ['http://[::ffff:127.0.0.1]/', null],
  ['http://127。0。0。1/', null],
  ['http://１２７.０.０.１/', null],
  ['http://127.0.0.1./', null],
  ['http://0x7f.0x0.0x0.0x1/', null],
  ['http://0X7F.1/', null],
  ['http://[::127.0.0.1]/', null],
  ['http://loCALhost/', null],
  ['http://ｌｏｃａｌｈｏｓｔ/', null],
  ['http://local\u00adhost/', null],
  ['http://a\u200bb.com/', null],
  ['http://[::1]:8080/', null],
  ['http://[0:0:0:0:0:0:0:1]/', null],
  ['http://[::1%25eth0]/', null],
  ['http://[fe80::1%eth0]/', null],
  ['http://[::1/', null],
  ['http://::1/', null],
  // Stripping and tabs: leading/trailing C0 and spaces go, tabs and newlines inside vanish.
  ['  http://example.com/  ', null],
  ['\u0000\u001fhttp://example.com/\u0001', null],
  ['ht\ttp://exa\nmple.com/pa\rth', null],
  ['http://127.0.0.1\t/', null],
  ['http://exa mple.com/', null],
  ['http://example.com/a b?c d#e f', null],
  // Backslashes, userinfo, ports.
  ['http:\\\\example.com\\a\\b', null],
  ['http://a@b@c/', null],
  ['http://user:pa:ss@host/', null],
  ['http://us%65r:p%40ss@host/', null],
  ['http://üser:päss@host/', null],
  ['http://example.com:80/', null],
  ['https://example.com:443/', null],
  ['https://example.com:80/', null],
  ['ws://example.com:80/', null],
  ['http://example.com:65535/', null],
  ['http://example.com:65536/', null],
  ['http://example.com:-1/', null],
  ['http://example.com:0080/', null],
  ['http://example.com:/', null],
  ['http://example.com:8a/', null],
  // Percent-encoding in path, query, fragment; dot segments, encoded or not.
  ['http://example.com/%7e/é/%zz/<>"`{}', null],
  ['http://example.com/?q=é&x=<>"\'`{}%zz', null],
  ['http://example.com/#é <>"`{}%zz', null],
  ['http://example.com/a/b/../../../c', null],
  ['http://example.com/a/%2e%2e/b', null],
  ['http://example.com/a/%2E/b/.%2e/c', null],
  ['http://example.com/a/./b/.', null],
  ['http://example.com/..%2fetc', null],
  ['http://example.com?', null],
  ['http://example.com#', null],
  ['http://example.com/?#', null],
  ['http://example.com/\ud800', null],
  ['http://example.com/?a=\udc00&b=\ud83d\ude00', null],
  // Schemes: file, blob, javascript, data, non-special, uppercase, missing slashes.
  ['file:///etc/passwd', null],
  ['file://host/share/file', null],
  ['file:c:\\windows\\system32', null],
  ['file://localhost/etc', null],
  ['blob:https://example.com/uuid', null],
  ['blob:null/uuid', null],
  ['javascript:alert(1)', null],
  ['data:text/plain,hello world', null],
  ['HTTP://EXAMPLE.COM/PATH', null],
  ['HtTpS://Example.Com', null],
  ['http:example.com', null],
  ['http:/example.com', null],
  ['http:///example.com', null],
  ['sc://host:99999/', null],
  ['sc://ho st/', null],
  ['sc://x/a/../b', null],
  ['sc:opaque path  ', null],
  ['sc:/.//p', null],
  ['mailto:a@b.c', null],
  ['urn:isbn:0451450523', null],
  ['git+ssh://git@github.com/x/y.git', null],
  ['ftp://user@host:21/f', null],
  // Relative references against a base.
  ['//evil.com/x', 'https://example.com/a/b'],
  ['/abs', 'https://example.com/a/b?q#h'],
  ['rel', 'https://example.com/a/b?q#h'],
  ['../../../up', 'https://example.com/a/b/c'],
  ['?only=query', 'https://example.com/a/b?q#h'],
  ['#only-hash', 'https://example.com/a/b?q#h'],
  ['', 'https://example.com/a/b?q#h'],
  ['\\\\evil.com/x', 'https://example.com/'],
  ['http:rel', 'http://example.com/dir/'],
  ['https:rel', 'http://example.com/dir/'],
  ['x', 'sc:opaque'],
  ['x', 'not a url'],
  ['x', ''],
  ['http://0x7f.1/', 'https://example.com/'],
  // Invalid on their own.
  ['', null],
  ['example.com', null],
  ['/path', null],
  ['http://', null],
  ['http://exa[mple.com/', null],
  ['http://a<b/', null],
  ['http://%zz/', null],
  ['http://xn--/', null],
  ['https://:443', null],
];

const SETTER_CASES: Array<[string, string, string]> = [
  ['http://example.com/', 'hostname', '0x7f.1'],
  ['http://example.com/', 'host', '2130706433:8080'],
  ['http://example.com/', 'host', 'evil.com:99999'],
  ['http://example.com/', 'host', 'a@b'],
  ['http://example.com/', 'hostname', 'ÉXAMPLE.org'],
  ['http://example.com/', 'hostname', 'a/b'],
  ['http://example.com/', 'port', '65536'],
  ['http://example.com/', 'port', '8080abc'],
  ['http://example.com/', 'port', '80'],
  ['http://example.com:81/', 'port', ''],
  ['http://example.com/', 'protocol', 'https'],
  ['http://example.com/', 'protocol', 'file'],
  ['http://example.com/', 'protocol', 'sc'],
  ['sc://example.com/', 'protocol', 'http'],
  ['http://example.com/', 'username', 'ü s@r'],
  ['http://example.com/', 'password', 'p:@/ss'],
  ['file:///x', 'username', 'u'],
  ['http://example.com/', 'pathname', '/a/../%2e%2e/b c'],
  ['http://example.com/', 'pathname', 'no-slash'],
  ['sc:opaque', 'pathname', '/x'],
  ['http://example.com/?a=1', 'search', 'b=2 3&c=%zz#x'],
  ['http://example.com/?a=1', 'search', ''],
  ['http://example.com/?a=1', 'search', '?'],
  ['http://example.com/', 'search', '\ud800=1'],
  ['http://example.com/', 'hash', '#a b<>'],
  ['http://example.com/#x', 'hash', ''],
  ['http://example.com/', 'href', 'https://0x7f.1:8443/p?q=1'],
  ['http://example.com/', 'href', 'not a url'],
  ['http://example.com/', 'href', '/relative'],
];

type ParamsCase = [unknown, unknown[][], string | null];
const PARAMS_CASES: ParamsCase[] = [
  ['a=1&b=2&a=3', [['get', 'a'], ['getAll', 'a'], ['has', 'b'], ['has', 'a', '3'], ['has', 'a', '4']], null],
  ['?a=b+c&d=%20e&f=%2B&g=+%2b+', [], null],
  ['a=%zz&b=%&c=%4&d=%41%42&e=%e9&f=%C3%A9&g=%C3&h=%ED%A0%80&i=%F0%9F%98%80', [], null],
  ['&&a&=b&c=&=&==x&a==b', [], null],
  ['é=ü&\ud800=\udc00&x=\ud83d\ude00', [], null],
  ['??a=1', [], null],
  // Node's own decoding (querystring.unescape) where WHATWG would differ: the isolate must see what Node sees.
  ['a=😀%zz%41&b=é%C3&c=%4+1é&d=%41é%&e=\u0100%41%zz', [], null],
  ['%4+1=%41+%zz&%%41=é%E9', [], null],
  ['a=1#not-a-hash', [], null],
  [{ b: '2', a: '1', 'é': 'x y', '\ud800': '1', '\ufffd': '2' }, [], null],
  [[['a', '1'], ['b', '2'], ['a', '3']], [['delete', 'a'], ['append', 'c', '4 5']], null],
  [[['x', '1'], ['y']], [], null],
  [[['x', '1', '2']], [], null],
  [['ab'], [], null],
  [12345, [], null],
  [null, [['append', 'k', 'v']], null],
  ['z=1&a=2&m=3&a=1&é=4&Z=5&a=0&~=6', [['sort']], null],
  ['b=1&a=2', [['set', 'b', '9'], ['set', 'new', '1'], ['delete', 'a', 'nope'], ['delete', 'a', '2']], null],
  ['a=1&a=2&b=3&a=4', [['set', 'a', 'x']], null],
  ['', [['append', ' +&=#%', '\ud800?/ \u00ff\u0100*-._~!\'()']], null],
  // Linked to a URL: every change rewrites its query, the way Node does.
  [null, [['append', 'q', 'a b&c'], ['append', 'é', '\udc00'], ['sort'], ['delete', 'q']], 'https://example.com/p?z=1#frag'],
  [null, [['delete', 'x']], 'https://example.com/?x=1#f'],
  [null, [['sort']], 'https://example.com/?'],
  [null, [['delete', 'x']], 'sc:opaque  ?x=1'],
  [null, [['delete', 'x']], 'sc:opaque  ?x=1#h'],
  [null, [['set', 'a', '%41 +']], 'http://example.com/?a=%41&a=%42'],
];

const DECODER_CASES: Array<[number[][], Record<string, boolean> | undefined]> = [
  [[[0x68, 0x69]], undefined],
  [[[0xef, 0xbb, 0xbf, 0x41]], undefined],
  [[[0xef, 0xbb, 0xbf, 0x41]], { ignoreBOM: true }],
  [[[0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf]], undefined],
  [[[0xef, 0xbb], [0xbf, 0x41]], undefined],
  [[[0xff]], undefined],
  [[[0xc0, 0x80]], undefined],
  [[[0xc1, 0xbf]], undefined],
  [[[0xe0, 0x80, 0x80]], undefined],
  [[[0xe0, 0x9f, 0xbf]], undefined],
  [[[0xed, 0xa0, 0x80]], undefined],
  [[[0xed, 0xbf, 0xbf]], undefined],
  [[[0xf0, 0x80, 0x80, 0x80]], undefined],
  [[[0xf0, 0x8f, 0xbf, 0xbf]], undefined],
  [[[0xf4, 0x90, 0x80, 0x80]], undefined],
  [[[0xf5, 0x80, 0x80, 0x80]], undefined],
  [[[0xf8, 0x88, 0x80, 0x80, 0x80]], undefined],
  [[[0xe2, 0x82]], undefined],
  [[[0xe2, 0x82, 0x41]], undefined],
  [[[0xf0, 0x9f, 0x98]], undefined],
  [[[0xf0, 0x9f, 0x98, 0x41, 0x80, 0xbf]], undefined],
  [[[0x80, 0x80, 0xc2]], undefined],
  [[[0xe2], [0x82], [0xac]], undefined],
  [[[0xf0, 0x9f], [0x98, 0x80]], undefined],
  [[[0xe2, 0x82], []], undefined],
  [[[0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80]], undefined],
  [[[0xff]], { fatal: true }],
  [[[0xe0, 0x80, 0x80]], { fatal: true }],
  [[[0xed, 0xa0, 0x80]], { fatal: true }],
  [[[0xe2, 0x82]], { fatal: true }],
  [[[0xe2, 0x82], [0x41]], { fatal: true }],
  [[[0xe2, 0x82], [0xac]], { fatal: true }],
  [[[0xef, 0xbb, 0xbf, 0x41]], { fatal: true, ignoreBOM: true }],
];

const ENCODER_CASES: Array<[string, number]> = [
  ['hello', 10],
  ['é€😀', 16],
  ['é€😀', 5],
  ['😀😀', 6],
  ['\ud800', 4],
  ['a\udc00b', 8],
  ['\ud800\ud800\udc00', 8],
  ['\udbff', 2],
  ['', 1],
  ['\u0000\u007f\u0080\u07ff\u0800\uffff', 20],
];

/** Deterministic pseudo-random cases from characters where URL and form parsers are known to differ. */
function generated(seed: number, count: number, alphabet: string[], prefix: () => string): string[] {
  let state = seed;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state;
  };
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let s = prefix();
    const len = next() % 14;
    for (let j = 0; j < len; j++) s += alphabet[next() % alphabet.length];
    out.push(s);
  }
  return out;
}
const URL_ALPHABET = ['%', '%2e', '%2E%2e', '%41', '%zz', '%c3%a9', '+', '&', '=', '?', '#', '/', '\\', '..', '.', '@', ':', '[', ']', '::1', '0x', '7f', '1', '255', '.1', '\t', '\n', ' ', 'é', 'ß', 'Ａ', '\ud800', 'xn--', 'a', 'B', '<', '^', '|'];
const FORM_ALPHABET = ['%', '%2', '%20', '%2B', '%zz', '%C3', '%A9', '%c3%a9', '%ED%A0%80', '%F0%9F', '%98%80', '+', '&', '=', '?', '#', ' ', 'é', '\ud800', '\udc00', '😀', 'a', 'Z', '~', '*'];
const PREFIXES = ['http://', 'https://', 'http://a/', 'sc://', 'file://', 'http:', 'blob:http://', ''];

// Process isolation is what runs by default and what security tests must cover; inline shares the engine and is run too.
describe.each(['process', 'inline'] as const)('URL, URLSearchParams, TextDecoder and TextEncoder in the isolate agree with Node on the host (%s)', (isolation) => {
  let h: Harness;
  let server: http.Server;
  let port: number;
  const seen: string[] = [];

  beforeAll(async () => {
    h = makeHarness({ isolation, hosts: 1 });
    server = http.createServer((req, res) => {
      seen.push(`${req.headers.host} ${req.url}`);
      res.end('reached');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await h.sandbox.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function inIsolate(probe: string, cases: unknown[]): Promise<unknown[]> {
    const spec = makeSpec({ name: 'probe', source: `export default (cases) => (${probe})(cases);`, limits: { timeoutMs: 20_000, cpuMs: 20_000, outputKb: 16_384 } });
    const result = await h.run(spec, cases);
    if (!result.ok) throw new Error(`probe failed: ${result.error.code} ${result.error.message}`);
    return result.output as unknown[];
  }

  async function expectSame(probe: string, cases: unknown[]): Promise<void> {
    const inside = await inIsolate(probe, cases);
    const outside = onHost(probe, cases);
    // Per case, so a failure names its input.
    for (let i = 0; i < cases.length; i++) expect({ case: cases[i], got: inside[i] }).toEqual({ case: cases[i], got: outside[i] });
  }

  it('every URL component (and canParse, parse, errors) equals Node new URL on the shared table', async () => {
    await expectSame(URL_PROBE, URL_CASES);
  });

  it('generated URLs from the characters parsers disagree on match Node too', async () => {
    const cases = generated(11, 400, URL_ALPHABET, (() => {
      let i = 0;
      return () => PREFIXES[i++ % PREFIXES.length]!;
    })()).map((input, i) => [input, i % 5 === 0 ? 'http://base.example/dir/file?q#h' : null]);
    await expectSame(URL_PROBE, cases);
  });

  it('setters change exactly what Node setters change, and searchParams follows', async () => {
    await expectSame(SETTER_PROBE, SETTER_CASES);
  });

  it('URLSearchParams parses, serialises and mutates as Node does, alone and linked to a URL', async () => {
    await expectSame(PARAMS_PROBE, PARAMS_CASES);
  });

  it('generated form strings parse and serialise as Node does', async () => {
    const strings = generated(7, 300, FORM_ALPHABET, () => '');
    await expectSame(PARAMS_PROBE, strings.map((s) => [s, [['sort'], ['append', s, s]], null]));
    await expectSame(PARAMS_PROBE, strings.slice(0, 100).map((s) => [null, [['append', s, s], ['set', 'k', s]], `http://a/?${s}`]));
  });

  it('TextDecoder decodes invalid UTF-8 as Node does: replacement, fatal, stream and BOM', async () => {
    await expectSame(DECODER_PROBE, DECODER_CASES);
    // Every one- and two-byte sequence, and three-byte ones around the boundaries.
    const all: number[][] = [];
    for (let a = 0; a < 256; a++) all.push([a]);
    for (const a of [0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4]) for (let b = 0x70; b < 0xd0; b++) all.push([a, b], [a, b, 0x80]);
    await expectSame(DECODER_PROBE, all.map((bytes) => [[bytes], undefined]));
    await expectSame(DECODER_PROBE, all.map((bytes) => [[bytes], { fatal: true }]));
  });

  it('TextEncoder encodes lone surrogates as U+FFFD and encodeInto never splits a character, as Node', async () => {
    await expectSame(ENCODER_PROBE, ENCODER_CASES);
  });

  it('a URL the agent built is fetched at the host and port the agent saw', async () => {
    const spec = makeSpec({
      name: 'builds-and-fetches',
      permissions: { net: [`127.0.0.1:${port}`] },
      source: `export default async (input, ctx) => {
        const out = [];
        for (const text of input.urls) {
          const u = new URL(text);
          const row = { host: u.hostname, port: u.port };
          try { row.body = await (await ctx.fetch(u)).text(); } catch (e) { row.error = e.code; row.message = e.message; }
          out.push(row);
        }
        return out;
      }`,
    });
    const urls = [`http://0x7f.1:${port}/a`, `http://127.1:${port}/b`, `http://2130706433:${port}/c`, `http://１２７。0.0.1:${port}/d`, `http://[::ffff:127.0.0.1]:${port}/e`, `http://127.0.0.1:${port + 1}/f`];
    const result = await h.run(spec, { urls });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const rows = result.output as Array<{ host: string; port: string; body?: string; error?: string; message?: string }>;
    for (const [i, text] of urls.entries()) {
      const host = new URL(text);
      // What the agent saw is what the host parsed…
      expect(rows[i]).toMatchObject({ host: host.hostname, port: host.port });
    }
    // …and what the host allowed (127.0.0.1 on the granted port) is what the agent's URL said.
    expect(rows.slice(0, 4).map((r) => r.body)).toEqual(['reached', 'reached', 'reached', 'reached']);
    expect(rows[0]!.host).toBe('127.0.0.1');
    // [::ffff:127.0.0.1] is an IPv6 host to both sides: not the granted 127.0.0.1, and the denial names it as the agent saw it.
    expect(rows[4]).toMatchObject({ host: '[::ffff:7f00:1]', error: 'E_PERMISSION_DENIED' });
    expect(rows[4]!.message).toContain(`[::ffff:7f00:1]:${port}`);
    expect(rows[5]).toMatchObject({ error: 'E_PERMISSION_DENIED' });
    expect(rows[5]!.message).toContain(`127.0.0.1:${port + 1}`);
    expect(seen.splice(0)).toEqual([`127.0.0.1:${port} /a`, `127.0.0.1:${port} /b`, `127.0.0.1:${port} /c`, `127.0.0.1:${port} /d`]);
  });

  it('URL works in module top-level code, before any run (the host call needs no run)', async () => {
    const spec = makeSpec({
      name: 'top-level-url',
      source: `const BASE = new URL('http://0x7f.1/v1/'); const ok = URL.canParse('x', BASE);
        export default () => ({ href: new URL('items?a=1', BASE).href, host: BASE.host, ok });`,
    });
    expect(await h.run(spec)).toMatchObject({ ok: true, output: { href: 'http://127.0.0.1/v1/items?a=1', host: '127.0.0.1', ok: true } });
  });

  it('patched builtins in agent code do not change what URL reports', async () => {
    const spec = makeSpec({
      name: 'patches-builtins',
      source: `export default () => {
        JSON.parse = () => ({ 6: 'evil.example' });
        String.prototype.slice = function () { return 'O'; };
        Array.prototype[Symbol.iterator] = function* () { yield ['x', 'y']; };
        const u = new URL('http://0x7f.1:8080/?a=1');
        return { hostname: u.hostname, port: u.port, own: Object.getOwnPropertyNames(u), get: u.searchParams.get('a') };
      }`,
    });
    expect(await h.run(spec)).toMatchObject({ ok: true, output: { hostname: '127.0.0.1', port: '8080', own: [], get: '1' } });
  });

  it('host time spent parsing URLs is charged to the run: past limits.cpuMs every URL call fails', async () => {
    const spec = makeSpec({
      name: 'burns-host-cpu',
      limits: { cpuMs: 100, timeoutMs: 20_000 },
      source: `export default (input) => {
        // A long IDN host is the costliest thing to parse; the isolate spends almost nothing per call.
        const text = 'http://' + 'é'.repeat(input.chars) + '/';
        let parsed = 0;
        while (parsed < 5000) {
          try { new URL(text); parsed++; } catch (e) { return { parsed, name: e.name, code: e.code, message: e.message, after: URL.canParse('http://a/') }; }
        }
        return { parsed, name: 'none' };
      }`,
    });
    const started = Date.now();
    const result = await h.run(spec, { chars: 8_000 });
    const wallMs = Date.now() - started;
    expect(result).toMatchObject({ ok: true, output: { name: 'TypeError', code: 'ERR_INVALID_URL', after: false } });
    if (!result.ok) return;
    expect((result.output as { message: string }).message).toContain('limits.cpuMs');
    expect((result.output as { parsed: number }).parsed).toBeGreaterThan(0);
    // Bounded by the 100 ms budget (plus one call), far from the 20 s the run was allowed.
    expect(wallMs).toBeLessThan(5_000);
  });

  it('the web globals, built on first use, are intact after agent code polluted Object.prototype or froze globalThis', async () => {
    const spec = makeSpec({
      name: 'pollutes-then-uses',
      source: `export default (input) => {
        const before = typeof Object.getOwnPropertyDescriptor(globalThis, 'URL').get;
        for (const key of ['get', 'set', 'value', 'writable', 'enumerable', 'configurable']) {
          Object.defineProperty(Object.prototype, key, { __proto__: null, get() { throw new Error('descriptor read ' + key); }, configurable: true });
        }
        if (input.freeze) Object.freeze(globalThis);
        const u = new URL('http://0x7f.1/?a=%zz+1');
        const p = u.searchParams;
        p.append('b', 'é');
        const text = new TextDecoder('utf-8', { fatal: false }).decode(new TextEncoder().encode('\ud800x'));
        const out = { before, href: u.href, keys: Object.keys(URL.prototype), paramsKeys: Object.getOwnPropertyNames(URLSearchParams.prototype), iter: Object.prototype.toString.call(p.keys()), text, again: URL === globalThis.URL };
        for (const key of ['get', 'set', 'value', 'writable', 'enumerable', 'configurable']) delete Object.prototype[key];
        return out;
      }`,
    });
    for (const freeze of [false, true]) {
      expect(await h.run(spec, { freeze })).toMatchObject({
        ok: true,
        output: { before: 'function', href: 'http://127.0.0.1/?a=%25zz+1&b=%C3%A9', keys: Object.keys(URL.prototype), paramsKeys: Object.getOwnPropertyNames(URLSearchParams.prototype), iter: '[object URLSearchParams Iterator]', text: '\ufffdx', again: true },
      });
    }
    const replaced = makeSpec({ name: 'replaces-url', source: 'URL = function Mine() {}; export default () => [URL.name, typeof URLSearchParams];' });
    expect(await h.run(replaced)).toMatchObject({ ok: true, output: ['Mine', 'function'] });
  });

  it(`a URL over ${URL_MAX_CHARS} characters is a TypeError, checked in the isolate and again on the host`, async () => {
    const spec = makeSpec({
      name: 'huge-url',
      source: `export default (input) => {
        const out = [];
        for (const text of [input.fits, input.huge]) {
          try { out.push(new URL(text).href.length); } catch (e) { out.push([e.name, e.code, e.message]); }
        }
        const u = new URL('http://a/');
        try { u.hash = 'x'.repeat(${URL_MAX_CHARS}); out.push('set'); } catch (e) { out.push([e.name, e.code]); }
        out.push(URL.canParse(input.huge), u.href);
        return out;
      }`,
    });
    const fits = `http://a/${'x'.repeat(URL_MAX_CHARS - 20)}`;
    const huge = `http://a/${'x'.repeat(URL_MAX_CHARS)}`;
    const result = await h.run(spec, { fits, huge });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const [fitted, refused, setter, canParse, href] = result.output as unknown[];
    expect(fitted).toBe(fits.length);
    expect(refused).toEqual(['TypeError', 'ERR_INVALID_URL', expect.stringContaining(`longer than ${URL_MAX_CHARS} characters`)]);
    expect(setter).toEqual(['TypeError', 'ERR_INVALID_URL']);
    expect(canParse).toBe(false);
    expect(href).toBe('http://a/');
    // The host's own check, for a caller that skips the isolate's.
    expect(urlOp('url.parse', huge, '', '')).toBe('L');
    expect(urlOp('url.set', 'http://a/', 'hash', 'x'.repeat(URL_MAX_CHARS))).toBe('L');
    expect(urlOp('url.set', 'http://a/', 'searchParams', 'x')).toBe('I');
    expect(urlOp('url.parse', 'http://0x7f.1/', '', '')).toBe(`O${['http://127.0.0.1/', 'http://127.0.0.1', 'http:', '', '', '127.0.0.1', '127.0.0.1', '', '/', '', ''].join('\n')}`);
  });
});
