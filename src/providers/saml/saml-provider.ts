// A SAML 2.0 service provider behind the IdentityProvider port. Logins start like every provider's
// (startLogin → a redirect, the pending login in the session: RelayState carries its opaque `state`,
// `nonce` holds the AuthnRequest ID), but the IdP answers by POST to the ACS, which routes/saml.ts
// serves and hands to acceptLoginResponse(). That method is the whole verification pipeline:
//
//   strict parse (no DTD) → envelope checks (one assertion, unique IDs, signature placement, Response
//   signature if any, Destination, status, InResponseTo) → samlify's verdict (schema, signature,
//   issuer, time; decryption) → assertion checks (its own signature, issuer, audience, recipient,
//   time window with bounded skew, InResponseTo, NameID) → attribute mapping → one-time assertion ID.
import { randomBytes } from 'node:crypto';
import { NAME_ID_FORMATS, type SamlProviderConfig } from '../../config/providers/saml-schema.js';
import { LoginResponseRejected, SessionStoreUnavailable } from '../../core/errors.js';
import type { ExternalIdentity } from '../../core/identity.js';
import type { Logger } from '../../observability/logger.js';
import type { PendingLogin } from '../../core/pending-login.js';
import type { EndedSession, FinishedLogin, IdentityProvider, LoginStart } from '../identity-provider.js';
import type { OneTimeIds } from '../one-time-ids.js';
import { samlInfoOf, type SamlEndpoints } from '../saml-endpoints.js';
import type { IdpDescriptor } from './idp-metadata.js';
import { checkLogoutRequest, checkLogoutResponse } from './logout-checks.js';
import { fetchedMetadataSource, staticMetadataSource, type IdpMetadataSource } from './metadata-source.js';
import { readRedirectMessage, verifyRedirectSignature } from './redirect-binding.js';
import type { TrustedIdp } from './message-fields.js';
import {
  checkAssertion,
  checkResponseEnvelope,
  type ResponseExpectations,
  type VerifiedAssertion,
} from './response-checks.js';
import { rejectLogout, rejectResponse, type SamlRejecter } from './saml-errors.js';
import { SamlXmlError, parseStrictXml } from './saml-xml.js';
import { createSamlEngine, verifyXmlSignature } from './samlify-adapter.js';
import { MAX_SAML_MESSAGE_BYTES, preloadSamlSchemas } from './schema-validator.js';
import type { XmlDocument } from './xml-dom.js';

/** A SAML provider: the IdentityProvider port with its SP endpoints always present. */
export interface SamlServiceProvider extends IdentityProvider {
  readonly saml: SamlEndpoints;
  close(): void;
}

export interface SamlProviderOptions {
  /** {publicUrl}{prefix}: the SP endpoints are {gatewayUrl}/saml/{id}/metadata, /acs and /slo. */
  gatewayUrl: string;
  /** One-time use of assertion and LogoutRequest IDs (the gateway's replay cache). */
  replayCache: OneTimeIds;
  now: () => number;
  log: Logger;
  fetch?: typeof fetch;
}

export function createSamlProvider(
  config: SamlProviderConfig,
  options: SamlProviderOptions,
): SamlServiceProvider {
  preloadSamlSchemas();
  const base = `${options.gatewayUrl}/saml/${config.id}`;
  const acsUrl = `${base}/acs`;
  const sloUrl = `${base}/slo`;
  const entityId = config.entityId ?? `${base}/metadata`;
  const skewMs = config.clockSkew;
  const engine = createSamlEngine({
    entityId,
    acsUrl,
    sloUrl,
    nameIdFormat: NAME_ID_FORMATS[config.nameIdFormat],
    clockSkewMs: skewMs,
    ...(config.signingKey === undefined ? {} : { signingKey: config.signingKey }),
    ...(config.signingCertificate === undefined ? {} : { signingCertificate: config.signingCertificate }),
    ...(config.decryptionKey === undefined ? {} : { decryptionKey: config.decryptionKey }),
    ...(config.decryptionCertificate === undefined
      ? {}
      : { decryptionCertificate: config.decryptionCertificate }),
  });
  const metadata: IdpMetadataSource =
    config.idpMetadataUrl === undefined
      ? staticMetadataSource(config.idpMetadata ?? '', config.idpEntityId)
      : fetchedMetadataSource({
          providerId: config.id,
          url: config.idpMetadataUrl,
          refreshMs: config.idpMetadataRefresh,
          expectedEntityId: config.idpEntityId,
          now: options.now,
          log: options.log,
          ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
        });
  const trusted = (idp: IdpDescriptor): TrustedIdp => ({
    entityId: idp.entityId,
    signingCertificates: idp.signingCertificates,
  });
  let warnedUnsignedRequests = false;

  async function claimOnce(key: string, ttlMs: number, reject: SamlRejecter, what: string): Promise<void> {
    let first: boolean;
    try {
      first = await options.replayCache.claimOnce(key, ttlMs);
    } catch (err) {
      // Fail closed: without the replay cache a replay could not be told from a first use.
      throw new SessionStoreUnavailable(`replay cache unavailable for ${config.id}`, { cause: err });
    }
    if (!first) throw reject('replay', `${what} was used before`);
  }

  function mapIdentity(assertion: VerifiedAssertion): ExternalIdentity {
    const reject = rejectResponse;
    const { attributes: names } = config;
    const values = (name: string | undefined): readonly string[] | undefined =>
      name === undefined ? undefined : assertion.attributes.get(name);
    const single = (name: string): string => {
      const found = (values(name) ?? []).filter((value) => value !== '');
      if (found.length !== 1)
        throw reject('subject', `attribute ${name} must have exactly one value, has ${found.length}`);
      return found[0] as string;
    };
    const first = (name: string): string | null => (values(name) ?? []).find((value) => value !== '') ?? null;
    if (names.externalId === undefined && assertion.nameId.format === NAME_ID_FORMATS.transient) {
      throw reject('subject', 'a transient NameID cannot identify a user: configure attributes.externalId');
    }
    const groups = values(names.groups);
    return {
      providerId: config.id,
      externalId: names.externalId === undefined ? assertion.nameId.value : single(names.externalId),
      username: names.username === undefined ? assertion.nameId.value : single(names.username),
      email: first(names.email),
      name: first(names.fullName),
      // No groups attribute at all: the IdP says nothing about groups, and memberships stay as they are.
      groups: groups === undefined ? undefined : groups.filter((group) => group !== ''),
    };
  }

  const endpoints: SamlEndpoints = {
    allowIdpInitiated: config.allowIdpInitiated,
    entityId,
    acsUrl,
    sloUrl,

    metadataXml: () => engine.spMetadataXml(),

    async acceptLoginResponse(samlResponse, expectedRequestId) {
      const reject = rejectResponse;
      const idp = metadata.current();
      const now = options.now();
      const expect: ResponseExpectations = {
        idp: trusted(idp),
        spEntityId: entityId,
        acsUrl,
        expectedRequestId,
        now,
        skewMs,
      };
      if (!/^[A-Za-z0-9+/=\s]+$/.test(samlResponse)) throw reject('malformed', 'SAMLResponse is not base64');
      const originalXml = Buffer.from(samlResponse, 'base64').toString('utf8');
      if (Buffer.byteLength(originalXml) > MAX_SAML_MESSAGE_BYTES)
        throw reject('malformed', 'SAMLResponse too large');
      const originalDoc = parse(originalXml, reject);

      const { encrypted } = checkResponseEnvelope(
        originalXml,
        originalDoc,
        expect,
        verifyXmlSignature,
        reject,
      );
      if (encrypted && config.decryptionKey === undefined)
        throw reject('encryption', 'encrypted assertion, but no decryptionKey is configured');
      if (!encrypted && config.decryptionKey !== undefined)
        throw reject('encryption', 'assertion not encrypted, but decryptionKey requires encryption');

      const verifiedXml = await engine.verifyLoginResponse(idp, samlResponse, reject);
      const [assertionXml, assertionDoc] = encrypted
        ? [verifiedXml, parse(verifiedXml, reject)]
        : [originalXml, originalDoc];
      const assertion = checkAssertion(assertionXml, assertionDoc, expect, verifyXmlSignature, reject);
      const external = mapIdentity(assertion);
      await claimOnce(
        `saml:assertion:${config.id}:${assertion.assertionId}`,
        assertion.validUntil + skewMs - now,
        reject,
        `assertion ${assertion.assertionId}`,
      );
      return {
        external,
        session: { providerId: config.id, nameId: assertion.nameId, sessionIndex: assertion.sessionIndex },
      };
    },

    async acceptLogoutRequest(rawQuery) {
      const reject = rejectLogout;
      const idp = metadata.current();
      const message = readRedirectMessage(rawQuery, reject);
      if (message.parameter !== 'SAMLRequest') throw reject('malformed', 'not a LogoutRequest');
      // Our own check of the detached signature first; samlify's verdict is not trusted alone (#634).
      if (!verifyRedirectSignature(message, idp.signingCertificates, reject)) {
        throw reject(
          'signature',
          'the LogoutRequest signature does not verify with the IdP metadata certificate',
        );
      }
      await engine.verifyLogoutRequest(idp, message, reject);
      const now = options.now();
      const request = checkLogoutRequest(
        parse(message.xml, reject),
        { idp: trusted(idp), sloUrl, now, skewMs },
        reject,
      );
      await claimOnce(
        `saml:logout:${config.id}:${request.id}`,
        request.validUntil - now,
        reject,
        `LogoutRequest ${request.id}`,
      );
      return { request, relayState: message.relayState };
    },

    logoutResponseUrl(accepted, success) {
      const idp = metadata.current();
      return engine.logoutResponse(idp, accepted.request.id, success, accepted.relayState);
    },

    async acceptLogoutResponse(rawQuery) {
      const reject = rejectLogout;
      const idp = metadata.current();
      const message = readRedirectMessage(rawQuery, reject);
      if (message.parameter !== 'SAMLResponse') throw reject('malformed', 'not a LogoutResponse');
      if (!verifyRedirectSignature(message, idp.signingCertificates, reject)) {
        throw reject(
          'signature',
          'the LogoutResponse signature does not verify with the IdP metadata certificate',
        );
      }
      await engine.verifyLogoutResponse(idp, message, reject);
      return checkLogoutResponse(
        parse(message.xml, reject),
        { idp: trusted(idp), sloUrl, now: options.now(), skewMs },
        reject,
      );
    },
  };

  return {
    id: config.id,
    displayName: config.displayName ?? config.id,
    callbackUrl: acsUrl,
    saml: endpoints,

    startLogin(returnTo: string, now: number): Promise<LoginStart> {
      return settled(() => {
        const idp = metadata.current();
        if (idp.wantAuthnRequestsSigned && config.signingKey === undefined && !warnedUnsignedRequests) {
          warnedUnsignedRequests = true;
          options.log.warn(
            { providerId: config.id },
            'the IdP wants signed AuthnRequests but no signingKey is configured',
          );
        }
        // RelayState carries only this opaque value; the return URL stays server-side in the session.
        const state = randomBytes(32).toString('base64url');
        const { url, requestId } = engine.authnRequest(idp, state);
        const pending: PendingLogin = {
          providerId: config.id,
          state,
          nonce: requestId,
          codeVerifier: '',
          returnTo,
          createdAt: now,
        };
        return { authorizationUrl: url, pending };
      });
    },

    finishLogin(): Promise<FinishedLogin> {
      return Promise.reject(
        new LoginResponseRejected(
          `${config.id} is a SAML provider: responses are accepted at ${acsUrl} only`,
        ),
      );
    },

    endSessionUrl(_idToken: string | undefined, _postLogoutRedirectUri: string, ended?: EndedSession) {
      return settled(() => {
        const saml = samlInfoOf(ended);
        if (saml === null || saml.providerId !== config.id) return undefined;
        let idp: IdpDescriptor;
        try {
          idp = metadata.current();
        } catch {
          return undefined; // the local session is gone either way; the IdP's may outlive it
        }
        const request = engine.logoutRequest(
          idp,
          { nameId: saml.nameId, sessionIndex: saml.sessionIndex },
          randomBytes(16).toString('base64url'),
        );
        return request?.url;
      });
    },

    close() {
      metadata.close();
    },
  };
}

function parse(xml: string, reject: SamlRejecter): XmlDocument {
  try {
    return parseStrictXml(xml);
  } catch (err) {
    if (err instanceof SamlXmlError) throw reject('malformed', err.message);
    throw err;
  }
}

/** `run()` as a promise and its throw as a rejection, as an async function without an await would give. */
function settled<T>(run: () => T): Promise<T> {
  return new Promise((resolve) => {
    resolve(run());
  });
}
