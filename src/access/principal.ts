// Who is asking: the caller behind one protected request. A bearer token on routes that accept one,
// else the session cookie. Synchronous when the session is at hand (memory store, session cache).
import type { IncomingMessage } from 'node:http';
import { SessionStoreUnavailable } from '../core/errors.js';
import type { Identity } from '../core/identity.js';
import { andThen, type MaybePromise } from '../core/maybe-async.js';
import type { CompiledRoute } from '../policy/route-table.js';
import type { ActiveSession, SessionLookup } from '../session/lookup.js';
import { bearerTokenOf, type BearerVerifier } from './bearer-tokens.js';

/** The caller behind a request, with the id its assertions are cached under. */
export interface Principal {
  /** The session id, or `bearer:<token digest>`: changes whenever the credential does. */
  readonly id: string;
  readonly identity: Identity;
}

export interface PrincipalReader {
  principalOf(req: IncomingMessage, route: CompiledRoute): MaybePromise<Principal | null>;
}

export function createPrincipalReader(deps: {
  sessions: SessionLookup;
  bearer: BearerVerifier;
}): PrincipalReader {
  const storeFailed = (err: unknown): never => {
    throw new SessionStoreUnavailable('session lookup failed', { cause: err });
  };

  function fromSession(req: IncomingMessage): MaybePromise<Principal | null> {
    let session: MaybePromise<ActiveSession | null>;
    try {
      session = deps.sessions.lookup(req);
    } catch (err) {
      return storeFailed(err);
    }
    if (session instanceof Promise) session = session.catch(storeFailed);
    return andThen(session, (active) =>
      active === null ? null : { id: active.id, identity: active.identity },
    );
  }

  return {
    principalOf(req, route) {
      const token = route.bearer === null ? null : bearerTokenOf(req.headers);
      if (token === null || route.bearer === null) return fromSession(req);
      // A presented token is judged on its own: an invalid one is a 401, never a fallback to the cookie.
      return deps.bearer
        .verify(token, route.bearer)
        .then(({ identity, cacheKey }) => ({ id: cacheKey, identity }));
    },
  };
}
