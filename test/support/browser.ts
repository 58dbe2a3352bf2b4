// A scripted browser for integration tests: navigations with browser-like headers, a cookie jar
// with the RFC 6265 rules that matter to a login gateway, and form submission.
//
// It deliberately uses node:http rather than global fetch: fetch always sends
// `Sec-Fetch-Mode: cors`, which the gateway rightly answers as an API client (401, no redirect).
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { scaled } from './timing.js';

export interface BrowserResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The URL that produced this response. */
  url: string;
}

export interface BrowserRequestInit {
  method?: string;
  /** Override the browser's defaults (case-insensitive); an empty string removes a default header. */
  headers?: Record<string, string>;
  body?: string;
  /** Sent as an application/x-www-form-urlencoded body; makes the default method POST. */
  form?: Record<string, string>;
  /**
   * URL of the page this request comes from (a link or form on it). Absent means the user typed
   * the URL: `Sec-Fetch-Site: none` and no Origin. Present: Origin on non-GET requests,
   * Referer, and Sec-Fetch-Site computed against it.
   */
  referrer?: string;
}

export interface NavigationResult {
  final: BrowserResponse;
  chain: BrowserResponse[];
}

export interface TestBrowserOptions {
  /** Headers sent with every request, e.g. a specific User-Agent or client hints. */
  userAgentHeaders?: Record<string, string>;
  /** Extra CA certificate(s) to trust for https (e.g. a test gateway's self-signed certificate). */
  ca?: string | Buffer;
}

interface StoredCookie {
  name: string;
  value: string;
  domain: string;
  hostOnly: boolean;
  path: string;
  secure: boolean;
  expiresAt: number | undefined;
  createdAt: number;
}

interface OutgoingRequest {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
}

const MAX_REDIRECTS = 20;
/** An idle socket this long (scaled with the machine's load) fails the request instead of hanging. */
const REQUEST_TIMEOUT_MS = 30_000;
const DEFAULT_USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) PortcullisTestBrowser/1.0';

export class TestBrowser {
  readonly #userAgentHeaders: Record<string, string>;
  readonly #cookies: StoredCookie[] = [];
  // No keep-alive: tests restart servers on the same port, and a reused stale socket would
  // turn into a confusing "socket hang up" in an unrelated test.
  readonly #httpAgent = new HttpAgent({ keepAlive: false });
  readonly #httpsAgent: HttpsAgent;
  #cookieClock = 0;

  constructor(options: TestBrowserOptions = {}) {
    this.#userAgentHeaders = lowerCaseKeys({ 'user-agent': DEFAULT_USER_AGENT, ...options.userAgentHeaders });
    this.#httpsAgent = new HttpsAgent(
      options.ca === undefined ? { keepAlive: false } : { keepAlive: false, ca: options.ca },
    );
  }

  /** One request, no redirect following; sends stored cookies and stores Set-Cookie. */
  request(url: string, init: BrowserRequestInit = {}): Promise<BrowserResponse> {
    const target = new URL(url);
    const method = (init.method ?? (init.form ? 'POST' : 'GET')).toUpperCase();
    const initiator = init.referrer === undefined ? undefined : new URL(init.referrer);
    return this.#send({
      url: target,
      method,
      headers: this.#headersFor(target, method, init, { initiator, urlList: [target], originTainted: false }),
      body: bodyOf(init),
    });
  }

  /** Follows redirects (max 20) like a browser navigation: 303, and 301/302 after POST, become GET. */
  async navigate(url: string, init: BrowserRequestInit = {}): Promise<NavigationResult> {
    const initiator = init.referrer === undefined ? undefined : new URL(init.referrer);
    const urlList = [new URL(url)];
    let method = (init.method ?? (init.form ? 'POST' : 'GET')).toUpperCase();
    let current: BrowserRequestInit = init;
    let body = bodyOf(init);
    let originTainted = false;
    const chain: BrowserResponse[] = [];

    for (;;) {
      const target = urlList[urlList.length - 1] as URL;
      const headers = this.#headersFor(target, method, current, { initiator, urlList, originTainted });
      const response = await this.#send({ url: target, method, headers, body });
      chain.push(response);

      const next = redirectTarget(response);
      if (!next) return { final: response, chain };
      if (chain.length > MAX_REDIRECTS) {
        throw new Error(`more than ${MAX_REDIRECTS} redirects, last to ${next.href}`);
      }
      if (becomesGet(response.status, method)) {
        method = 'GET';
        body = undefined;
        current = withoutBody(current);
      }
      originTainted ||= next.origin !== target.origin && next.origin !== initiator?.origin;
      urlList.push(next);
    }
  }

  /** The Cookie header this browser would send to `url`. */
  cookieHeaderFor(url: string): string {
    return this.#cookiesFor(new URL(url))
      .map((cookie) => `${cookie.name}=${cookie.value}`)
      .join('; ');
  }

  /** The cookies this browser would send to `url`, by name. */
  cookies(url: string): Map<string, string> {
    return new Map(this.#cookiesFor(new URL(url)).map((cookie) => [cookie.name, cookie.value]));
  }

  /** Plants a host-only session cookie with Path=/ (Secure when `url` is https), as devtools would. */
  setCookie(url: string, name: string, value: string): void {
    const target = new URL(url);
    this.#store({
      name,
      value,
      domain: hostOf(target),
      hostOnly: true,
      path: '/',
      secure: target.protocol === 'https:',
      expiresAt: undefined,
      createdAt: this.#cookieClock++,
    });
  }

  clearCookies(): void {
    this.#cookies.length = 0;
  }

  #headersFor(
    target: URL,
    method: string,
    init: BrowserRequestInit,
    context: { initiator: URL | undefined; urlList: URL[]; originTainted: boolean },
  ): Record<string, string> {
    const defaults: Record<string, string> = {
      ...this.#userAgentHeaders,
      accept: 'text/html,application/xhtml+xml,*/*;q=0.8',
      'sec-fetch-mode': 'navigate',
      'sec-fetch-dest': 'document',
      'sec-fetch-site': secFetchSite(context.initiator, context.urlList),
      'sec-fetch-user': '?1',
    };
    if (context.initiator) {
      const referer = refererFor(context.initiator, target);
      if (referer) defaults['referer'] = referer;
      // Browsers send Origin on every non-GET/HEAD request; 'null' after a cross-origin redirect.
      if (method !== 'GET' && method !== 'HEAD') {
        defaults['origin'] = context.originTainted ? 'null' : context.initiator.origin;
      }
    }
    if (init.form) defaults['content-type'] = 'application/x-www-form-urlencoded';
    const cookie = this.cookieHeaderFor(target.href);
    if (cookie) defaults['cookie'] = cookie;

    const merged = { ...defaults, ...lowerCaseKeys(init.headers ?? {}) };
    return Object.fromEntries(Object.entries(merged).filter(([, value]) => value !== ''));
  }

  #send(outgoing: OutgoingRequest): Promise<BrowserResponse> {
    const { url, method, headers, body } = outgoing;
    const isHttps = url.protocol === 'https:';
    if (!isHttps && url.protocol !== 'http:') throw new Error(`TestBrowser cannot fetch ${url.href}`);
    const send = isHttps ? httpsRequest : httpRequest;
    const agent = isHttps ? this.#httpsAgent : this.#httpAgent;

    return new Promise<BrowserResponse>((resolve, reject) => {
      const req = send(url, { method, headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          this.#storeSetCookies(url, res.headers['set-cookie'] ?? []);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            url: url.href,
          });
        });
      });
      req.setTimeout(scaled(REQUEST_TIMEOUT_MS), () =>
        req.destroy(new Error(`timed out: ${method} ${url.href}`)),
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  // -------------------------------------------------------------------------------------------
  // Cookie jar (RFC 6265 section 5, plus the Secure and prefix rules of RFC 6265bis)

  #storeSetCookies(url: URL, setCookies: string[]): void {
    for (const line of setCookies) {
      const cookie = parseSetCookie(line, url, this.#cookieClock++);
      if (cookie) this.#store(cookie);
    }
  }

  #store(cookie: StoredCookie): void {
    const index = this.#cookies.findIndex(
      (stored) =>
        stored.name === cookie.name && stored.domain === cookie.domain && stored.path === cookie.path,
    );
    const expired = cookie.expiresAt !== undefined && cookie.expiresAt <= Date.now();
    if (index === -1) {
      if (!expired) this.#cookies.push(cookie);
      return;
    }
    // A replaced cookie keeps its creation time, which decides the order in the Cookie header.
    const replaced = this.#cookies[index] as StoredCookie;
    if (expired) this.#cookies.splice(index, 1);
    else this.#cookies[index] = { ...cookie, createdAt: replaced.createdAt };
  }

  #cookiesFor(url: URL): StoredCookie[] {
    const now = Date.now();
    const host = hostOf(url);
    const path = url.pathname || '/';
    return this.#cookies
      .filter(
        (cookie) =>
          (cookie.expiresAt === undefined || cookie.expiresAt > now) &&
          (cookie.hostOnly ? cookie.domain === host : domainMatches(host, cookie.domain)) &&
          pathMatches(path, cookie.path) &&
          (!cookie.secure || url.protocol === 'https:'),
      )
      .sort((a, b) => b.path.length - a.path.length || a.createdAt - b.createdAt);
  }
}

// ---------------------------------------------------------------------------------------------
// Forms

/**
 * Submits the first <form> of `page` the way a browser would: action resolved against the page
 * URL, its hidden inputs merged with `fields` (fields win), its method (default GET), then
 * follows redirects.
 */
export function submitFirstForm(
  browser: TestBrowser,
  page: BrowserResponse,
  fields: Record<string, string>,
): Promise<NavigationResult> {
  const form = findFirstForm(page.body);
  if (!form) throw new Error(`no <form> in the page at ${page.url} (status ${page.status})`);

  const action = new URL(form.action || page.url, page.url);
  const pairs = [...form.hiddenInputs.filter(([name]) => !(name in fields)), ...Object.entries(fields)];
  if (form.method === 'post') {
    return browser.navigate(action.href, {
      method: 'POST',
      form: Object.fromEntries(pairs),
      referrer: page.url,
    });
  }
  action.search = new URLSearchParams(pairs).toString();
  action.hash = '';
  return browser.navigate(action.href, { referrer: page.url });
}

/** Fills in dev/local-idp's login form and follows redirects to wherever they end. */
export function loginAtLocalIdp(
  browser: TestBrowser,
  loginPage: BrowserResponse,
  username: string,
  password: string,
): Promise<NavigationResult> {
  if (!/action="\/interaction\/[^"]+\/login"/.test(loginPage.body)) {
    throw new Error(
      `expected the local IdP login form, got status ${loginPage.status} at ${loginPage.url}:\n${loginPage.body.slice(0, 500)}`,
    );
  }
  return submitFirstForm(browser, loginPage, { login: username, password });
}

interface ParsedForm {
  action: string;
  method: string;
  hiddenInputs: Array<[string, string]>;
}

// A regular-expression reading of HTML: good enough for the pages of this project's own
// servers and oidc-provider, not for arbitrary markup.
function findFirstForm(html: string): ParsedForm | undefined {
  const open = /<form\b([^>]*)>/i.exec(html);
  if (!open) return undefined;
  const rest = html.slice(open.index + open[0].length);
  const close = rest.search(/<\/form\s*>/i);
  const inner = close === -1 ? rest : rest.slice(0, close);
  const attributes = parseAttributes(open[1] ?? '');

  const hiddenInputs: Array<[string, string]> = [];
  for (const input of inner.matchAll(/<input\b([^>]*)>/gi)) {
    const attrs = parseAttributes(input[1] ?? '');
    const name = attrs.get('name');
    if ((attrs.get('type') ?? '').toLowerCase() === 'hidden' && name) {
      hiddenInputs.push([name, attrs.get('value') ?? '']);
    }
  }
  return {
    action: attributes.get('action') ?? '',
    method: (attributes.get('method') ?? 'get').toLowerCase(),
    hiddenInputs,
  };
}

function parseAttributes(source: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const match of source.matchAll(/([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?/g)) {
    const name = (match[1] ?? '').toLowerCase();
    if (!attributes.has(name)) attributes.set(name, decodeEntities(match[2] ?? match[3] ?? match[4] ?? ''));
  }
  return attributes;
}

const NAMED_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (entity, body: string) => {
    if (body.startsWith('#x') || body.startsWith('#X'))
      return String.fromCodePoint(parseInt(body.slice(2), 16));
    if (body.startsWith('#')) return String.fromCodePoint(parseInt(body.slice(1), 10));
    return NAMED_ENTITIES[body.toLowerCase()] ?? entity;
  });
}

// ---------------------------------------------------------------------------------------------
// Navigation helpers

function bodyOf(init: BrowserRequestInit): string | undefined {
  return init.form ? new URLSearchParams(init.form).toString() : init.body;
}

function withoutBody(init: BrowserRequestInit): BrowserRequestInit {
  const rest: BrowserRequestInit = { ...init };
  delete rest.form;
  delete rest.body;
  delete rest.headers;
  if (!init.headers) return rest;
  const kept = Object.entries(init.headers).filter(([name]) => name.toLowerCase() !== 'content-type');
  return { ...rest, headers: Object.fromEntries(kept) };
}

function redirectTarget(response: BrowserResponse): URL | undefined {
  if (![301, 302, 303, 307, 308].includes(response.status)) return undefined;
  const location = response.headers.location;
  if (!location) return undefined;
  const next = new URL(location, response.url);
  // A redirect to a custom scheme (an app callback) ends the navigation here.
  return next.protocol === 'http:' || next.protocol === 'https:' ? next : undefined;
}

function becomesGet(status: number, method: string): boolean {
  return (status === 303 && method !== 'HEAD') || ((status === 301 || status === 302) && method === 'POST');
}

// Fetch Metadata: 'none' for user-typed navigations, else the weakest relation between the
// initiating page and every URL of the redirect chain.
function secFetchSite(initiator: URL | undefined, urlList: URL[]): string {
  if (!initiator) return 'none';
  let site = 'same-origin';
  for (const url of urlList) {
    if (url.origin === initiator.origin) continue;
    if (!isSameSite(url, initiator)) return 'cross-site';
    site = 'same-site';
  }
  return site;
}

// Schemeful same-site, with "registrable domain" approximated by the last two labels (no
// public suffix list); ports do not matter, so 127.0.0.1:1 and 127.0.0.1:2 are same-site.
function isSameSite(a: URL, b: URL): boolean {
  return a.protocol === b.protocol && registrableDomain(hostOf(a)) === registrableDomain(hostOf(b));
}

function registrableDomain(host: string): string {
  if (isIP(host.replace(/^\[|\]$/g, ''))) return host;
  return host.split('.').slice(-2).join('.');
}

// strict-origin-when-cross-origin, the browsers' default referrer policy.
function refererFor(initiator: URL, target: URL): string | undefined {
  if (initiator.protocol === 'https:' && target.protocol !== 'https:') return undefined;
  if (initiator.origin === target.origin) {
    const referer = new URL(initiator.href);
    referer.hash = '';
    return referer.href;
  }
  return `${initiator.origin}/`;
}

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}

// ---------------------------------------------------------------------------------------------
// Cookie parsing and matching

function hostOf(url: URL): string {
  return url.hostname.toLowerCase();
}

function parseSetCookie(line: string, url: URL, createdAt: number): StoredCookie | undefined {
  const [pair = '', ...attributeParts] = line.split(';');
  const equals = pair.indexOf('=');
  if (equals === -1) return undefined;
  const name = pair.slice(0, equals).trim();
  const value = pair.slice(equals + 1).trim();
  if (!name) return undefined;

  const attributes = parseCookieAttributes(attributeParts);
  const host = hostOf(url);
  const isSecureRequest = url.protocol === 'https:';
  const domainAttribute = attributes.domain;
  if (domainAttribute !== undefined && !domainMatches(host, domainAttribute)) return undefined;
  // RFC 6265bis: an insecure page may not set Secure cookies, and the prefixes demand Secure.
  if (attributes.secure && !isSecureRequest) return undefined;
  const lowerName = name.toLowerCase();
  if (lowerName.startsWith('__secure-') && !attributes.secure) return undefined;
  if (lowerName.startsWith('__host-')) {
    if (!attributes.secure || domainAttribute !== undefined || attributes.path !== '/') return undefined;
  }

  return {
    name,
    value,
    domain: domainAttribute ?? host,
    hostOnly: domainAttribute === undefined,
    path: attributes.path ?? defaultCookiePath(url),
    secure: attributes.secure,
    expiresAt: attributes.expiresAt,
    createdAt,
  };
}

interface CookieAttributes {
  domain: string | undefined;
  path: string | undefined;
  secure: boolean;
  expiresAt: number | undefined;
}

function parseCookieAttributes(parts: string[]): CookieAttributes {
  const attributes: CookieAttributes = {
    domain: undefined,
    path: undefined,
    secure: false,
    expiresAt: undefined,
  };
  let maxAgeExpiry: number | undefined;
  let expiresExpiry: number | undefined;
  for (const part of parts) {
    const equals = part.indexOf('=');
    const key = (equals === -1 ? part : part.slice(0, equals)).trim().toLowerCase();
    const value = equals === -1 ? '' : part.slice(equals + 1).trim();
    if (key === 'secure') attributes.secure = true;
    else if (key === 'path') attributes.path = value.startsWith('/') ? value : undefined;
    else if (key === 'domain' && value) attributes.domain = value.replace(/^\./, '').toLowerCase();
    else if (key === 'max-age' && /^-?\d+$/.test(value)) {
      const seconds = Number(value);
      maxAgeExpiry = seconds <= 0 ? 0 : Date.now() + seconds * 1000;
    } else if (key === 'expires') {
      const time = Date.parse(value);
      if (!Number.isNaN(time)) expiresExpiry = time;
    }
  }
  // Max-Age wins over Expires when both are present.
  attributes.expiresAt = maxAgeExpiry ?? expiresExpiry;
  return attributes;
}

function defaultCookiePath(url: URL): string {
  const path = url.pathname;
  if (!path.startsWith('/') || path.lastIndexOf('/') === 0) return '/';
  return path.slice(0, path.lastIndexOf('/'));
}

function domainMatches(host: string, domain: string): boolean {
  if (host === domain) return true;
  return !isIP(host.replace(/^\[|\]$/g, '')) && host.endsWith(`.${domain}`);
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}
