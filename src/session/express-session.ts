// express-session for the gateway's own routes (login, callback, logout), over the same store and
// cookie the hot path reads, plus promise wrappers for its callback API.
import type { RequestHandler } from 'express';
import session from 'express-session';
import type { SessionCookieSettings } from './cookie.js';

export function createSessionMiddleware(options: {
  store: session.Store;
  secrets: readonly string[];
  cookie: SessionCookieSettings;
  absoluteTimeoutMs: number;
}): RequestHandler {
  const middleware = session({
    store: options.store,
    secret: [...options.secrets],
    name: options.cookie.name,
    resave: false,
    saveUninitialized: false,
    rolling: false,
    unset: 'destroy',
    cookie: {
      httpOnly: true,
      secure: options.cookie.secure,
      sameSite: 'lax',
      path: '/',
      // Persistent until the absolute timeout, so closing the browser does not sign out; the
      // store enforces the idle timeout server-side.
      maxAge: options.absoluteTimeoutMs,
      ...(options.cookie.domain === undefined ? {} : { domain: options.cookie.domain }),
    },
  });
  return (req, res, next) => {
    // TLS usually ends in front of the gateway. Whether the browser's side is https is decided by
    // publicUrl, not by headers a client could forge; express-session reads req.secure for this.
    Object.defineProperty(req, 'secure', { value: options.cookie.secure, configurable: true });
    middleware(req, res, next);
  };
}

type WithSession = { session: session.Session & Partial<session.SessionData> };

export function saveSession(req: WithSession): Promise<void> {
  return new Promise((resolve, reject) =>
    req.session.save((err: unknown) => (err ? reject(asError(err)) : resolve())),
  );
}

export function regenerateSession(req: WithSession): Promise<void> {
  return new Promise((resolve, reject) =>
    req.session.regenerate((err: unknown) => (err ? reject(asError(err)) : resolve())),
  );
}

export function destroySession(req: WithSession): Promise<void> {
  return new Promise((resolve, reject) =>
    req.session.destroy((err: unknown) => (err ? reject(asError(err)) : resolve())),
  );
}

/** express-session passes its stores' errors through as they are; a rejection should be an Error. */
function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
