/**
 * Request-target normalisation, run before route matching.
 *
 * The gateway decides (public route? protected? which upstream?) on the normalised path and then
 * forwards exactly that normalised form, so the path it decided on is the path the upstream sees.
 * Anything whose meaning could differ between us and an upstream (encoded slashes, backslashes,
 * control characters, malformed escapes) is refused instead of guessed at.
 *
 * Decisions worth knowing:
 * - Only origin-form targets (RFC 9112 §3.2.1, `/path?query`) are accepted. Absolute-form
 *   (`http://host/path`, §3.2.2) is refused: Portcullis is not a forward proxy, and a target that
 *   names its own authority invites Host-vs-target confusion. Asterisk-form (`*`, §3.2.4) is refused.
 * - The query is split off at the first '?' and passed through byte for byte (only control
 *   characters and spaces, which can never appear in a valid request-target, are refused).
 * - Path parameters (';') are kept as part of their segment: `/admins;x/` stays `/admins;x/`, so a
 *   route prefix `/admins/` does not match it and the upstream receives the same string. Beware that
 *   servers which strip path parameters before routing (Tomcat, Spring) will serve `/admins/` for it,
 *   so rules that protect a prefix more strictly than its neighbours should not rely on prefix
 *   matching alone. Segments that vanish or turn into dot segments once their parameters are stripped
 *   (`;x`, `.;x`, `..;x`) are refused outright: `/public/..;/admins/` is `/admins/` to Tomcat.
 * - Segments made only of dots and spaces (`...`, `.%20`), which Windows-backed servers trim to
 *   nothing or to a dot segment, are refused too, as is an encoded `;` (`%3B`) that would turn a
 *   segment into such a one. Trailing dots, spaces and `;`/`%3B` parameters on a real name
 *   (`/admins./`, `/admins%20/`, `/admins%3Bx/`) are kept: the route table matches protected
 *   routes on the loose form (policy/route-table.ts), so they can only land on a stricter route.
 */

import { BoundedMap } from '../core/bounded-map.js';

export type NormalizedTarget =
  | { ok: true; path: string; search: string /* '' or '?...' unchanged */ }
  | { ok: false; reason: string /* short, safe to show */ };

type Refusal = { ok: false; reason: string };

/** Longest path (before and after normalisation) we are willing to route. */
export const MAX_PATH_LENGTH = 8192;

const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:/;
const HEX_PAIR = /^[0-9A-Fa-f]{2}$/;
/** RFC 3986 §2.3: unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~". */
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
/**
 * Bytes that can never be part of a valid request-target (RFC 9112 §3.2; llhttp rejects the
 * controls too), and '#': a fragment is not part of a request target (RFC 9112 §3.2.1), and a
 * target that carries one means different paths to different parsers.
 */
const FORBIDDEN_QUERY_CHAR = /[\u0000-\u0020\u007f#]/;
/**
 * A segment that some upstream becomes empty or a dot segment: nothing but dots and spaces (raw
 * spaces are refused earlier, so `%20`), once its path parameters (`;x`, or `%3B` which some
 * servers decode first) are cut. `...`, `.%20`, `..;x`, `%3Bx`, `.%3B` (see the module comment).
 * Plain `.` and `..` are resolved as dot segments before this is asked.
 */
const VANISHING_SEGMENT = /^(?:\.|%20)*(?:(?:;|%3B).*)?$/;

function refuse(reason: string): Refusal {
  return { ok: false, reason };
}

export function normalizeRequestTarget(rawTarget: string): NormalizedTarget {
  if (rawTarget === '*') return refuse('asterisk-form request target not accepted');
  if (!rawTarget.startsWith('/')) {
    return refuse(
      ABSOLUTE_FORM.test(rawTarget)
        ? 'absolute-form request target not accepted'
        : 'request target must start with /',
    );
  }

  const queryStart = rawTarget.indexOf('?');
  const rawPath = queryStart === -1 ? rawTarget : rawTarget.slice(0, queryStart);
  const search = queryStart === -1 ? '' : rawTarget.slice(queryStart);

  if (rawPath.length > MAX_PATH_LENGTH) return refuse('path too long');
  if (FORBIDDEN_QUERY_CHAR.test(search)) return refuse("control character, space or '#' in query");

  const canonical = canonicalizePathCharacters(rawPath);
  if (typeof canonical !== 'string') return canonical;

  const segments = canonical.split('/').slice(1); // the path starts with '/', so element 0 is ''
  if (segments.some(isVanishingSegment)) {
    return refuse('ambiguous dot, space or parameter-only segment');
  }

  const path = removeDotSegments(segments);
  if (path.length > MAX_PATH_LENGTH) return refuse('path too long');
  return { ok: true, path, search };
}

function isVanishingSegment(segment: string): boolean {
  // '' (a run of '/'), '.' and '..' are the ordinary segments removeDotSegments resolves.
  if (segment === '' || segment === '.' || segment === '..') return false;
  return VANISHING_SEGMENT.test(segment);
}

/**
 * Puts every character of the path into one canonical spelling, or refuses it:
 * - percent-escapes of unreserved characters are decoded (RFC 3986 §2.3 / §6.2.2.2: they are
 *   equivalent to the character), so `%2e%2e` becomes `..` and is then resolved as a dot segment;
 * - all other escapes are kept with uppercase hex (§6.2.2.1) and decoded once only, because the
 *   upstream decodes once too: `%252e` stays `%252e` (only the triplet `%25` is an escape; the `2e`
 *   after it is literal data, and uppercasing it would change the resource name);
 * - escapes of '/', '\' and control characters are refused: whether `%2F` separates segments
 *   depends on the upstream, so we cannot know which path it would route;
 * - raw non-ASCII characters are percent-encoded as UTF-8 (§2.5).
 */
function canonicalizePathCharacters(rawPath: string): string | Refusal {
  let out = '';
  let index = 0;
  while (index < rawPath.length) {
    const code = rawPath.codePointAt(index) ?? 0;
    if (code === 0x25 /* % */) {
      const decoded = decodePercentEscape(rawPath.slice(index + 1, index + 3));
      if (typeof decoded !== 'string') return decoded;
      out += decoded;
      index += 3;
      continue;
    }
    const refusal = refuseRawPathCharacter(code);
    if (refusal) return refusal;
    const char = String.fromCodePoint(code);
    out += code > 0x7f ? encodeURIComponent(char) : char;
    index += char.length;
  }
  return out;
}

function refuseRawPathCharacter(code: number): Refusal | undefined {
  if (code < 0x20 || code === 0x7f) return refuse('control character in path');
  if (code === 0x20) return refuse('space in path');
  if (code === 0x5c) return refuse('backslash in path');
  if (code === 0x23) return refuse("'#' in path");
  // A lone UTF-16 surrogate has no UTF-8 encoding; encodeURIComponent would throw.
  if (code >= 0xd800 && code <= 0xdfff) return refuse('invalid character in path');
  return undefined;
}

/** `hex` is the two characters after a '%'. Returns the canonical spelling of the escape. */
function decodePercentEscape(hex: string): string | Refusal {
  if (!HEX_PAIR.test(hex)) return refuse('malformed percent-encoding in path');
  const byte = Number.parseInt(hex, 16);
  if (byte < 0x20 || byte === 0x7f) return refuse('encoded control character in path');
  if (byte === 0x2f) return refuse('encoded slash in path');
  if (byte === 0x5c) return refuse('encoded backslash in path');
  const char = String.fromCharCode(byte);
  return UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
}

/**
 * RFC 3986 §5.2.4 remove_dot_segments, applied to segments whose empty members (runs of '/')
 * are collapsed first. '..' never climbs above the root (`/../x` → `/x`). As in §5.2.4, a path
 * that ends in '/' or in a '.' or '..' segment keeps a trailing slash (`/a/b/..` → `/a/`).
 */
function removeDotSegments(segments: readonly string[]): string {
  const output: string[] = [];
  for (const segment of segments) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') output.pop();
    else output.push(segment);
  }
  const last = segments.at(-1);
  const endsAsDirectory = last === '' || last === '.' || last === '..';
  if (output.length === 0) return '/';
  return `/${output.join('/')}${endsAsDirectory ? '/' : ''}`;
}

/** Whether a normalised path is the gateway's own (`{prefix}` or below it). */
export function isGatewayPath(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

/**
 * Whether the request carried Host more than once (RFC 9112 §3.2: a 400). Node keeps only the first
 * value in `req.headers`, while another hop may route by the last: the raw list tells.
 */
export function hasRepeatedHost(rawHeaders: readonly string[]): boolean {
  let seen = false;
  for (let index = 0; index < rawHeaders.length; index += 2) {
    const name = rawHeaders[index];
    if (name !== undefined && name.length === 4 && name.toLowerCase() === 'host') {
      if (seen) return true;
      seen = true;
    }
  }
  return false;
}

/** Host header → normalised host: clients send a handful of distinct values, parsed once each. */
const normalizedHosts = new BoundedMap<string, string | null>(1_000);

/** Lowercase host without port or trailing dot; the public URL's host when the client sent none. */
export function normalizedHost(header: string | undefined, publicUrl: URL): string | null {
  if (header === undefined || header === '') return publicUrl.hostname;
  let host = normalizedHosts.get(header);
  if (host === undefined) {
    host = parseHost(header);
    normalizedHosts.set(header, host);
  }
  return host;
}

/** A Host header with anything but a host and port (credentials, a path, a query) is refused. */
function parseHost(header: string): string | null {
  try {
    const url = new URL(`http://${header}`);
    if (url.username !== '' || url.password !== '' || url.pathname !== '/' || url.search !== '') return null;
    return url.hostname.replace(/\.$/, '');
  } catch {
    return null;
  }
}
