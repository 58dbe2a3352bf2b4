// Forward-auth adapters only translate: each integration tells us the original request its own way,
// and the answer is decided by the same route table and policy as the proxy path.
//   nginx auth_request / ingress-nginx: X-Original-URL (absolute) or X-Original-URI + Host, X-Original-Method
//   Traefik ForwardAuth:                X-Forwarded-Method, -Proto, -Host, -Uri
//   Envoy HTTP ext_authz (Istio, Contour): the original path appended to the auth path, Host and method as sent
import type { IncomingHttpHeaders } from 'node:http';

export type ForwardAuthMode = 'nginx' | 'traefik' | 'envoy';

export interface ProtectedRequest {
  readonly mode: ForwardAuthMode;
  readonly method: string;
  /** The original request target (path and query), not yet normalised. */
  readonly target: string;
  /** The original Host header value (may carry a port). */
  readonly host: string;
  readonly proto: 'http' | 'https';
}

export type ProtectedRequestResult = { ok: true; request: ProtectedRequest } | { ok: false; reason: string };

/**
 * Reads the original request. `authPath` is `{prefix}/auth`; `path` is the normalised path of the
 * request that reached it. Every dialect is answered only when `fromTrustedProxy` (the peer is in
 * server.trustProxy): anyone else could name any URL, or collect assertions for any audience.
 */
export function protectedRequestOf(
  method: string,
  path: string,
  search: string,
  headers: IncomingHttpHeaders,
  authPath: string,
  fromTrustedProxy: boolean,
  defaultProto: 'http' | 'https',
): ProtectedRequestResult {
  // Every dialect names the request it asks about; only a trusted proxy may name one. A browser
  // calling {prefix}/auth itself would otherwise collect assertions for any route's audience.
  if (!fromTrustedProxy)
    return {
      ok: false,
      reason: 'forward-auth answers trusted proxies only (server.trustProxy)',
    };
  if (path.startsWith(`${authPath}/`)) {
    // Envoy: path_prefix + original path. Host and method are the original request's own.
    const host = single(headers.host);
    if (host === undefined) return { ok: false, reason: 'Host header missing' };
    return {
      ok: true,
      request: {
        mode: 'envoy',
        method,
        target: path.slice(authPath.length) + search,
        host,
        proto: defaultProto,
      },
    };
  }
  const originalUrl = single(headers['x-original-url']);
  if (originalUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(originalUrl);
    } catch {
      return { ok: false, reason: 'X-Original-URL is not an absolute URL' };
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      return { ok: false, reason: 'X-Original-URL must be http or https' };
    if (url.username !== '' || url.password !== '')
      return { ok: false, reason: 'X-Original-URL must not carry credentials' };
    // A fragment is never part of a request target: judging the part before '#' while the app
    // receives the whole target is the attack, so the whole value is refused.
    if (originalUrl.includes('#')) return { ok: false, reason: "X-Original-URL must not contain '#'" };
    return {
      ok: true,
      request: {
        mode: 'nginx',
        method: single(headers['x-original-method']) ?? 'GET',
        target: rawTargetOf(originalUrl),
        host: url.host,
        proto: url.protocol === 'https:' ? 'https' : 'http',
      },
    };
  }

  const forwardedUri = single(headers['x-forwarded-uri']);
  if (forwardedUri !== undefined) {
    const host = single(headers['x-forwarded-host']) ?? single(headers.host);
    if (host === undefined) return { ok: false, reason: 'X-Forwarded-Host missing' };
    const proto = single(headers['x-forwarded-proto']) ?? defaultProto;
    if (proto !== 'http' && proto !== 'https')
      return { ok: false, reason: 'X-Forwarded-Proto must be http or https' };
    return {
      ok: true,
      request: {
        mode: 'traefik',
        method: single(headers['x-forwarded-method']) ?? 'GET',
        target: forwardedUri,
        host,
        proto,
      },
    };
  }

  const originalUri = single(headers['x-original-uri']);
  if (originalUri !== undefined) {
    const host = single(headers['x-forwarded-host']) ?? single(headers.host);
    if (host === undefined) return { ok: false, reason: 'Host header missing' };
    return {
      ok: true,
      request: {
        mode: 'nginx',
        method: single(headers['x-original-method']) ?? 'GET',
        target: originalUri,
        host,
        proto: defaultProto,
      },
    };
  }
  return { ok: false, reason: 'no original request: send X-Original-URL, X-Original-URI or X-Forwarded-Uri' };
}

/** The path and query exactly as written in an absolute URL (WHATWG parsing would already resolve dot segments and hide the attempt). */
function rawTargetOf(absolute: string): string {
  const afterScheme = absolute.indexOf('//') + 2;
  const slash = absolute.indexOf('/', afterScheme);
  const query = absolute.indexOf('?', afterScheme);
  const start = slash === -1 ? query : query === -1 ? slash : Math.min(slash, query);
  if (start === -1) return '/';
  const target = absolute.slice(start);
  const hash = target.indexOf('#');
  const withoutHash = hash === -1 ? target : target.slice(0, hash);
  return withoutHash.startsWith('/') ? withoutHash : `/${withoutHash}`;
}

/** One value: a header sent twice as separate array entries is ambiguous and treated as absent. */
function single(value: string | string[] | undefined): string | undefined {
  if (Array.isArray(value)) return value.length === 1 ? value[0] : undefined;
  return value === '' ? undefined : value;
}
