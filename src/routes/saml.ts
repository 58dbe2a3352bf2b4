// The SAML service-provider endpoints under {prefix}/saml/{provider}/:
//   metadata  GET   the SP metadata to paste into (or fetch from) the IdP
//   acs       POST  the assertion consumer service (HTTP-POST binding)
//   slo       GET   single logout (HTTP-Redirect binding): the IdP's LogoutRequest, or its
//                   LogoutResponse to ours
// Mounted before the gateway's 4 kB form parser: a SAMLResponse is far larger, so the ACS has its own.
// Thin like the other routes: this file translates HTTP (forms, the same-site resubmission, redirects);
// verification is the provider's, reached through the IdentityProvider port's `saml` part; the
// sign-in (login/saml-login.ts) and single logout (login/single-logout.ts) are login/'s.
import { createHash } from 'node:crypto';
import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import { LoginStateInvalid, UnknownProvider } from '../core/errors.js';
import { escapeHtml, GATEWAY_PAGE_HEADERS, renderPage, sendHtml, sendRedirect } from '../http/pages.js';
import { createSamlLoginFinisher, type SamlLoginDeps } from '../login/saml-login.js';
import { createSingleLogout, type SamlProvider, type SingleLogoutDeps } from '../login/single-logout.js';
import type { IdentityProvider } from '../providers/identity-provider.js';

export interface SamlRoutesDeps extends SingleLogoutDeps, SamlLoginDeps {
  providers: ReadonlyMap<string, IdentityProvider>;
  publicUrl: URL;
  prefix: string;
  sessionMiddleware: RequestHandler;
}

/** A SAMLResponse is a few kB, up to ~100 kB with many attributes or an encrypted assertion. */
const ACS_BODY_LIMIT = '512kb';
/** The hidden field that marks the same-site resubmission of a cross-site ACS POST. */
const SAME_SITE_FIELD = 'portcullis_same_site';
const RESUBMIT_SCRIPT = 'document.forms[0].submit();';
const RESUBMIT_CSP = `default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-${createHash('sha256').update(RESUBMIT_SCRIPT).digest('base64')}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`;

export function createSamlRoutes(deps: SamlRoutesDeps): Router {
  const router = Router();
  const acsBody = express.urlencoded({ extended: false, limit: ACS_BODY_LIMIT, parameterLimit: 10 });
  const loggedOutUrl = new URL(`${deps.prefix}/logged-out`, deps.publicUrl).href;
  const singleLogout = createSingleLogout(deps);
  const finishLogin = createSamlLoginFinisher(deps, singleLogout);

  function providerFrom(req: Request): SamlProvider {
    const provider = deps.providers.get(String(req.params.provider));
    if (provider?.saml === undefined) {
      throw new UnknownProvider(`no SAML provider '${String(req.params.provider)}'`);
    }
    return { id: provider.id, saml: provider.saml };
  }

  router.get('/saml/:provider/metadata', (req, res) => {
    const xml = providerFrom(req).saml.metadataXml();
    res.writeHead(200, {
      ...GATEWAY_PAGE_HEADERS,
      'cache-control': 'public, max-age=300',
      'content-type': 'application/samlmetadata+xml; charset=utf-8',
      'content-length': Buffer.byteLength(xml),
    });
    res.end(xml);
  });

  router.post('/saml/:provider/acs', acsBody, deps.sessionMiddleware, async (req, res) => {
    const provider = providerFrom(req);
    const body = formOf(req);
    const samlResponse = body.SAMLResponse ?? '';
    const relayState = body.RelayState ?? '';
    if (samlResponse === '') throw new LoginStateInvalid(`ACS POST for ${provider.id} without SAMLResponse`);

    // The IdP's form POST is a cross-site request, which carries no SameSite=Lax session cookie, so
    // the pending login could not be found. Answer with a page that posts the same form again from
    // this origin; that request carries the cookie. Nothing is decided on the cross-site request.
    if (isCrossSitePost(req, deps.publicUrl) && body[SAME_SITE_FIELD] !== '1') {
      sendResubmitPage(res, provider.saml.acsUrl, samlResponse, relayState);
      return;
    }

    const returnTo = await finishLogin(req, res, provider, { samlResponse, relayState });
    sendRedirect(res, 303, returnTo);
  });

  router.get('/saml/:provider/slo', async (req, res) => {
    const provider = providerFrom(req);
    const rawQuery = rawQueryOf(req);
    if (!new URLSearchParams(rawQuery).has('SAMLRequest')) {
      // The IdP's answer to the LogoutRequest sent at /logout: the local session already ended there.
      await singleLogout.acceptLogoutResponse(provider, rawQuery);
      sendRedirect(res, 303, loggedOutUrl);
      return;
    }
    // IdP-initiated logout: every session of the subject the IdP names ends, on every replica.
    const answer = await singleLogout.acceptLogoutRequest(provider, rawQuery);
    if (answer === null) {
      sendHtml(res, 200, renderPage('Signed out', '<h1>Signed out</h1><p>You have been signed out.</p>'));
      return;
    }
    sendRedirect(res, 302, answer.href);
  });

  return router;
}

function formOf(req: Request): Record<string, string | undefined> {
  const body: unknown = req.body;
  if (body === null || typeof body !== 'object') return {};
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
    if (typeof value === 'string') out[name] = value;
  }
  return out;
}

/** What a browser says about where a POST came from (Fetch Metadata, else Origin). */
function isCrossSitePost(req: Request, publicUrl: URL): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') return true;
  const origin = req.headers.origin;
  return origin !== undefined && origin !== publicUrl.origin;
}

function sendResubmitPage(res: Response, acsUrl: string, samlResponse: string, relayState: string): void {
  // Only what the IdP could have sent is echoed, and escaped: base64 for the response.
  if (!/^[A-Za-z0-9+/=\s]+$/.test(samlResponse)) throw new LoginStateInvalid('SAMLResponse is not base64');
  const field = (name: string, value: string) =>
    `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;
  const html = renderPage(
    'Signing in',
    `<h1>Signing in…</h1>
<form method="post" action="${escapeHtml(acsUrl)}">
${field('SAMLResponse', samlResponse)}
${relayState === '' ? '' : field('RelayState', relayState)}
${field(SAME_SITE_FIELD, '1')}
<noscript><p>JavaScript is off: press Continue to finish signing in.</p><button type="submit">Continue</button></noscript>
</form>
<script>${RESUBMIT_SCRIPT}</script>`,
  );
  sendHtml(res, 200, html, { 'content-security-policy': RESUBMIT_CSP });
}

function rawQueryOf(req: Request): string {
  const url = req.originalUrl;
  const question = url.indexOf('?');
  return question === -1 ? '' : url.slice(question + 1);
}
