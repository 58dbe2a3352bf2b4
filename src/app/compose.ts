// The composition root: the only place that names concrete adapters and wires them together.
import type { Server } from 'node:http';
import type session from 'express-session';
import { createBearerVerifier } from '../access/bearer-tokens.js';
import { createAccessJudge } from '../access/judge.js';
import { createPrincipalReader } from '../access/principal.js';
import { createAssertionMinter } from '../assertion/assertion.js';
import { loadSigningKeys } from '../assertion/signing-keys.js';
import type { Config } from '../config/schema.js';
import { systemClock, type Clock } from '../core/clock.js';
import { createClientAddressing } from '../http/client-address.js';
import { sendError } from '../http/error-response.js';
import { createFrontDoor, type FrontDoor } from '../http/front-door.js';
import { createForwardAuth } from '../forward-auth/forward-auth.js';
import { createSignInUrl } from '../login/sign-in-url.js';
import type { Logger } from '../observability/logger.js';
import { checkReadiness, NotReady } from '../observability/readiness.js';
import { compileGroupRules } from '../core/groups.js';
import { openDirectory } from '../directory/open-directory.js';
import { createBreakGlass } from '../login/break-glass/attempts.js';
import { createLoginCompleter } from '../login/complete-login.js';
import { compileRoutes } from '../policy/route-table.js';
import type { IdentityProvider } from '../providers/identity-provider.js';
import { createProvider } from '../providers/registry.js';
import { planIdentityHeaders } from '../proxy/identity-headers.js';
import { createUpstream } from '../proxy/upstream.js';
import { createGatewayApp } from '../routes/gateway-app.js';
import { gatewayCookieNames, sessionCookieSettings } from '../session/cookie.js';
import { createSessionMiddleware } from '../session/express-session.js';
import { createLogoutHintCookie } from '../session/logout-hint-cookie.js';
import { createSessionLookup } from '../session/lookup.js';
import { createReplayCache } from '../session/replay-cache.js';
import { createSessionIndex } from '../session/session-index.js';
import { createSessionBackend } from '../session/stores/create-backend.js';

export interface Gateway {
  frontDoor: FrontDoor;
  /** The configured session store (express-session's interface); the benchmark fills it directly. */
  sessionStore: session.Store;
  /** Attach to a listening server: requests and WebSocket upgrades. */
  attach(server: Server): void;
  /** Resolves when the session store and the directory answer (never depends on an IdP). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

export async function composeGateway(config: Config, deps: { log: Logger; clock?: Clock }): Promise<Gateway> {
  const clock = deps.clock ?? systemClock;
  const { log } = deps;
  const publicUrl = new URL(config.server.publicUrl);
  const prefix = config.server.prefix;
  const timeouts = { idleMs: config.session.idleTimeout, absoluteMs: config.session.absoluteTimeout };

  const keys = await loadSigningKeys(config.assertion, config.storage.dataDir, clock);
  const backend = createSessionBackend(config.session, { timeouts, clock, log });
  const cookie = sessionCookieSettings(publicUrl, config.session);
  const sessions = createSessionLookup({
    cookieName: cookie.name,
    secrets: config.session.secret,
    reader: backend.reader,
    timeouts,
    clock,
  });
  // Beside the sessions (memory, or the sessions' Redis): one-time SAML message IDs, and
  // (provider, NameID) → session ids for IdP-initiated logout.
  const replayCache = createReplayCache(backend.redis, {
    keyPrefix: config.session.redis?.keyPrefix ?? '',
    clock,
  });
  const sessionIndex = createSessionIndex(backend.redis, {
    keyPrefix: config.session.redis?.keyPrefix ?? '',
    clock,
  });

  const providers = new Map<string, IdentityProvider>(
    await Promise.all(
      config.providers.map(
        async (provider) =>
          [
            provider.id,
            await createProvider(provider, {
              callbackUrl: new URL(`${prefix}/callback/${provider.id}`, publicUrl).href,
              now: () => clock.now(),
              log,
              gatewayUrl: new URL(prefix, publicUrl).href,
              replayCache,
            }),
          ] as const,
      ),
    ),
  );
  const directory = await openDirectory(config.storage);
  const groupRules = new Map(
    config.providers.map((provider) => [provider.id, compileGroupRules(provider.groupSync, config.groups)]),
  );
  const ready = async (): Promise<void> => {
    try {
      await checkReadiness({ 'session store': () => backend.ping(), directory: () => directory.ping() });
    } catch (err) {
      // The probe's 503 names what failed; the cause (refused, auth, timeout) is only logged.
      if (err instanceof NotReady)
        for (const [dependency, cause] of err.failures)
          log.warn({ dependency, err: cause }, `not ready: ${dependency} unreachable`);
      throw err;
    }
  };
  const completeLogin = createLoginCompleter({ directory, groupRules, roles: config.roles, clock, log });
  const bearer = createBearerVerifier({ providers, groupRules, roles: config.roles, clock, log });
  // Break-glass needs no IdP: local hashes, limits in the session store's Redis (or memory), audit in the directory.
  const breakGlass = createBreakGlass({
    config: config.breakGlass,
    roles: config.roles,
    redis: backend.redis,
    keyPrefix: config.session.redis?.keyPrefix ?? '',
    audit: directory,
    clock,
    log,
  });

  const routes = compileRoutes(config.routes);
  const addressing = createClientAddressing(config.server.trustProxy);
  const gatewayApp = createGatewayApp({
    providers,
    routes,
    completeLogin,
    returnUrlPolicy: {
      publicOrigin: publicUrl.origin,
      allowedHosts: [...routes.hosts, ...config.server.allowedRedirectHosts],
    },
    publicUrl,
    prefix,
    cookie,
    // The ID token for logout's id_token_hint, sealed in a cookie only {prefix}/logout receives.
    logoutHint: createLogoutHintCookie({
      cookie,
      secrets: config.session.secret,
      prefix,
      maxAgeMs: timeouts.absoluteMs,
    }),
    clock,
    log,
    jwks: keys.jwks,
    sessions,
    absoluteTimeoutMs: timeouts.absoluteMs,
    storeReady: ready,
    sessionIndex,
    sessionStore: {
      read: (sessionId) => backend.reader.read(sessionId),
      destroy: (sessionId) =>
        new Promise<void>((resolve, reject) =>
          backend.store.destroy(sessionId, (err: unknown) => {
            if (err === undefined || err === null) resolve();
            else
              reject(err instanceof Error ? err : new Error('session store destroy failed', { cause: err }));
          }),
        ),
    },
    breakGlass,
    clientIp: addressing.clientIp,
    showNativeLogin: config.breakGlass.showOnLoginPage && config.breakGlass.users.length > 0,
    sessionMiddleware: createSessionMiddleware({
      store: backend.store,
      secrets: config.session.secret,
      cookie,
      absoluteTimeoutMs: timeouts.absoluteMs,
    }),
  });

  const upstream = createUpstream({ log, onError: (err, req, res) => sendError(err, req, res, log) });
  const headerPlan = planIdentityHeaders(config.headers);
  const signInUrl = createSignInUrl(publicUrl, prefix);
  // One judge for the proxy path and forward-auth: the same principal, policy and assertion.
  const judge = createAccessJudge({
    principals: createPrincipalReader({ sessions, bearer }),
    assertions: createAssertionMinter({ keys, issuer: publicUrl.origin, ttlMs: config.assertion.ttl, clock }),
  });
  const frontDoor = createFrontDoor({
    prefix,
    publicUrl,
    gatewayApp,
    forwardAuth: createForwardAuth({
      authPath: `${prefix}/auth`,
      publicUrl,
      routes,
      headerPlan,
      addressing,
      judge,
      signInUrl,
      log,
    }),
    routes,
    judge,
    signInUrl,
    headerPlan,
    addressing,
    upstream,
    gatewayCookies: gatewayCookieNames(cookie),
    accessLog: config.log.accessLog,
    log,
  });

  return {
    frontDoor,
    sessionStore: backend.store,
    ready,
    attach(server) {
      server.on('request', frontDoor.handleRequest);
      server.on('upgrade', frontDoor.handleUpgrade);
    },
    async close() {
      upstream.close();
      for (const provider of providers.values()) provider.close?.();
      replayCache.close();
      sessionIndex.close();
      await backend.close();
      await directory.close();
    },
  };
}
