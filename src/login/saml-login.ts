// The end of a SAML sign-in, once the ACS has the IdP's SAMLResponse from this browser: the pending
// login it answers (consumed before verification, so a replay finds nothing), the provider's
// verification, directory sync, one session write with the SAML subject in it, the single-logout
// index, and where to go next. An unsolicited (IdP-initiated) response is accepted only where the
// provider allows it; its RelayState is then a suggestion held to the return-URL rules.
import type { Request, Response } from 'express';
import type { Clock } from '../core/clock.js';
import { LoginStateInvalid } from '../core/errors.js';
import type { Logger } from '../observability/logger.js';
import type { LoginCompleter } from './complete-login.js';
import { consumePendingLogin, hasPendingLogin } from './pending-logins.js';
import { safeReturnUrl, type ReturnUrlPolicy } from './return-url.js';
import { establishSession, type SessionLoginDeps } from './session-login.js';
import type { SamlProvider, SingleLogout } from './single-logout.js';

export interface SamlLoginDeps extends SessionLoginDeps {
  completeLogin: LoginCompleter;
  returnUrlPolicy: ReturnUrlPolicy;
  clock: Clock;
  log: Logger;
}

/** What the IdP posted to the ACS. */
export interface SamlAnswer {
  samlResponse: string;
  /** '' when the IdP sent none. */
  relayState: string;
}

/** Signs the browser in from a SAMLResponse; returns where to send it. Throws a GatewayError when refused. */
export type SamlLoginFinisher = (
  req: Request,
  res: Response,
  provider: SamlProvider,
  answer: SamlAnswer,
) => Promise<string>;

export function createSamlLoginFinisher(deps: SamlLoginDeps, singleLogout: SingleLogout): SamlLoginFinisher {
  return async (req, res, provider, { samlResponse, relayState }) => {
    const pendingExists = hasPendingLogin(req, provider.id, relayState);
    if (!pendingExists && !provider.saml.allowIdpInitiated) {
      throw new LoginStateInvalid(`SAML response for ${provider.id} with no matching login in this session`);
    }
    // Consumed before verification: a replay of this response finds nothing, even if this attempt fails.
    const pending = pendingExists
      ? await consumePendingLogin(req, provider.id, relayState, deps.clock)
      : null;
    const login = await provider.saml.acceptLoginResponse(samlResponse, pending?.nonce ?? null);
    const identity = await deps.completeLogin(login.external);
    // One write: the SAML subject is in the session from the start.
    await establishSession(req, res, identity, { saml: login.session }, deps);
    await singleLogout.indexSession(login.session, req.sessionID);
    deps.log.info(
      {
        event: 'login',
        outcome: 'success',
        providerId: provider.id,
        subject: identity.subject,
        initiatedBy: pending === null ? 'idp' : 'sp',
      },
      'signed in',
    );
    return (
      pending?.returnTo ??
      safeReturnUrl(relayState === '' ? undefined : relayState, deps.returnUrlPolicy) ??
      '/'
    );
  };
}
