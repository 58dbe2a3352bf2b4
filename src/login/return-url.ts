/**
 * Validation of the post-login return URL (`rd`), the classic open-redirect vector.
 *
 * Strategy: refuse anything with characters that parsers disagree about (control characters,
 * whitespace, backslashes; raw or hidden behind one or more rounds of percent-encoding), accept only
 * two shapes of input (a path starting with exactly one '/', or `http(s)://authority...`), parse with
 * the WHATWG URL parser (what browsers use to follow the redirect), decide on the parsed result, and
 * check that the parsed result is what the string looked like.
 *
 * Decisions worth knowing:
 * - allowedHosts entries: 'grafana.example.com' matches that host only; '.example.com' and
 *   '*.example.com' match any subdomain of example.com but NOT example.com itself (list it too if
 *   wanted). An entry may name a port ('grafana.example.com:3000'); without one any port is fine.
 *   Entries are compared on the punycoded, lowercased form. Malformed entries never match.
 * - Hosts in a candidate must be spelled in ASCII (IDNs as punycode 'xn--'); see authorityLooksLikeParsed.
 * - Same-origin results are returned as `pathname + search` of the parsed URL, i.e. with dot segments
 *   resolved and unsafe characters percent-encoded by the WHATWG serialiser; the fragment is dropped.
 *   Results on other allowed hosts are the parsed absolute URL, also without fragment.
 * - When the public origin is https, every http target is refused (downgrade), including
 *   `http://<public host>`.
 * - A decoded path containing '//' anywhere (not only at the start) is refused for same-origin
 *   results: after a later decode and dot-segment removal (`/x/..//evil`) it can become a
 *   protocol-relative reference. Encoded spaces (%20) are allowed in the query only.
 */

export interface ReturnUrlPolicy {
  /** The gateway's public origin, e.g. 'https://apps.example.com' or 'http://localhost:8080'. */
  publicOrigin: string;
  /** Other hosts a return URL may point at: 'host', 'host:port', '.suffix', '*.suffix' (see above). */
  allowedHosts: readonly string[];
}

/** Longest candidate we look at; real return URLs are far shorter. */
export const MAX_RETURN_URL_LENGTH = 2048;
/** Rounds of percent-decoding we look through for hidden characters; needing more is refused. */
const MAX_DECODE_ROUNDS = 4;

/**
 * Characters refused anywhere in the raw candidate and in every decoding of its path/authority:
 * controls (C0, DEL, C1), any Unicode whitespace or separator, invisible format characters
 * (zero-width, bidi overrides, BOM), backslash (browsers treat it as '/'), lone surrogates.
 */
const FORBIDDEN_IN_PATH = /[\p{Cc}\p{Cf}\p{Z}\s\\]|[\uD800-\uDFFF]/u;
/** In decodings of the query/fragment an encoded space is ordinary data; controls and '\' are not. */
const FORBIDDEN_IN_QUERY = /[\p{Cc}\\]/u;
/** `scheme://authority` of an absolute http(s) candidate; the authority ends at '/', '?' or '#'. */
const ABSOLUTE_HTTP = /^(https?):\/\/([^/?#]*)/i;
/** RFC 3986 §3.2.2/§3.2.3 host [":" port]; IPv6 literals in brackets. */
const HOST_AND_PORT = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]]+)(?::(\d{0,5}))?$/;
/** Characters that never belong in an allowedHosts entry's host part. */
const FORBIDDEN_IN_ENTRY_HOST = /[\s\\/@?#%*]/;

interface Endpoint {
  scheme: 'http' | 'https';
  /** WHATWG-parsed hostname without a trailing dot. */
  hostname: string;
  port: number;
}

interface AllowedHostEntry {
  hostname: string;
  /** true: any subdomain of `hostname` (not `hostname` itself). */
  subdomains: boolean;
  port: number | undefined;
}

/** Returns a safe return URL or null (the caller then uses '/'). */
export function safeReturnUrl(candidate: string | null | undefined, policy: ReturnUrlPolicy): string | null {
  if (typeof candidate !== 'string' || candidate === '' || candidate.length > MAX_RETURN_URL_LENGTH) {
    return null;
  }
  const publicOrigin = parsePublicOrigin(policy.publicOrigin);
  if (!hasOnlySafeCharacters(candidate)) return null;
  if (candidate.startsWith('/')) return sameOriginReturnUrl(candidate, publicOrigin);
  if (ABSOLUTE_HTTP.test(candidate)) return absoluteReturnUrl(candidate, publicOrigin, policy.allowedHosts);
  // Everything else: other schemes, `https:evil`, `https:/evil`, relative paths without a leading '/'.
  return null;
}

/**
 * The `rd` value for a protected request the gateway is about to send to login: the relative
 * path + query on the public origin, otherwise the absolute URL without fragment.
 */
export function loginReturnUrlFor(requestUrl: URL, publicOrigin: string): string {
  const origin = parsePublicOrigin(publicOrigin);
  const endpoint = endpointOf(requestUrl);
  if (endpoint && isSameEndpoint(endpoint, origin)) {
    // The gateway normalises request paths, but never emit a protocol-relative '//host' reference.
    return `/${requestUrl.pathname.replace(/^\/+/, '')}${requestUrl.search}`;
  }
  const absolute = new URL(requestUrl.href);
  absolute.hash = '';
  absolute.username = '';
  absolute.password = '';
  return absolute.href;
}

/** Parses and validates one allowedHosts entry; null when malformed (it then never matches). */
export function parseAllowedHostEntry(entry: string): AllowedHostEntry | null {
  let rest = entry.trim().toLowerCase();
  let subdomains = false;
  if (rest.startsWith('*.')) rest = rest.slice(1);
  if (rest.startsWith('.')) {
    subdomains = true;
    rest = rest.slice(1);
  }
  const match = HOST_AND_PORT.exec(rest);
  const rawHost = match?.[1];
  if (!match || rawHost === undefined || FORBIDDEN_IN_ENTRY_HOST.test(rawHost)) return null;
  const port = parsePort(match[2]);
  if (port === null) return null;
  const hostname = parseHostname(rawHost);
  if (hostname === null || (subdomains && hostname.startsWith('['))) return null;
  return { hostname, subdomains, port };
}

// ---------------------------------------------------------------------------------------------
// Character screening

function hasOnlySafeCharacters(reference: string): boolean {
  const { head, tail } = splitAtQueryOrFragment(reference);
  // The raw candidate may contain no whitespace at all, not even in the query.
  if (FORBIDDEN_IN_PATH.test(reference)) return false;
  const headDecodings = decodings(head);
  const tailDecodings = decodings(tail);
  if (!headDecodings || !tailDecodings) return false;
  return (
    !headDecodings.some((decoded) => FORBIDDEN_IN_PATH.test(decoded)) &&
    !tailDecodings.some((decoded) => FORBIDDEN_IN_QUERY.test(decoded))
  );
}

/** head = everything before the first '?' or '#'; tail = the rest (query and/or fragment). */
function splitAtQueryOrFragment(reference: string): { head: string; tail: string } {
  const end = reference.search(/[?#]/);
  return end === -1
    ? { head: reference, tail: '' }
    : { head: reference.slice(0, end), tail: reference.slice(end) };
}

/**
 * The successive percent-decodings of `text` (not including `text`) until stable, or null when it is
 * still changing after MAX_DECODE_ROUNDS: nothing legitimate is encoded that many times over.
 */
function decodings(text: string): string[] | null {
  const rounds: string[] = [];
  let current = text;
  for (let round = 0; round <= MAX_DECODE_ROUNDS; round += 1) {
    const next = percentDecodeOnce(current);
    if (next === current) return rounds;
    rounds.push(next);
    current = next;
  }
  return null;
}

/** Decodes every valid %XX run as UTF-8 (invalid sequences become U+FFFD); leaves stray '%' alone. */
function percentDecodeOnce(text: string): string {
  return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) =>
    Buffer.from(run.replaceAll('%', ''), 'hex').toString('utf8'),
  );
}

// ---------------------------------------------------------------------------------------------
// Same-origin (relative) results

function sameOriginReturnUrl(candidate: string, publicOrigin: Endpoint): string | null {
  if (!isSingleSlashPath(candidate)) return null;
  const resolved = parseUrl(candidate, originString(publicOrigin));
  const endpoint = resolved && endpointOf(resolved);
  // A path reference must resolve to the public origin; anything else means the parser saw an authority.
  if (!resolved || !endpoint || !isSameEndpoint(endpoint, publicOrigin)) return null;
  return relativeResult(resolved);
}

/**
 * The relative reference we hand back, re-checked after WHATWG serialisation: dot-segment removal can
 * turn `/.//evil` or `/x/..//evil` into `//evil`, which a browser would treat as another host.
 */
function relativeResult(url: URL): string | null {
  const result = `${url.pathname}${url.search}`;
  return hasOnlySafeCharacters(result) && isSingleSlashPath(result) ? result : null;
}

/**
 * True when the path part starts with exactly one '/' and contains no '//' in the raw text or in any
 * percent-decoding of it (`/%2F%2Fevil`, `/%252F/evil`, `/x/..//evil`).
 */
function isSingleSlashPath(reference: string): boolean {
  const { head } = splitAtQueryOrFragment(reference);
  const headDecodings = decodings(head);
  if (!headDecodings) return false;
  return [head, ...headDecodings].every((path) => path.startsWith('/') && !path.includes('//'));
}

// ---------------------------------------------------------------------------------------------
// Absolute results

function absoluteReturnUrl(
  candidate: string,
  publicOrigin: Endpoint,
  allowedHosts: readonly string[],
): string | null {
  const rawAuthority = ABSOLUTE_HTTP.exec(candidate)?.[2];
  // '@' would introduce userinfo ('https://apps.example.com@evil'); '%' in a host is always a trick.
  if (!rawAuthority || /[@%]/.test(rawAuthority)) return null;
  const url = parseUrl(candidate);
  if (!url || url.username !== '' || url.password !== '') return null;
  const endpoint = endpointOf(url);
  if (!endpoint || !authorityLooksLikeParsed(rawAuthority, url, endpoint)) return null;

  if (isSameEndpoint(endpoint, publicOrigin)) return relativeResult(url);
  if (publicOrigin.scheme === 'https' && endpoint.scheme === 'http') return null; // downgrade
  if (!allowedHosts.some((entry) => matchesAllowedHost(endpoint, entry))) return null;

  url.hash = '';
  url.hostname = endpoint.hostname; // drops a trailing dot
  return url.href;
}

/**
 * The parsed host and port must be exactly what the raw authority spelled, up to letter case.
 * The raw authority must be ASCII: return URLs we issue carry punycode ('xn--...') because they come
 * from WHATWG serialisation, so raw Unicode in a host is only ever a trick (homoglyphs, fullwidth
 * letters, U+3002 '。' or U+2215 '∕' that IDNA maps into dots or new labels). Non-canonical IPv4
 * spellings ('0x7f.1', '2130706433') fail the comparison too.
 */
function authorityLooksLikeParsed(rawAuthority: string, url: URL, endpoint: Endpoint): boolean {
  const match = HOST_AND_PORT.exec(rawAuthority);
  const rawHost = match?.[1];
  if (!match || rawHost === undefined) return false;
  const rawPort = parsePort(match[2]);
  if (rawPort === null || (rawPort ?? defaultPort(endpoint.scheme)) !== endpoint.port) return false;
  if (!/^[\x21-\x7e]+$/.test(rawHost)) return false;
  // For IPv6 literals this also demands the canonical spelling ('[::1]', not '[0::1]').
  return rawHost.toLowerCase() === url.hostname;
}

function matchesAllowedHost(endpoint: Endpoint, rawEntry: string): boolean {
  const entry = parseAllowedHostEntry(rawEntry);
  if (!entry) return false;
  if (entry.port !== undefined && entry.port !== endpoint.port) return false;
  if (!entry.subdomains) return endpoint.hostname === entry.hostname;
  // Dot boundary: 'evilexample.com' must not match '.example.com'.
  return endpoint.hostname.endsWith(`.${entry.hostname}`);
}

// ---------------------------------------------------------------------------------------------
// URL helpers

function parsePublicOrigin(publicOrigin: string): Endpoint {
  const url = parseUrl(publicOrigin);
  const endpoint = url && endpointOf(url);
  if (!endpoint) throw new TypeError('publicOrigin must be an absolute http(s) URL');
  return endpoint;
}

function parseUrl(input: string, base?: string): URL | null {
  try {
    return base === undefined ? new URL(input) : new URL(input, base);
  } catch {
    return null;
  }
}

/** Scheme, normalised hostname and effective port; null for non-http(s) or malformed hosts. */
function endpointOf(url: URL): Endpoint | null {
  const scheme = url.protocol === 'https:' ? 'https' : url.protocol === 'http:' ? 'http' : null;
  if (!scheme) return null;
  const hostname = withoutTrailingDot(url.hostname);
  // Empty labels ('..corp.example.com', 'a..b') would otherwise pass the suffix comparison.
  if (hostname === '' || hostname.split('.').includes('')) return null;
  const port = url.port === '' ? defaultPort(scheme) : Number(url.port);
  return { scheme, hostname, port };
}

function isSameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.scheme === b.scheme && a.hostname === b.hostname && a.port === b.port;
}

function originString(endpoint: Endpoint): string {
  return `${endpoint.scheme}://${endpoint.hostname}:${endpoint.port}`;
}

function defaultPort(scheme: 'http' | 'https'): number {
  return scheme === 'https' ? 443 : 80;
}

function withoutTrailingDot(hostname: string): string {
  return hostname.endsWith('.') ? hostname.slice(0, -1) : hostname;
}

/** undefined = no port given; null = invalid. */
function parsePort(digits: string | undefined): number | undefined | null {
  if (digits === undefined || digits === '') return undefined;
  const port = Number(digits);
  return port >= 1 && port <= 65535 ? port : null;
}

/** Punycoded, lowercased hostname without trailing dot, as the WHATWG parser sees it; null if invalid. */
function parseHostname(rawHost: string): string | null {
  const url = parseUrl(`http://${rawHost}/`);
  const hostname = url ? withoutTrailingDot(url.hostname) : '';
  return hostname === '' || hostname.split('.').includes('') ? null : hostname;
}
