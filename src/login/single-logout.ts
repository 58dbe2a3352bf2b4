// SAML single logout, the session side. A SAML login lists its session under the subject the IdP
// named ((provider, NameID) → session ids, session/session-index.ts); an IdP-initiated LogoutRequest,
// verified by the provider, ends every session of that subject it matches, on every replica sharing
// the store, and tells the IdP whether all of them ended. The IdP's answer to a logout we started
// only decides what the log says. routes/saml.ts translates HTTP; the provider is reached only
// through the IdentityProvider port's `saml` part.
import type { Logger } from '../observability/logger.js';
import type { SamlSessionInfo } from '../core/saml-session.js';
import {
  logoutRequestMatches,
  samlInfoOf,
  samlSubjectKey,
  type SamlEndpoints,
} from '../providers/saml-endpoints.js';
import type { SessionIndex } from '../session/session-index.js';
import type { SessionReader } from '../session/session-reader.js';

/** A provider with its SAML endpoints (IdentityProvider['saml'] present). */
export interface SamlProvider {
  readonly id: string;
  readonly saml: SamlEndpoints;
}

export interface SingleLogoutDeps {
  /** (provider, NameID) → session ids, for IdP-initiated logout. */
  sessionIndex: SessionIndex;
  /** Reads and ends sessions by id (IdP-initiated logout ends sessions other than the caller's). */
  sessionStore: { read: SessionReader['read']; destroy(sessionId: string): Promise<void> };
  /** How long an index entry lives: a session cannot outlive the absolute timeout. */
  absoluteTimeoutMs: number;
  log: Logger;
}

export interface SingleLogout {
  /**
   * Lists a new SAML session under its subject. Never throws: if the index cannot be written the
   * session stands, only an IdP-initiated logout will not find it (its timeouts still apply).
   */
  indexSession(info: SamlSessionInfo, sessionId: string): Promise<void>;
  /**
   * Verifies an IdP's LogoutRequest (HTTP-Redirect binding, the raw query string) and ends every
   * session it names. Returns where to send the browser with the LogoutResponse, or null when the
   * IdP has no single-logout endpoint. Throws the provider's refusal when the request is not acceptable.
   */
  acceptLogoutRequest(provider: SamlProvider, rawQuery: string): Promise<URL | null>;
  /** The IdP's LogoutResponse to a logout started at {prefix}/logout: logged, never thrown. */
  acceptLogoutResponse(provider: SamlProvider, rawQuery: string): Promise<void>;
}

export function createSingleLogout(deps: SingleLogoutDeps): SingleLogout {
  return {
    async indexSession(info, sessionId) {
      try {
        await deps.sessionIndex.add(
          samlSubjectKey(info.providerId, info.nameId.value),
          sessionId,
          deps.absoluteTimeoutMs,
        );
      } catch (err) {
        deps.log.warn(
          { providerId: info.providerId, err },
          'could not index the session for SAML single logout',
        );
      }
    },

    async acceptLogoutRequest(provider, rawQuery) {
      const accepted = await provider.saml.acceptLogoutRequest(rawQuery);
      const { request } = accepted;
      const key = samlSubjectKey(provider.id, request.nameId.value);
      let ended = 0;
      let failed = false;
      for (const sessionId of await deps.sessionIndex.sessionIds(key)) {
        try {
          const info = samlInfoOf(await deps.sessionStore.read(sessionId));
          if (info === null) {
            await deps.sessionIndex.remove(key, sessionId); // ended some other way
            continue;
          }
          if (!logoutRequestMatches(info, provider.id, request)) continue;
          await deps.sessionStore.destroy(sessionId);
          await deps.sessionIndex.remove(key, sessionId);
          ended += 1;
        } catch (err) {
          failed = true;
          deps.log.error(
            { providerId: provider.id, err },
            'could not end a session for a SAML LogoutRequest',
          );
        }
      }
      deps.log.info(
        { event: 'logout', outcome: 'success', providerId: provider.id, initiatedBy: 'idp', sessions: ended },
        'IdP single logout',
      );
      return provider.saml.logoutResponseUrl(accepted, !failed);
    },

    async acceptLogoutResponse(provider, rawQuery) {
      try {
        const success = await provider.saml.acceptLogoutResponse(rawQuery);
        deps.log.info(
          { event: 'saml-logout-response', providerId: provider.id, success },
          'IdP answered single logout',
        );
      } catch (err) {
        deps.log.info(
          { event: 'saml-logout-response', providerId: provider.id, err: (err as Error).message },
          'IdP logout answer refused',
        );
      }
    },
  };
}
