// The configuration schema: one strict zod schema per section, defaults and units beside each key.
// Unknown keys are errors (a typo must not silently fall back to a default). Secrets arrive here
// already read from their *File keys (config/load.ts), so the schema only knows the value keys.
import proxyAddr from 'proxy-addr';
import { z } from 'zod';
import { breakGlassSchema } from './break-glass-schema.js';
import { groupName, type groupSyncSchema } from './group-sync-schema.js';
import { providerSchema, type oidcProviderSchema } from './provider-schemas.js';
import {
  durationBetween,
  headerName,
  hostPattern,
  httpUrl,
  parsedUrl,
  pemPrivateKey,
} from './schema-parts.js';

export const serverSchema = z.strictObject({
  /** host:port or a bare port. */
  listen: z
    .union([z.string(), z.number().int()])
    .default('0.0.0.0:8080')
    .transform((value) => String(value))
    .refine((text) => /^(\[[0-9a-f:.]+\]:|[^:\s]+:)?\d{1,5}$/i.test(text), 'must be host:port or a port'),
  /** The URL users reach the gateway at; cookie flags and redirect URIs derive from it. */
  publicUrl: httpUrl.refine((text) => {
    const url = parsedUrl(text);
    return url === null || (url.pathname === '/' && url.search === '' && url.hash === '');
  }, 'must be an origin without a path, such as https://apps.example.com'),
  /** The gateway's own routes live under this single path segment. */
  prefix: z
    .string()
    .regex(/^\/[A-Za-z0-9._~-]+$/, 'must be one path segment such as /.portcullis')
    .default('/.portcullis'),
  /**
   * Which peers may tell us the client address and scheme (X-Forwarded-*): a number of hops, or a list
   * of addresses/CIDRs (and 'loopback', 'linklocal', 'uniquelocal'). 0, the default, trusts nobody.
   */
  trustProxy: z
    .union([z.number().int().min(0).max(10), z.array(z.string().min(1)).min(1)])
    .default(0)
    .refine((value) => {
      if (typeof value === 'number') return true;
      try {
        proxyAddr.compile(value);
        return true;
      } catch {
        return false;
      }
    }, 'must be a hop count or a list of IP addresses, CIDRs, loopback, linklocal or uniquelocal'),
  /** Hosts besides publicUrl's and the routes' that a post-login return URL may point at. */
  allowedRedirectHosts: z.array(hostPattern).default([]),
  /** Seconds in-flight requests and open WebSockets get to finish after SIGTERM before they are closed. */
  shutdownGraceSeconds: z.number().int().min(0).max(600).default(10),
  /** A second listener (host:port) serving only /healthz and /readyz, without auth: kubelet probes in sidecar mode. */
  healthListen: z
    .union([z.string(), z.number().int()])
    .transform((value) => String(value))
    .refine((text) => /^(\[[0-9a-f:.]+\]:|[^:\s]+:)?\d{1,5}$/i.test(text), 'must be host:port or a port')
    .optional(),
  /** Worker processes: 1, a number, or 'auto' (one per core). More than 1 needs the Redis session store. */
  workers: z.union([z.number().int().min(1).max(64), z.literal('auto')]).default(1),
});

export const sessionSchema = z.strictObject({
  /**
   * Signs the session cookie. Newline-separated values (from secretFile) rotate: the first signs,
   * all verify. At least 32 characters each.
   */
  secret: z
    .string()
    .transform((text) =>
      text
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line !== ''),
    )
    .refine((secrets) => secrets.length > 0, 'must not be empty')
    .refine((secrets) => secrets.every((s) => s.length >= 32), 'must be at least 32 characters'),
  /** Defaults to __Host-portcullis on https (no Domain allowed then) and portcullis on http. */
  cookieName: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'must be letters, digits, _ or -')
    .optional(),
  /** Share the cookie with subdomains (routes on several hosts). Disables the __Host- prefix. */
  cookieDomain: hostPattern.optional(),
  /** Sliding: each request extends it. */
  idleTimeout: durationBetween(60_000, 30 * 86_400_000, '1m', '30d').default(8 * 3_600_000),
  /** Counted from login, never extended. */
  absoluteTimeout: durationBetween(60_000, 90 * 86_400_000, '1m', '90d').default(24 * 3_600_000),
  store: z.enum(['memory', 'redis']).default('memory'),
  memory: z
    .strictObject({
      /** The oldest-used sessions are dropped beyond this many. */
      maxSessions: z.number().int().min(10).max(10_000_000).default(100_000),
    })
    .default({ maxSessions: 100_000 }),
  redis: z
    .strictObject({
      url: z.string().refine((text) => /^rediss?:\/\//.test(text), 'must be a redis:// or rediss:// URL'),
      keyPrefix: z.string().default('portcullis:'),
      /**
       * Sessions read from Redis are kept in-process this long, so the hot path skips the round trip.
       * Logouts and revocations reach every replica at once over Redis pub/sub; the TTL only bounds
       * how long a replica that missed such a message could still accept the session. 0s: no cache.
       */
      cache: z
        .strictObject({
          ttl: durationBetween(0, 60_000, '0s', '60s').default(5_000),
          maxEntries: z.number().int().min(100).max(1_000_000).default(10_000),
        })
        .default({ ttl: 5_000, maxEntries: 10_000 }),
    })
    .optional(),
});

export const allowSchema = z.strictObject({
  /** Any signed-in user. */
  authenticated: z.boolean().default(false),
  groups: z.array(z.string().min(1)).default([]),
  roles: z.array(z.string().min(1)).default([]),
  emails: z
    .array(
      z
        .string()
        .min(3)
        .transform((text) => text.toLowerCase()),
    )
    .default([]),
  emailDomains: z.array(hostPattern).default([]),
});

export const routeSchema = z
  .strictObject({
    /** Names the route in logs and is the assertion's audience. Defaults to host + path. */
    id: z
      .string()
      .regex(/^[A-Za-z0-9._:/-]+$/, 'must be letters, digits and . _ : / -')
      .optional(),
    /** Exact host, or *.example.com. Absent: any host. */
    host: hostPattern.optional(),
    /** Path prefix, matched on whole segments of the normalised path. */
    path: z
      .string()
      .regex(/^\/[^\s?#\\]*$/, 'must start with / and hold no spaces, ? or #')
      .default('/'),
    upstream: httpUrl,
    /** Skip authentication; identity headers sent by the client are still stripped. */
    public: z.boolean().default(false),
    allow: allowSchema.optional(),
    /** Send the client's Host header upstream instead of the upstream's own host. */
    preserveHost: z.boolean().default(false),
    /** Only sessions from these providers are accepted here (others are asked to sign in with one of them). */
    providers: z.array(z.string().min(1)).min(1).optional(),
    /** Also accept `Authorization: Bearer` access tokens (scripts, services), verified locally against the provider's JWKS. */
    bearer: z
      .strictObject({
        providers: z.array(z.string().min(1)).min(1),
        /** The token's required `aud`. */
        audience: z.string().min(1),
      })
      .optional(),
  })
  // The id defaults to host + path, so every later stage reads one field.
  .transform((route) => ({ ...route, id: route.id ?? `${route.host ?? '*'}${route.path}` }));

export const headersSchema = z
  .strictObject({
    user: headerName.default('X-Auth-Request-User'),
    email: headerName.default('X-Auth-Request-Email'),
    groups: headerName.default('X-Auth-Request-Groups'),
    name: headerName.default('X-Auth-Request-Name'),
    assertion: headerName.default('X-Portcullis-Assertion'),
  })
  .default({
    user: 'X-Auth-Request-User',
    email: 'X-Auth-Request-Email',
    groups: 'X-Auth-Request-Groups',
    name: 'X-Auth-Request-Name',
    assertion: 'X-Portcullis-Assertion',
  });

export const assertionSchema = z
  .strictObject({
    /** Lifetime of each signed assertion. Short: a leaked header is useless soon. */
    ttl: durationBetween(30_000, 3_600_000, '30s', '1h').default(300_000),
    /** ES256 (P-256) private key in PEM. Without it a key is generated and kept in storage.dataDir. */
    signingKey: pemPrivateKey.optional(),
    /** The key signingKey replaced; still published in /jwks.json so verifying apps never break. */
    previousSigningKey: pemPrivateKey.optional(),
    /** How long a generated key signs before it is rotated (the old one stays published). */
    rotateAfter: durationBetween(86_400_000, 365 * 86_400_000, '1d', '365d').default(30 * 86_400_000),
  })
  .default({ ttl: 300_000, rotateAfter: 30 * 86_400_000 });

export const storageSchema = z
  .strictObject({
    /** Where generated state lives (signing keys; the SQLite file by default). */
    dataDir: z.string().min(1).default('./data'),
    /** The embedded directory database. Default: {dataDir}/portcullis.db. */
    sqlite: z.strictObject({ path: z.string().min(1).optional() }).optional(),
    /** PostgreSQL for several replicas (one directory shared by all). */
    postgres: z
      .strictObject({
        url: z.string().refine((text) => /^postgres(ql)?:\/\//.test(text), 'must be a postgres:// URL'),
      })
      .optional(),
  })
  .default({ dataDir: './data' });

export const groupsSchema = z
  .strictObject({
    /** Every external user is a member of these. */
    default: z.array(groupName).default(['all-users']),
    /** Local groups no IdP can grant or remove (sync ignores them). */
    builtIn: z.array(groupName).default([]),
  })
  .default({ default: ['all-users'], builtIn: [] });

/** Roles are cumulative over groups: a user holds every role one of whose groups they are in. */
export const rolesSchema = z
  .record(
    z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'role names are lowercase letters, digits, _ or -'),
    z.strictObject({ groups: z.array(groupName).default([]) }),
  )
  .default({});

export const logSchema = z
  .strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** Log every proxied request (at info). Off by default: the hot path stays quiet. */
    accessLog: z.boolean().default(false),
  })
  .default({ level: 'info', accessLog: false });

export const configSchema = z.strictObject({
  server: serverSchema,
  session: sessionSchema,
  providers: z.array(providerSchema).min(1, 'must configure at least one identity provider'),
  routes: z.array(routeSchema).min(1, 'must configure at least one route'),
  headers: headersSchema,
  assertion: assertionSchema,
  storage: storageSchema,
  groups: groupsSchema,
  roles: rolesSchema,
  log: logSchema,
  breakGlass: breakGlassSchema,
});

export type Config = z.output<typeof configSchema>;
export type ServerConfig = Config['server'];
export type SessionConfig = Config['session'];
export type ProviderConfig = Config['providers'][number];
export type OidcProviderConfig = z.output<typeof oidcProviderSchema>;
export type RouteConfig = Config['routes'][number];
export type AllowConfig = z.output<typeof allowSchema>;
export type HeaderNamesConfig = Config['headers'];
export type AssertionConfig = Config['assertion'];
export type StorageConfig = Config['storage'];
export type GroupsConfig = Config['groups'];
export type RolesConfig = Config['roles'];
export type GroupSyncConfig = z.output<typeof groupSyncSchema>;
export type BreakGlassConfig = Config['breakGlass'];
