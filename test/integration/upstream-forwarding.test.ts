// What the forwarder (src/proxy/upstream.ts) does to requests and responses between the client and
// the app: bodies intact (sized and chunked), Host rewritten or kept, target base paths, repeated
// response headers kept, hop-by-hop ones dropped, and a client that leaves takes its upstream
// request with it. A real gateway in front of a real node:http app that records what it received.
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startPublicGateway, type GatewayInstance } from '../support/gateway-stack.js';
import { waitUntil } from '../support/timing.js';

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  closedEarly: boolean;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

function send(
  port: number,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string; chunks?: string[] } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: '127.0.0.1',
      port,
      path,
      method: init.method ?? 'GET',
      headers: init.headers ?? {},
      agent: false,
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    if (init.chunks !== undefined) {
      for (const chunk of init.chunks) req.write(chunk);
      req.end();
    } else req.end(init.body);
  });
}

describe('forwarding requests and responses to the app', () => {
  let app: Server;
  let appPort: number;
  let app6: Server;
  let appPort6: number;
  let gateway: GatewayInstance;
  const received: Received[] = [];

  before(async () => {
    app = createServer((req, res) => {
      const entry: Received = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: '',
        closedEarly: false,
      };
      received.push(entry);
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (entry.body += chunk));
      res.on('close', () => (entry.closedEarly = !res.writableFinished));
      req.on('end', () => {
        if (req.url?.endsWith('/cookies')) {
          res.writeHead(200, [
            'Set-Cookie',
            'a=1; Path=/',
            'Set-Cookie',
            'b=2; Path=/',
            'Connection',
            'keep-alive, X-Internal-Only',
            'X-Internal-Only',
            'app-private',
            'X-App',
            'yes',
            'Content-Length',
            '2',
          ]);
          res.end('ok');
        } else if (req.url?.endsWith('/slow')) {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('first part\n'); // then never finishes: the client will leave
        } else if (req.url?.endsWith('/hangs')) {
          // never answers: the client gives up first
        } else if (req.url?.endsWith('/dies')) {
          res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000' });
          res.write('partial');
          setTimeout(() => req.socket.destroy(), 20);
        } else {
          res.writeHead(201, 'Made Here', { 'content-type': 'text/plain' });
          res.end(`echo ${entry.body.length}`);
        }
      });
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    appPort = (app.address() as AddressInfo).port;
    // The same app on the IPv6 loopback: an upstream URL with a bracketed address.
    app6 = createServer((req, res) => app.emit('request', req, res));
    await new Promise<void>((resolve) => app6.listen(0, '::1', resolve));
    appPort6 = (app6.address() as AddressInfo).port;
    const appUrl = `http://127.0.0.1:${appPort}`;
    gateway = await startPublicGateway([
      { path: '/based/', upstream: `${appUrl}/prefix/` },
      { path: '/kept-host/', upstream: appUrl, preserveHost: true },
      { path: '/ipv6/', upstream: `http://[::1]:${appPort6}` },
      { path: '/', upstream: appUrl },
    ]);
  });
  after(async () => {
    await gateway.close();
    app.closeAllConnections();
    app6.closeAllConnections();
    app6.close();
    await new Promise<void>((resolve) => app.close(() => resolve()));
  });

  test('a sized body arrives intact; status and reason phrase come back', async () => {
    const body = 'x'.repeat(70_000) + 'é';
    const answer = await send(gateway.gateway.port, '/upload?q=1', {
      method: 'POST',
      headers: {
        'content-type': 'text/plain; charset=utf-8',
        'content-length': String(Buffer.byteLength(body)),
      },
      body,
    });
    assert.equal(answer.status, 201);
    assert.equal(answer.body, `echo ${body.length}`);
    const seen = received.at(-1);
    assert.ok(seen);
    assert.equal(seen.method, 'POST');
    assert.equal(seen.url, '/upload?q=1');
    assert.equal(seen.body, body);
    assert.equal(seen.headers['content-length'], String(Buffer.byteLength(body)));
  });

  test('a chunked body arrives intact', async () => {
    const chunks = ['one,', 'two,', 'x'.repeat(20_000)];
    const answer = await send(gateway.gateway.port, '/chunked', { method: 'PUT', chunks });
    assert.equal(answer.status, 201);
    assert.equal(received.at(-1)?.body, chunks.join(''));
  });

  test("the Host header is the app's own unless the route preserves the client's", async () => {
    await send(gateway.gateway.port, '/plain', { headers: { host: 'localhost:8080' } });
    assert.equal(received.at(-1)?.headers.host, `127.0.0.1:${appPort}`);
    await send(gateway.gateway.port, '/kept-host/x', { headers: { host: 'localhost:8080' } });
    assert.equal(received.at(-1)?.headers.host, 'localhost:8080');
  });

  test('a target with a base path receives it in front of the request path', async () => {
    await send(gateway.gateway.port, '/based/x?y=1');
    assert.equal(received.at(-1)?.url, '/prefix/based/x?y=1');
  });

  test('an IPv6 literal upstream is reached, and its Host header keeps the brackets', async () => {
    const answer = await send(gateway.gateway.port, '/ipv6/x');
    assert.equal(answer.status, 201);
    const seen = received.at(-1);
    assert.ok(seen);
    assert.equal(seen.url, '/ipv6/x');
    assert.equal(seen.headers.host, `[::1]:${appPort6}`);
  });

  test('hop-by-hop request headers stop at the gateway', async () => {
    await send(gateway.gateway.port, '/hop', {
      headers: { 'proxy-authorization': 'Basic bWFsbG9yeTpwdw==', 'keep-alive': 'timeout=1', te: 'trailers' },
    });
    const seen = received.at(-1);
    assert.equal(seen?.headers['proxy-authorization'], undefined);
    assert.equal(seen?.headers['keep-alive'], undefined);
    assert.equal(seen?.headers.te, undefined);
  });

  test('repeated response headers are kept; hop-by-hop and Connection-named ones are dropped', async () => {
    const answer = await send(gateway.gateway.port, '/cookies');
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/']);
    assert.equal(answer.headers['x-app'], 'yes');
    assert.equal(answer.headers['x-internal-only'], undefined);
    assert.equal(answer.body, 'ok');
  });

  /** The app's record of the one request to `url` (each of these tests uses its own path). */
  function receivedAt(url: string): Promise<Received> {
    return waitUntil(() => received.find((entry) => entry.url === url), {
      what: `the app to receive ${url}`,
      intervalMs: 10,
    });
  }

  /** Waits until the gateway has ended the app's side of `entry` (the client left). */
  async function closedEarly(entry: Received): Promise<boolean> {
    return waitUntil(() => entry.closedEarly, {
      what: `the gateway to end the upstream request to ${entry.url}`,
      intervalMs: 10,
    }).catch(() => false);
  }

  test('a client that leaves mid-response ends the upstream request too', async () => {
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: gateway.gateway.port, path: '/slow', agent: false });
      req.on('response', (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
      req.end();
    });
    const seen = await receivedAt('/slow');
    assert.equal(await closedEarly(seen), true);
  });

  test('a client that leaves before the app answers ends the upstream request, and the gateway stays up', async () => {
    const req = httpRequest({ host: '127.0.0.1', port: gateway.gateway.port, path: '/hangs', agent: false });
    req.on('error', () => {}); // the client's own destroy() below
    req.end();
    // Leave once the request has reached the app (which never answers), however long that takes.
    const seen = await receivedAt('/hangs');
    req.destroy();
    assert.equal(await closedEarly(seen), true);
    assert.equal((await send(gateway.gateway.port, '/after')).status, 201);
  });

  test('an app that dies mid-response gives the client a cut response, not a hang or a spliced 502', async () => {
    await assert.rejects(send(gateway.gateway.port, '/dies'), /aborted|ECONNRESET|socket hang up/);
  });
});
