// The few HTML pages the gateway renders itself. Every interpolated value goes through escapeHtml.
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { LoginRequired, type GatewayError } from '../core/errors.js';
import { GATEWAY_RESPONSE_HEADER } from '../core/header-names.js';

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Headers for every response the gateway writes itself. */
export const GATEWAY_PAGE_HEADERS: Readonly<Record<string, string>> = {
  [GATEWAY_RESPONSE_HEADER]: 'gateway',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  // No scripts at all; forms may post only to this origin's gateway routes.
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
};

export function renderPage(title: string, bodyHtml: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,sans-serif;background:#f4f5f7;color:#1d2330;margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}
main{background:#fff;border-radius:10px;box-shadow:0 2px 12px rgba(0,0,0,.08);padding:2rem 2.5rem;max-width:28rem;width:100%}
h1{font-size:1.35rem;margin:0 0 1rem}p{line-height:1.5}
.button,button{display:block;width:100%;box-sizing:border-box;text-align:center;padding:.7rem 1rem;margin:.6rem 0;border:0;border-radius:6px;background:#2d5bd3;color:#fff;font-size:1rem;text-decoration:none;cursor:pointer}
.muted{color:#667085;font-size:.85rem}code{background:#f0f1f4;padding:.1rem .3rem;border-radius:4px}
</style></head>
<body><main>${bodyHtml}</main></body></html>`;
}

export function sendHtml(
  res: ServerResponse,
  status: number,
  html: string,
  extraHeaders: Record<string, string> = {},
): void {
  res.writeHead(status, {
    ...GATEWAY_PAGE_HEADERS,
    ...extraHeaders,
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
  });
  res.end(html);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  extraHeaders: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...GATEWAY_PAGE_HEADERS,
    ...extraHeaders,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

export function sendRedirect(
  res: ServerResponse,
  status: 302 | 303,
  location: string,
  extraHeaders: Record<string, string> = {},
): void {
  res.writeHead(status, { ...GATEWAY_PAGE_HEADERS, ...extraHeaders, location, 'content-length': 0 });
  res.end();
}

/**
 * Refuses a WebSocket upgrade on the raw socket: no ServerResponse exists for an upgrade, so the
 * status line, the gateway's headers and the JSON reason are written by hand, then the socket closes.
 */
export function refuseUpgrade(socket: Duplex, error: GatewayError): void {
  const body = JSON.stringify({ error: error.code, message: error.publicMessage });
  const headers = Object.entries({ ...GATEWAY_PAGE_HEADERS, 'content-type': 'application/json' })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}\r\n${headers}content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** "Sign in first" for API clients (and nginx, which redirects on a 401 itself): where to sign in. */
export function sendLoginRequired(res: ServerResponse, loginUrl: string): void {
  const required = new LoginRequired('sign-in required');
  sendJson(res, required.status, { error: required.code, message: required.publicMessage, login: loginUrl });
}
