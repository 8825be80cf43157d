// ctx.fetch as agents rely on it, now that the calling process makes the connections: request bodies and headers,
// redirects (303 turns POST into GET, loops end), decoded and capped bodies, and requests ended with their run,
// its cancel, or its host's death.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Supervisor } from '../../sandbox/supervisor.js';
import { fixtureSpec, type Harness, makeHarness } from './helpers.js';

describe.each(['process', 'inline'] as const)('guarded fetch (%s)', (isolation) => {
  let h: Harness;
  let server: http.Server;
  let port = 0;
  let closedHanging: Promise<void>;
  let onHangingClosed: () => void = () => {};

  beforeAll(async () => {
    h = makeHarness({ isolation, hosts: 1, fetchMaxBytes: 1024 });
    closedHanging = new Promise((resolve) => (onHangingClosed = resolve));
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        if (req.url === '/echo') {
          res.writeHead(201, 'Made', { 'content-type': 'application/json', 'x-multi': ['a', 'b'] });
          res.end(JSON.stringify({ method: req.method, headers: req.headers, body }));
        } else if (req.url === '/see-other') {
          res.writeHead(303, { location: '/echo' });
          res.end();
        } else if (req.url === '/loop') {
          res.writeHead(302, { location: '/loop' });
          res.end();
        } else if (req.url === '/gzip') {
          res.writeHead(200, { 'content-encoding': 'gzip', 'content-type': 'text/plain' });
          res.end(gzipSync('decoded text'));
        } else if (req.url === '/bomb') {
          // 4 KB compressed to a few bytes: the cap applies to what the agent would receive.
          res.writeHead(200, { 'content-encoding': 'gzip' });
          res.end(gzipSync('x'.repeat(64 * 1024)));
        } else if (req.url === '/big') {
          res.end('z'.repeat(4096));
        } else if (req.url === '/hang') {
          res.writeHead(200);
          res.write('partial');
          req.socket.once('close', () => onHangingClosed());
        } else {
          res.end('ok');
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    server.close();
    await h.sandbox.close();
  });

  const spec = (limits = {}) => fixtureSpec('fetch-tool.js', { permissions: { net: [`127.0.0.1:${port}`] }, limits });

  it('sends method, body and headers (a Host header from the agent is dropped) and returns status and headers', async () => {
    const result = await h.run(spec(), { url: `http://127.0.0.1:${port}/echo`, init: { method: 'POST', body: 'payload', headers: { 'x-custom': 'yes', host: 'evil.example' } } });
    expect(result).toMatchObject({ ok: true, output: { status: 201, type: 'application/json', redirected: false } });
    const echoed = JSON.parse((result as { output: { body: string } }).output.body) as { method: string; headers: Record<string, string>; body: string };
    expect(echoed).toMatchObject({ method: 'POST', body: 'payload', headers: { host: `127.0.0.1:${port}`, 'x-custom': 'yes', 'content-type': 'text/plain;charset=UTF-8', 'content-length': '7', accept: '*/*' } });
  });

  it('follows a 303 after a POST as a GET without the body', async () => {
    const result = await h.run(spec(), { url: `http://127.0.0.1:${port}/see-other`, init: { method: 'POST', body: 'payload' } });
    expect(result).toMatchObject({ ok: true, output: { status: 201, redirected: true } });
    expect(JSON.parse((result as { output: { body: string } }).output.body)).toMatchObject({ method: 'GET', body: '' });
  });

  it('ends a redirect loop with E_FETCH', async () => {
    expect(await h.run(spec(), { url: `http://127.0.0.1:${port}/loop` })).toMatchObject({ ok: false, error: { message: expect.stringContaining('more than 10 redirects') } });
  });

  it('decodes a gzip body, and caps the decoded body at fetchMaxBytes', async () => {
    expect(await h.run(spec(), { url: `http://127.0.0.1:${port}/gzip` })).toMatchObject({ ok: true, output: { status: 200, body: 'decoded text' } });
    expect(await h.run(spec(), { url: `http://127.0.0.1:${port}/bomb` })).toMatchObject({ ok: false, error: { message: expect.stringContaining('response body over 1024 bytes') } });
    expect(await h.run(spec(), { url: `http://127.0.0.1:${port}/big` })).toMatchObject({ ok: false, error: { message: expect.stringContaining('response body over 1024 bytes') } });
  });

  it('closes the connection of a pending fetch when the run ends', async () => {
    const result = await h.run(spec({ timeoutMs: 300 }), { url: `http://127.0.0.1:${port}/hang` });
    expect(result).toMatchObject({ ok: false, error: { code: 'E_TIMEOUT' } });
    await closedHanging;
  });
});

// The calling process makes the connections (sandbox/capability-tools): it must close a pending one when the run is
// cancelled, and when the run's host dies, since no host is left to say the run ended.
describe.each(['process', 'inline'] as const)('a pending fetch ended by the calling side (%s)', (isolation) => {
  let h: Harness;
  let server: http.Server;
  let port = 0;
  let arrived: () => void = () => {};
  let closed: () => void = () => {};

  beforeAll(async () => {
    h = makeHarness({ isolation, hosts: 1 });
    server = http.createServer((req) => {
      req.socket.once('close', () => closed());
      arrived();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await h.sandbox.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const spec = () => fixtureSpec('fetch-tool.js', { permissions: { net: ['127.0.0.1'] }, limits: { timeoutMs: 60_000 } });

  /** Starts a run whose fetch the server never answers; resolves once the request arrived, with the run and the close. */
  async function hanging(signal?: AbortSignal) {
    const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
    const connectionClosed = new Promise<void>((resolve) => (closed = resolve));
    const result = h.run(spec(), { url: `http://127.0.0.1:${port}/hang` }, { signal });
    await requestArrived;
    return { result, connectionClosed };
  }

  it('closes it when the run is cancelled', async () => {
    const controller = new AbortController();
    const { result, connectionClosed } = await hanging(controller.signal);
    controller.abort();
    expect(await result).toMatchObject({ ok: false, error: { code: 'E_DISPOSED' } });
    await connectionClosed;
  });

  it.skipIf(isolation === 'inline')('closes it when the run’s host dies', async () => {
    const { result, connectionClosed } = await hanging();
    const [host] = (h.sandbox as Supervisor).hostProcesses();
    process.kill(host!.pid, 'SIGKILL');
    expect(await result).toMatchObject({ ok: false, error: { code: 'E_SANDBOX_CRASHED' } });
    await connectionClosed;
  });
});
