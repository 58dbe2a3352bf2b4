// Routes compiled once at start; matched on the normalised host and path of each request.
import type { AllowConfig, RouteConfig } from '../config/schema.js';

export interface CompiledRoute {
  readonly id: string;
  readonly upstream: URL;
  readonly isPublic: boolean;
  readonly allow: AllowConfig | null;
  readonly preserveHost: boolean;
  /** Providers whose sessions this route accepts; null = any. */
  readonly providers: ReadonlySet<string> | null;
  /** Bearer tokens accepted here, if any. */
  readonly bearer: { readonly providers: readonly string[]; readonly audience: string } | null;
  /** For log lines and error pages. */
  readonly description: string;
}

interface Matcher {
  route: CompiledRoute;
  hostExact: string | null;
  /** '.example.com' for '*.example.com' / '.example.com' patterns. */
  hostSuffix: string | null;
  /** The path prefix without its trailing slash ('' for '/'). */
  pathBase: string;
  loosePathBase: string;
  specificity: number;
}

export interface RouteTable {
  /** The most specific route for host (lowercase, no port) and a normalised path, or null. */
  match(host: string, path: string): CompiledRoute | null;
  readonly routes: readonly CompiledRoute[];
  /** Hostnames named by routes, for the return-URL allow-list. */
  readonly hosts: readonly string[];
}

export function compileRoutes(routes: readonly RouteConfig[]): RouteTable {
  const matchers = routes.map(compileOne);
  // Exact host beats wildcard beats any host; then the longest path wins.
  matchers.sort((a, b) => b.specificity - a.specificity);
  return {
    routes: matchers.map((m) => m.route),
    hosts: routes.flatMap((route) => (route.host === undefined ? [] : [route.host])),
    match(host, path) {
      const loosePath = loosenPath(path);
      for (const m of matchers) {
        if (m.hostExact !== null && m.hostExact !== host) continue;
        if (m.hostSuffix !== null && !(host.endsWith(m.hostSuffix) && host.length > m.hostSuffix.length))
          continue;
        // A variant spelling may only ever land on a stricter route: protected routes match
        // regardless of case and ;parameters (IIS, Tomcat, Spring serve '/ADMINS;x/' as '/admins/'),
        // public routes only on the exact path.
        const candidate = m.route.isPublic ? path : loosePath;
        const base = m.route.isPublic ? m.pathBase : m.loosePathBase;
        if (candidate === base || candidate.startsWith(`${base}/`)) return m.route;
      }
      return null;
    },
  };
}

function compileOne(route: RouteConfig): Matcher {
  const host = route.host?.replace(/:\d+$/, '') ?? null;
  const wildcard = host !== null && (host.startsWith('*.') || host.startsWith('.'));
  // '/admins/' and '/admins' both mean the segment 'admins': a request for '/admins' must not
  // fall through to a laxer '/' route while the app serves the admin index there.
  const pathBase = route.path.replace(/\/+$/, '');
  const hostRank = host === null ? 0 : wildcard ? 1 : 2;
  return {
    route: {
      id: route.id,
      upstream: new URL(route.upstream),
      isPublic: route.public,
      allow: route.allow ?? null,
      preserveHost: route.preserveHost,
      providers: route.providers === undefined ? null : new Set(route.providers),
      bearer: route.bearer ?? null,
      description: `${route.host ?? '*'}${route.path}`,
    },
    hostExact: host !== null && !wildcard ? host : null,
    hostSuffix: wildcard ? host.slice(host.indexOf('.')) : null,
    pathBase,
    loosePathBase: loosenPath(pathBase),
    specificity: hostRank * 100_000 + pathBase.length,
  };
}

/** Lowercase, without ';parameters' in any segment: the spelling lenient upstreams resolve a path to. */
/**
 * The spelling every upstream agrees on, for matching protected routes: lowercase (IIS, Windows),
 * path parameters cut (`;x`, and `%3B` which some servers decode before cutting: Tomcat, Spring),
 * trailing dots and spaces of each segment trimmed (Windows, IIS: `/admins./` and `/admins%20/`
 * serve `/admins/`). Segments that would vanish entirely are refused before matching
 * (http/request-path.ts).
 */
function loosenPath(path: string): string {
  let loose = path.toLowerCase();
  if (loose.includes('%3b')) loose = loose.replaceAll('%3b', ';');
  if (loose.includes(';')) loose = loose.replace(/;[^/]*/g, '');
  if (loose.includes('.') || loose.includes('%20')) loose = loose.replace(/(?:\.|%20)+(?=\/|$)/g, '');
  return loose;
}
