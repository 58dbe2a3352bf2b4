// Rules that span keys or sections, run after the schema accepted every key on its own.
// Errors refuse the config; warnings are printed at start and by check-config.
import { canonicalHeaderName, RESERVED_HEADER_NAMES } from '../core/header-names.js';
import { roleMapReachesAdmin } from '../core/roles.js';
import { breakGlassConfigIssues, breakGlassReachesAdmin } from './break-glass-checks.js';
import { entraConfigWarnings } from './providers/entra-schema.js';
import { oauth2ConfigIssues, oauth2ConfigWarnings } from './providers/oauth2-schema.js';
import { oktaConfigIssues, oktaConfigWarnings } from './providers/okta-schema.js';
import { samlConfigIssues, samlConfigWarnings } from './providers/saml-schema.js';
import type { ConfigIssue } from './issues.js';
import type { Config, OidcProviderConfig, ProviderConfig } from './schema.js';

export interface CrossCheckResult {
  errors: ConfigIssue[];
  warnings: ConfigIssue[];
}

const isLoopbackHost = (host: string): boolean =>
  host === 'localhost' || host === '127.0.0.1' || host === '[::1]' || host.endsWith('.localhost');

export function crossCheck(config: Config): CrossCheckResult {
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const error = (path: string, message: string) => errors.push({ path, message });
  const warn = (path: string, message: string) => warnings.push({ path, message });

  const publicUrl = new URL(config.server.publicUrl);
  if (publicUrl.protocol === 'http:' && !isLoopbackHost(publicUrl.hostname)) {
    warn('server.publicUrl', 'is plain http: session cookies are not Secure and can be read in transit');
  }

  const { session } = config;
  if (config.server.workers !== 1 && session.store !== 'redis') {
    error(
      'server.workers',
      'needs session.store: redis (each worker has its own memory store, so sessions would not be shared)',
    );
  }
  if (session.store === 'redis' && session.redis === undefined) {
    error('session.redis', 'is required when session.store is redis');
  }
  if (session.cookieName?.startsWith('__Host-') && session.cookieDomain !== undefined) {
    error(
      'session.cookieName',
      'a __Host- cookie cannot carry a Domain: remove session.cookieDomain or rename',
    );
  }
  if (session.cookieName?.startsWith('__Host-') && publicUrl.protocol !== 'https:') {
    error('session.cookieName', 'a __Host- cookie needs an https publicUrl (browsers refuse it otherwise)');
  }
  if (session.absoluteTimeout < session.idleTimeout) {
    warn(
      'session.absoluteTimeout',
      'is shorter than session.idleTimeout: sessions end at the absolute timeout',
    );
  }
  if (session.store === 'redis' && config.assertion.signingKey === undefined) {
    warn(
      'assertion.signingKey',
      'is not set while sessions are shared through Redis: each replica that does not share storage.dataDir signs with its own key, and apps must fetch /jwks.json from the replica that signed',
    );
  }

  const providerIds = new Set<string>();
  config.providers.forEach((provider, index) => {
    const at = `providers.${index}`;
    if (providerIds.has(provider.id)) error(`${at}.id`, `duplicates provider id '${provider.id}'`);
    providerIds.add(provider.id);
    const { errors: providerErrors, warnings: providerWarnings } = providerIssues(provider, at);
    errors.push(...providerErrors);
    warnings.push(...providerWarnings);
  });

  const routeIds = new Set<string>();
  // '/a' and '/a/' are the same segment: two such routes would silently shadow one another.
  const routeKeys = new Map<string, number>();
  const prefix = config.server.prefix;
  config.routes.forEach((route, index) => {
    const at = `routes.${index}`;
    const id = route.id;
    if (routeIds.has(id)) error(`${at}.id`, `duplicates route id '${id}' (give one route an explicit id)`);
    routeIds.add(id);
    const key = `${route.host ?? '*'} ${route.path.replace(/\/+$/, '').toLowerCase()}`;
    const earlier = routeKeys.get(key);
    if (earlier !== undefined) error(`${at}.path`, `matches the same requests as routes.${earlier}`);
    else routeKeys.set(key, index);
    if (route.path === prefix || route.path.startsWith(`${prefix}/`)) {
      error(`${at}.path`, `is inside the gateway's reserved prefix ${prefix}`);
    }
    if (route.public && route.allow !== undefined) {
      error(`${at}.allow`, 'cannot be combined with public: true (a public route skips authentication)');
    }
    const allow = route.allow;
    const allowsSomeone =
      allow !== undefined &&
      (allow.authenticated ||
        allow.groups.length + allow.roles.length + allow.emails.length + allow.emailDomains.length > 0);
    if (!route.public && !allowsSomeone) {
      warn(`${at}.allow`, 'names nobody: every request to this route is denied (the default is deny)');
    }
  });

  config.routes.forEach((route, index) => {
    for (const [key, ids] of [
      ['providers', route.providers ?? []],
      ['bearer.providers', route.bearer?.providers ?? []],
    ] as const) {
      ids.forEach((id, i) => {
        if (!providerIds.has(id))
          error(`routes.${index}.${key}.${i}`, `names provider '${id}', which is not configured`);
      });
    }
  });

  // Admins must never lock themselves out: some group or some break-glass user must hold admin.
  if (!roleMapReachesAdmin(config.roles) && !breakGlassReachesAdmin(config)) {
    error(
      'roles.admin',
      'no group and no break-glass user maps to the admin role: map a group (roles: { admin: { groups: [gw-admins] } }) or give a breakGlass.users entry roles: [admin]',
    );
  }
  const breakGlass = breakGlassConfigIssues(config);
  errors.push(...breakGlass.errors);
  warnings.push(...breakGlass.warnings);

  const seenHeaders = new Map<string, string>();
  for (const [key, name] of Object.entries(config.headers)) {
    const canonical = canonicalHeaderName(name);
    if (RESERVED_HEADER_NAMES.has(canonical))
      error(`headers.${key}`, `'${name}' is a header the gateway must not reuse`);
    const other = seenHeaders.get(canonical);
    if (other !== undefined) error(`headers.${key}`, `'${name}' is the same header as headers.${other}`);
    seenHeaders.set(canonical, key);
  }

  return { errors, warnings };
}

/** Per-type rules for one provider entry. */
function providerIssues(provider: ProviderConfig, at: string): CrossCheckResult {
  switch (provider.type) {
    case 'oidc':
      return oidcIssues(provider, at);
    case 'okta':
      return { errors: oktaConfigIssues(provider, at), warnings: oktaConfigWarnings(provider, at) };
    case 'oauth2':
      return { errors: oauth2ConfigIssues(provider, at), warnings: oauth2ConfigWarnings(provider, at) };
    case 'entra':
      return { errors: [], warnings: entraConfigWarnings(provider, at) };
    case 'saml':
      return { errors: samlConfigIssues(provider, at), warnings: samlConfigWarnings(provider, at) };
  }
}

function oidcIssues(provider: OidcProviderConfig, at: string): CrossCheckResult {
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  if (provider.clientAuth === 'private_key_jwt' && provider.privateKey === undefined) {
    errors.push({ path: `${at}.privateKeyFile`, message: 'is required when clientAuth is private_key_jwt' });
  }
  if (provider.clientAuth !== 'private_key_jwt' && provider.clientSecret === undefined) {
    errors.push({
      path: `${at}.clientSecret`,
      message: `is required when clientAuth is ${provider.clientAuth}`,
    });
  }
  if (new URL(provider.issuer).protocol === 'http:' && !provider.insecureAllowHttpIssuer) {
    errors.push({
      path: `${at}.issuer`,
      message: 'is plain http: set insecureAllowHttpIssuer: true for a local test IdP only',
    });
  }
  if (provider.insecureAllowHttpIssuer) {
    warnings.push({
      path: `${at}.insecureAllowHttpIssuer`,
      message: 'plain-HTTP issuer allowed: tokens can be read or forged in transit',
    });
  }
  return { errors, warnings };
}
