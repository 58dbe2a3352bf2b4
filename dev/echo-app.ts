// The upstream application behind the gateway in the demo and the integration tests.
//
// It has no login of its own: it shows what the gateway forwarded (method, URL, headers) and
// whether the identity assertion header verifies against the gateway's JWKS. JSON by default,
// a small HTML page for browsers. WebSocket upgrades are accepted and echo every message.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { WebSocketServer, type WebSocket } from 'ws';

export interface EchoAppOptions {
  port?: number;
  host?: string;
  /** Where the gateway publishes its assertion signing keys. Without it, assertions never verify. */
  jwksUrl?: string;
  expectedIssuer?: string;
  /** Default 'x-portcullis-assertion'. */
  assertionHeader?: string;
}

export interface EchoApp {
  url: string;
  port: number;
  close(): Promise<void>;
  /** Every request seen (WebSocket upgrades included), newest last. */
  requests: EchoedRequest[];
}

export interface EchoedRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  rawHeaders: string[];
  /** The request body as text ('' for upgrades), so tests can check what the gateway forwarded. */
  body: string;
}

export type AssertionReport =
  | null
  | { valid: true; header: Record<string, unknown>; claims: Record<string, unknown> }
  | { valid: false; error: string };

export interface EchoResponse {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  assertion: AssertionReport;
  body: string;
}

const MAX_RECORDED_BODY = 1024 * 1024;

export async function startEchoApp(options: EchoAppOptions = {}): Promise<EchoApp> {
  const host = options.host ?? '127.0.0.1';
  const verifyAssertion = createAssertionVerifier(options);
  const requests: EchoedRequest[] = [];
  const sockets = new WebSocketServer({ noServer: true });

  const server = createServer((req, res) => {
    readBody(req)
      .then(async (body) => {
        const { method, url, headers } = record(requests, req, body);
        const assertion = await verifyAssertion(req);
        respond(req, res, { method, url, headers, assertion, body }, options.jwksUrl);
      })
      .catch((error: unknown) => {
        console.error(`[echo-app] ${error instanceof Error ? error.message : String(error)}`);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('echo app failed\n');
      });
  });
  server.on('upgrade', (req, socket, head) => acceptWebSocket(sockets, requests, req, socket, head));

  const port = await listen(server, options.port ?? 0, host);
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    requests,
    // Idempotent, so a test may close explicitly and again in its cleanup hook.
    close: () => (closing ??= closeAll(server, sockets)),
  };
}

function record(requests: EchoedRequest[], req: IncomingMessage, body: string): EchoedRequest {
  const echoed: EchoedRequest = {
    method: req.method ?? 'GET',
    url: req.url ?? '/',
    headers: { ...req.headers },
    rawHeaders: [...req.rawHeaders],
    body,
  };
  requests.push(echoed);
  return echoed;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  // Read to the end even past the recording limit: answering before the body is consumed
  // makes the proxy in front see a reset connection instead of our response.
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size <= MAX_RECORDED_BODY) chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

// ---------------------------------------------------------------------------------------------
// Assertion verification

function createAssertionVerifier(
  options: EchoAppOptions,
): (req: IncomingMessage) => Promise<AssertionReport> {
  const headerName = (options.assertionHeader ?? 'x-portcullis-assertion').toLowerCase();
  // One key set per app: jose caches the fetched JWKS and refetches on unknown kids.
  const keys = options.jwksUrl ? createRemoteJWKSet(new URL(options.jwksUrl)) : undefined;
  return async (req) => {
    const value = req.headers[headerName];
    if (value === undefined) return null;
    if (Array.isArray(value)) return { valid: false, error: `more than one ${headerName} header` };
    if (!keys) return { valid: false, error: 'the echo app was started without a jwksUrl' };
    return verifyToken(value, keys, options.expectedIssuer);
  };
}

async function verifyToken(
  token: string,
  keys: JWTVerifyGetKey,
  expectedIssuer: string | undefined,
): Promise<AssertionReport> {
  try {
    const verifyOptions = expectedIssuer === undefined ? {} : { issuer: expectedIssuer };
    const { payload, protectedHeader } = await jwtVerify(token, keys, {
      algorithms: ['ES256'],
      ...verifyOptions,
    });
    return { valid: true, header: { ...protectedHeader }, claims: { ...payload } };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const message = error instanceof Error ? error.message : String(error);
    return { valid: false, error: typeof code === 'string' ? `${code}: ${message}` : message };
  }
}

// ---------------------------------------------------------------------------------------------
// Responses

function respond(
  req: IncomingMessage,
  res: ServerResponse,
  echo: EchoResponse,
  jwksUrl: string | undefined,
): void {
  const wantsHtml = (req.headers.accept ?? '').includes('text/html');
  const content = wantsHtml
    ? { type: 'text/html; charset=utf-8', body: renderHtml(echo, jwksUrl) }
    : { type: 'application/json; charset=utf-8', body: JSON.stringify(echo, null, 2) };
  res.writeHead(200, { 'content-type': content.type, 'cache-control': 'no-store' });
  res.end(content.body);
}

function renderHtml(echo: EchoResponse, jwksUrl: string | undefined): string {
  const headerRows = Object.entries(echo.headers)
    .map(([name, value]) => `<tr><th>${escapeHtml(name)}</th><td>${escapeHtml(formatValue(value))}</td></tr>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Echo app</title>
<style>
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}
td{font-family:ui-monospace,monospace;word-break:break-all}.ok{color:#060}.bad{color:#b00}
</style></head><body>
<h1>Echo app</h1>
${renderIdentity(echo.assertion)}
${renderVerification(echo.assertion, jwksUrl)}
<form method="post" action="/.portcullis/logout"><button>Sign out</button></form>
<h2>Request</h2>
<p><code>${escapeHtml(echo.method)} ${escapeHtml(echo.url)}</code></p>
<h2>Headers</h2>
<table>
${headerRows}
</table>
</body></html>`;
}

function renderIdentity(assertion: AssertionReport): string {
  if (!assertion?.valid) return '<p>Signed-in user: <em>unknown</em></p>';
  const fields = ['sub', 'email', 'name', 'groups'].map(
    (claim) =>
      `<tr><th>${escapeHtml(claim)}</th><td>${escapeHtml(formatValue(assertion.claims[claim] ?? ''))}</td></tr>`,
  );
  return `<h2>Who you are</h2>\n<table>\n${fields.join('\n')}\n</table>`;
}

function renderVerification(assertion: AssertionReport, jwksUrl: string | undefined): string {
  if (assertion === null) return '<p class="bad">No identity assertion header was received.</p>';
  if (!assertion.valid) {
    return `<p class="bad">Assertion did not verify: ${escapeHtml(assertion.error)}</p>`;
  }
  const keysPath = jwksUrl ? new URL(jwksUrl).pathname : 'the JWKS';
  return `<p class="ok">Assertion verified against <code>${escapeHtml(keysPath)}</code></p>`;
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value.join(', ');
  // JSON.stringify answers undefined (not a string, whatever its type says) for undefined: an
  // absent header value. Everything else here came from headers or JSON, so it has a JSON text.
  if (value === undefined) return '';
  return JSON.stringify(value);
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

// ---------------------------------------------------------------------------------------------
// WebSockets

function acceptWebSocket(
  sockets: WebSocketServer,
  requests: EchoedRequest[],
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): void {
  const echoed = record(requests, req, '');
  sockets.handleUpgrade(req, socket, head, (ws: WebSocket) => {
    ws.send(JSON.stringify({ url: echoed.url, headers: echoed.headers }));
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
}

// ---------------------------------------------------------------------------------------------
// Server lifecycle

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeAll(server: Server, sockets: WebSocketServer): Promise<void> {
  for (const client of sockets.clients) client.terminate();
  sockets.close();
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    // Keep-alive connections from test clients would otherwise hold close() open.
    server.closeAllConnections();
  });
}
