// Forwarding to the upstream. Plain HTTP requests go through a lean node:http forwarder written for
// the hot path; WebSocket upgrades (rare, long-lived) go through http-proxy-3.
//
// Why not http-proxy-3 for every request: measured on this project's machine (wrk -t1 -c32, one
// Node upstream), http-proxy-3's `web()` ran at ~0.55× a bare `http.request` + `pipe` forwarder,
// its per-request pass pipeline, option merging, URL joining and one `setHeader` call per
// response header being most of the difference; see docs/performance.md. What it did for plain
// requests that matters is kept here: keep-alive agents, Host rewriting, target base paths,
// hop-by-hop header removal, a response timeout, and a 502 from the gateway when the app fails.
import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import { createProxyServer } from 'http-proxy-3';
import { UpstreamUnavailable } from '../core/errors.js';
import type { LogFields } from '../observability/log-fields.js';
import type { Logger } from '../observability/logger.js';
import type { CompiledRoute } from '../policy/route-table.js';

export interface Upstream {
  forward(req: IncomingMessage, res: ServerResponse, route: CompiledRoute): void;
  forwardUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, route: CompiledRoute): void;
  close(): void;
}

/** How long the app may take to start answering before the gateway gives up with a 502. */
const RESPONSE_TIMEOUT_MS = 120_000;
/** The `code` of the error a response timeout ends the upstream request with (Node sets none). */
export const RESPONSE_TIMEOUT_CODE = 'PC_UPSTREAM_TIMEOUT';

/**
 * The 502 for a failed upstream request, carrying what its log line needs: which route, which
 * upstream (host:port, never credentials), and the cause (the socket error, with its code).
 */
export class UpstreamRequestFailed extends UpstreamUnavailable {
  readonly logFields: LogFields;

  constructor(cause: Error, route: CompiledRoute) {
    super(`upstream error: ${cause.message}`, { cause });
    this.logFields = { route: route.id, upstream: upstreamAddressOf(route.upstream) };
  }
}

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection, never the next one.
 * Transfer-Encoding is left to Node, which frames each side's body itself.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** The request side keeps Transfer-Encoding so that Node re-frames a chunked body instead of losing it. */
const HOP_BY_HOP_REQUEST = [...HOP_BY_HOP].filter((name) => name !== 'transfer-encoding');

export function createUpstream(options: {
  /** Answers a failed request (a 502 through the error boundary, which logs it). */
  onError: (err: Error, req: IncomingMessage, res: ServerResponse) => void;
  /** For what has no response to answer on: WebSocket proxy errors. */
  log: Logger;
}): Upstream {
  const agentOptions = { keepAlive: true, maxSockets: 256, maxFreeSockets: 64, scheduling: 'lifo' as const };
  const httpAgent = new HttpAgent(agentOptions);
  const httpsAgent = new HttpsAgent(agentOptions);
  const websockets = createProxyServer({ xfwd: false, ws: true });
  // Every ws() call passes its own error callback; this only catches what http-proxy-3 emits
  // outside one (an 'error' event without a listener would throw).
  websockets.on('error', (err, _req, socket) => {
    options.log.warn({ err }, 'WebSocket proxy error');
    socket.destroy();
  });

  function fail(err: Error, req: IncomingMessage, res: ServerResponse, route: CompiledRoute): void {
    if (res.destroyed) return; // the client left first: nobody to answer
    if (res.headersSent) {
      res.destroy(err); // the client sees a cut response, never a spliced one
      return;
    }
    options.onError(new UpstreamRequestFailed(err, route), req, res);
  }

  return {
    forward(req, res, route) {
      const target = route.upstream;
      const headers = forwardedRequestHeaders(req.headers);
      if (!route.preserveHost) headers.host = target.host;
      const isHttps = target.protocol === 'https:';
      const upstreamReq = (isHttps ? httpsRequest : httpRequest)({
        protocol: target.protocol,
        hostname: connectHostOf(target),
        port: target.port,
        method: req.method,
        path: upstreamPath(target, req.url ?? '/'),
        headers,
        agent: isHttps ? httpsAgent : httpAgent,
        timeout: RESPONSE_TIMEOUT_MS,
      });

      let answered = false;
      upstreamReq.on('timeout', () =>
        upstreamReq.destroy(
          Object.assign(new Error('no answer within the response timeout'), { code: RESPONSE_TIMEOUT_CODE }),
        ),
      );
      upstreamReq.on('error', (err) => {
        if (!answered) {
          answered = true;
          fail(err, req, res, route);
        }
      });
      upstreamReq.on('response', (upstreamRes) => {
        answered = true;
        try {
          res.writeHead(
            upstreamRes.statusCode ?? 502,
            upstreamRes.statusMessage,
            forwardedResponseHeaders(upstreamRes.rawHeaders),
          );
        } catch (err) {
          // A status line or header Node will not send on: the app's answer is unusable, say so.
          upstreamRes.destroy();
          fail(err as Error, req, res, route);
          return;
        }
        upstreamRes.on('error', (err) => res.destroy(err));
        upstreamRes.pipe(res);
      });
      // A client that goes away takes its upstream request with it.
      res.on('close', () => {
        if (!res.writableFinished) upstreamReq.destroy();
      });
      req.on('error', (err) => upstreamReq.destroy(err));

      if (hasBody(req.headers)) req.pipe(upstreamReq);
      else upstreamReq.end();
    },

    forwardUpgrade(req, socket, head, route) {
      // Upgrades take a dedicated connection: no pooling agent. http-proxy-3 closes the client
      // socket after an error; the log says which route and upstream failed, and why.
      websockets.ws(
        req,
        socket,
        head,
        { target: websocketTargetFor(route.upstream), changeOrigin: !route.preserveHost },
        (err) => {
          options.log.warn(
            { route: route.id, upstream: upstreamAddressOf(route.upstream), err },
            'WebSocket proxy error',
          );
        },
      );
    },

    close() {
      websockets.close();
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

/** What http-proxy-3 needs to know of a target: a URL's parts, with the port always spelt out. */
export interface WebSocketTarget {
  protocol: string;
  host: string;
  hostname: string;
  port: number;
  pathname: string;
  search: string;
  href: string;
}

const websocketTargets = new WeakMap<URL, WebSocketTarget>();

/**
 * http-proxy-3 reads `target.port` as given, and a URL leaves it empty for the scheme's default
 * port: `http://app` would be dialled on port 0. Spell the port out (once per route).
 */
export function websocketTargetFor(upstream: URL): WebSocketTarget {
  let target = websocketTargets.get(upstream);
  if (target === undefined) {
    target = {
      protocol: upstream.protocol,
      host: upstream.host,
      hostname: upstream.hostname,
      port: portOf(upstream),
      pathname: upstream.pathname,
      search: '',
      href: upstream.href,
    };
    websocketTargets.set(upstream, target);
  }
  return target;
}

/** host:port of an upstream for log lines: the port spelt out, never the URL's credentials. */
export function upstreamAddressOf(upstream: URL): string {
  return upstream.port === '' ? `${upstream.host}:${String(portOf(upstream))}` : upstream.host;
}

/** The port a URL names, or its scheme's default (a URL leaves that one empty). */
function portOf(upstream: URL): number {
  return upstream.port !== '' ? Number(upstream.port) : upstream.protocol === 'https:' ? 443 : 80;
}

/** The host to connect to: an IPv6 literal without the brackets the URL keeps around it. */
export function connectHostOf(target: URL): string {
  const host = target.hostname;
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** The target's base path joined with the (already normalised) request path and query. */
export function upstreamPath(target: URL, pathAndQuery: string): string {
  const base = target.pathname;
  if (base === '/' || base === '') return pathAndQuery;
  const trimmed = base.endsWith('/') ? base.slice(0, -1) : base;
  return pathAndQuery.startsWith('/') ? trimmed + pathAndQuery : `${trimmed}/${pathAndQuery}`;
}

/**
 * The client's headers minus hop-by-hop ones, removed in place (the front door has already made
 * req.headers the gateway's own: identity headers stripped and set, forwarding headers rewritten).
 * Headers the client names in its own Connection header are deliberately NOT removed: that would
 * let a client delete headers the gateway sets (identity, X-Forwarded-For) by listing them there.
 */
export function forwardedRequestHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  for (const name of HOP_BY_HOP_REQUEST) if (headers[name] !== undefined) delete headers[name];
  return headers;
}

/** The app's raw response headers (case and repeats kept, e.g. several Set-Cookie) minus hop-by-hop ones. */
export function forwardedResponseHeaders(raw: readonly string[]): string[] {
  let named: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() === 'connection') named = connectionTokens(raw[i + 1]);
  }
  const kept: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = (raw[i] as string).toLowerCase();
    if (HOP_BY_HOP.has(lower) || (named !== null && named.has(lower))) continue;
    kept.push(raw[i] as string, raw[i + 1] as string);
  }
  return kept;
}

function connectionTokens(value: string | string[] | undefined): Set<string> | null {
  if (value === undefined || value === 'keep-alive' || value === 'close') return null; // the usual ones
  const text = Array.isArray(value) ? value.join(',') : value;
  const tokens = text
    .split(',')
    .map((token) => token.trim().toLowerCase())
    .filter((token) => token !== '' && token !== 'close' && token !== 'keep-alive');
  return tokens.length === 0 ? null : new Set(tokens);
}

function hasBody(headers: IncomingHttpHeaders): boolean {
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && length !== '0';
}
