// Small read-only endpoints: the JWKS apps verify assertions with, the session's identity, health.
import { Router } from 'express';
import { NotSignedIn } from '../core/errors.js';
import { sendJson } from '../http/pages.js';
import { notReadyBody } from '../observability/readiness.js';
import type { SessionLookup } from '../session/lookup.js';

export interface InfoRoutesDeps {
  jwks: { keys: object[] };
  sessions: SessionLookup;
  absoluteTimeoutMs: number;
  /**
   * Resolves when the session store and the directory answer; rejects otherwise, with a NotReady
   * naming what failed. Never depends on an IdP.
   */
  storeReady: () => Promise<void>;
}

export function createInfoRoutes(deps: InfoRoutesDeps): Router {
  const router = Router();

  router.get('/jwks.json', (_req, res) => {
    // Short cache: apps pick up a rotated key within minutes, and the previous key stays published.
    sendJson(res, 200, deps.jwks, { 'cache-control': 'public, max-age=300' });
  });

  router.get('/userinfo', async (req, res) => {
    const session = await deps.sessions.lookup(req);
    if (session === null) throw new NotSignedIn('userinfo without a session');
    const { identity } = session;
    sendJson(res, 200, {
      sub: identity.subject,
      provider: identity.providerId,
      username: identity.username,
      email: identity.email,
      name: identity.name,
      groups: identity.groups,
      roles: identity.roles,
      authenticatedAt: new Date(session.authenticatedAt).toISOString(),
      expiresAt: new Date(session.authenticatedAt + deps.absoluteTimeoutMs).toISOString(),
    });
  });

  router.get('/healthz', (_req, res) => sendJson(res, 200, { status: 'ok' }));

  router.get('/readyz', async (_req, res) => {
    try {
      await deps.storeReady();
      sendJson(res, 200, { status: 'ready' });
    } catch (err) {
      sendJson(res, 503, notReadyBody(err));
    }
  });

  return router;
}
