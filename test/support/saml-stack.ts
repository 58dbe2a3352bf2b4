// A gateway whose identity provider is the SimpleSAMLphp test IdP (saml-idp.ts), with routes to the echo
// app, plus helpers that drive a SAML login the way a browser does: gateway → IdP login form → the
// IdP's auto-POST form → the gateway's ACS (a cross-site POST, which the gateway answers with its
// same-site resubmission page) → the return URL.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { startEchoApp, type EchoApp } from '../../dev/echo-app.js';
import type { BrowserResponse, TestBrowser } from './browser.js';
import { freePort } from './free-port.js';
import { startGatewayFromRaw, type GatewayInstance } from './gateway-stack.js';
import { startRedisServer, type TestRedis } from './redis-server.js';
import {
  readSamlPostForm,
  requireSimpleSamlPhp,
  signInAtSamlIdp,
  startSamlIdp,
  type SamlIdp,
  type SamlPostForm,
  type SamlUser,
  type SpSettings,
} from './saml-idp.js';
import { requireBinary } from './services.js';
import { waitUntil } from './timing.js';

export const SAML_PROVIDER_ID = 'corp';

/** Headers of an API client: JSON errors, 401 instead of redirects. */
export const JSON_HEADERS: Readonly<Record<string, string>> = {
  accept: 'application/json',
  'sec-fetch-mode': 'cors',
};

export interface SamlStackOptions {
  store?: 'memory' | 'redis';
  redisUrl?: string;
  /** Merged over the saml provider entry. */
  provider?: Record<string, unknown>;
  /** How the IdP treats this SP (sign response, encrypt assertion, ...). */
  spSettings?: SpSettings;
  /** Reuse a storage folder (the directory database); not removed on close. */
  dataDir?: string;
}

export interface SamlStack {
  idp: SamlIdp;
  echo: EchoApp;
  gateway: GatewayInstance;
  /** http://localhost:PORT */
  publicUrl: string;
  entityId: string;
  acsUrl: string;
  sloUrl: string;
  metadataUrl: string;
  rawConfig: Record<string, unknown>;
  /** Another gateway with the same config on its own port (a second replica behind one publicUrl). */
  startReplica(): Promise<GatewayInstance>;
  /** Registers this gateway at the IdP again with other IdP-side settings. */
  registerAtIdp(settings: SpSettings): void;
  /** The primary and every replica started so far. */
  gateways(): GatewayInstance[];
  /** Log lines of every gateway of this stack that record a completed sign-in. */
  loginEvents(): string[];
  close(): Promise<void>;
}

export async function startSamlStack(idp: SamlIdp, options: SamlStackOptions = {}): Promise<SamlStack> {
  const port = await freePort();
  const publicUrl = `http://localhost:${port}`;
  const base = `${publicUrl}/.portcullis/saml/${SAML_PROVIDER_ID}`;
  const echo = await startEchoApp({
    jwksUrl: `http://127.0.0.1:${port}/.portcullis/jwks.json`,
    expectedIssuer: publicUrl,
  });
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'portcullis-saml-'));
  const session: Record<string, unknown> = { secret: randomBytes(32).toString('hex') };
  if (options.store === 'redis') {
    session.store = 'redis';
    session.redis = { url: options.redisUrl, keyPrefix: `t${randomBytes(4).toString('hex')}:` };
  }
  const rawConfig: Record<string, unknown> = {
    server: { listen: `127.0.0.1:${port}`, publicUrl },
    session,
    providers: [
      {
        id: SAML_PROVIDER_ID,
        type: 'saml',
        displayName: 'Corp SAML',
        idpMetadataUrl: idp.metadataUrl,
        insecureAllowHttp: true,
        attributes: { username: 'uid', email: 'email', fullName: 'displayName', groups: 'groups' },
        ...options.provider,
      },
    ],
    routes: [
      { id: 'admins', path: '/admins/', upstream: echo.url, allow: { groups: ['gw-admins'] } },
      { id: 'eng', path: '/eng/', upstream: echo.url, allow: { groups: ['eng'] } },
      { id: 'app', path: '/', upstream: echo.url, allow: { authenticated: true } },
    ],
    roles: { admin: { groups: ['gw-admins'] } },
    storage: { dataDir },
    log: { level: 'debug' },
  };
  const gateways: GatewayInstance[] = [];
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await Promise.allSettled([...gateways.map((gateway) => gateway.close()), echo.close()]);
    if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const gateway = await startGatewayFromRaw(rawConfig, port);
    gateways.push(gateway);
    await waitForIdpMetadata(publicUrl);
    const metadata = await fetch(`${base}/metadata`);
    assert.equal(metadata.status, 200, 'SP metadata');
    const metadataXml = await metadata.text();
    idp.registerSp(`gw-${port}`, metadataXml, options.spSettings);
    return {
      idp,
      echo,
      gateway,
      publicUrl,
      entityId: `${base}/metadata`,
      acsUrl: `${base}/acs`,
      sloUrl: `${base}/slo`,
      metadataUrl: `${base}/metadata`,
      rawConfig,
      async startReplica() {
        const replica = await startGatewayFromRaw(rawConfig);
        gateways.push(replica);
        return replica;
      },
      registerAtIdp(settings) {
        idp.registerSp(`gw-${port}`, metadataXml, settings);
      },
      gateways: () => [...gateways],
      loginEvents() {
        return gateways
          .flatMap((g) => g.logs.lines)
          .filter((line) => /"event":"login"/.test(line) && /"outcome":"success"/.test(line));
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The gateway fetches the IdP metadata in the background; wait until a sign-in can start. */
async function waitForIdpMetadata(publicUrl: string): Promise<void> {
  let last = 0;
  await waitUntil(
    async () => {
      const response = await fetch(`${publicUrl}/.portcullis/login/${SAML_PROVIDER_ID}`, {
        redirect: 'manual',
      });
      last = response.status;
      return response.status === 302;
    },
    {
      what: 'the gateway to load the IdP metadata',
      intervalMs: 100,
      detail: () => `last status ${last}`,
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Driving a login

export interface SpLoginStart {
  /** The gateway's redirect to the IdP: SSOService.php?SAMLRequest=…&RelayState=… */
  authnRequestUrl: URL;
  relayState: string;
  /** The AuthnRequest's ID (what InResponseTo must carry). */
  requestId: string;
  authnRequestXml: string;
}

/** Asks the gateway to start a login (the browser's session now holds the pending login); stops at the IdP redirect. */
export async function startSpLogin(stack: SamlStack, browser: TestBrowser, rd = '/'): Promise<SpLoginStart> {
  const start = await browser.request(
    `${stack.publicUrl}/.portcullis/login/${SAML_PROVIDER_ID}?rd=${encodeURIComponent(rd)}`,
  );
  assert.equal(start.status, 302, `login start: ${start.status} ${start.body.slice(0, 300)}`);
  const authnRequestUrl = new URL(start.headers.location ?? '');
  assert.equal(`${authnRequestUrl.origin}${authnRequestUrl.pathname}`, stack.idp.ssoUrl);
  const relayState = authnRequestUrl.searchParams.get('RelayState') ?? '';
  const samlRequest = authnRequestUrl.searchParams.get('SAMLRequest') ?? '';
  const authnRequestXml = inflateRawSync(Buffer.from(samlRequest, 'base64')).toString('utf8');
  const requestId = /\sID="([^"]+)"/.exec(authnRequestXml)?.[1] ?? '';
  assert.ok(requestId !== '' && relayState !== '', 'AuthnRequest ID and RelayState');
  return { authnRequestUrl, relayState, requestId, authnRequestXml };
}

/**
 * Follows a URL at the IdP (an AuthnRequest redirect, or an IdP-initiated SSO URL) as `user`, signing in
 * when the IdP asks, up to the IdP's auto-POST page; returns the form it would post to the ACS.
 */
export async function responseFromIdp(
  browser: TestBrowser,
  idpUrl: string,
  user: SamlUser,
  referrer?: string,
): Promise<SamlPostForm> {
  let { final } = await browser.navigate(idpUrl, referrer === undefined ? {} : { referrer });
  if (/name="username"/.test(final.body)) ({ final } = await signInAtSamlIdp(browser, final, user));
  return readSamlPostForm(final);
}

/** A whole SP-initiated login up to (not including) the POST to the ACS. */
export async function genuineResponse(
  stack: SamlStack,
  browser: TestBrowser,
  user: SamlUser,
  rd = '/',
): Promise<SpLoginStart & { form: SamlPostForm }> {
  const start = await startSpLogin(stack, browser, rd);
  const form = await responseFromIdp(browser, start.authnRequestUrl.href, user, `${stack.publicUrl}/`);
  assert.equal(form.action, stack.acsUrl, 'the IdP posts to the gateway ACS');
  assert.equal(form.RelayState, start.relayState, 'the IdP returns RelayState unchanged');
  return { ...start, form };
}

/**
 * Delivers a SAMLResponse the way a browser does: the cross-site POST from the IdP's page (answered
 * with the gateway's resubmission page), then the same-site resubmission. Returns the final answer.
 */
export async function postToAcs(
  stack: SamlStack,
  browser: TestBrowser,
  form: { SAMLResponse: string; RelayState?: string | undefined },
  options: { acsUrl?: string; headers?: Record<string, string> } = {},
): Promise<BrowserResponse> {
  const acsUrl = options.acsUrl ?? stack.acsUrl;
  const fields: Record<string, string> = { SAMLResponse: form.SAMLResponse };
  if (form.RelayState !== undefined) fields.RelayState = form.RelayState;
  const crossSite = await browser.request(acsUrl, {
    form: fields,
    referrer: `${stack.idp.baseUrl}/saml2/idp/SSOService.php`,
  });
  assert.equal(
    crossSite.status,
    200,
    `cross-site ACS POST should get the resubmission page, got ${crossSite.status}: ${crossSite.body.slice(0, 300)}`,
  );
  assert.match(crossSite.body, /portcullis_same_site/);
  const pageUrl = { ...crossSite, url: acsUrl };
  const { chain } = await submitFirstFormOnce(browser, pageUrl, options.headers ?? {});
  return chain;
}

/** Submits the resubmission form without following the gateway's redirect. */
async function submitFirstFormOnce(
  browser: TestBrowser,
  page: BrowserResponse,
  headers: Record<string, string>,
): Promise<{ chain: BrowserResponse }> {
  const action = /<form[^>]*action="([^"]+)"/.exec(page.body)?.[1] ?? '';
  const fields = Object.fromEntries(
    [...page.body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [
      m[1] ?? '',
      decodeEntities(m[2] ?? ''),
    ]),
  );
  const response = await browser.request(decodeEntities(action), {
    form: fields,
    referrer: page.url,
    headers,
  });
  return { chain: response };
}

function decodeEntities(text: string): string {
  return text
    .replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)))
    .replace(/&amp;/g, '&');
}

/** A full honest login through the IdP's form; returns the page the browser lands on after the gateway. */
export async function loginThroughSaml(
  stack: SamlStack,
  browser: TestBrowser,
  user: SamlUser,
  rd = '/',
): Promise<BrowserResponse> {
  const { form } = await genuineResponse(stack, browser, user, rd);
  const acs = await postToAcs(stack, browser, form);
  assert.equal(
    acs.status,
    303,
    `ACS should redirect after a good response, got ${acs.status}: ${acs.body.slice(0, 400)}\n${stack.idp.logs()}`,
  );
  const { final } = await browser.navigate(new URL(acs.headers.location ?? '/', stack.publicUrl).href, {
    referrer: stack.acsUrl,
  });
  return final;
}

export async function userinfo(
  stack: { publicUrl: string },
  browser: TestBrowser,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await browser.request(`${stack.publicUrl}/.portcullis/userinfo`, {
    headers: { ...JSON_HEADERS },
  });
  return { status: response.status, body: JSON.parse(response.body) as Record<string, unknown> };
}

/** The JSON error code of a gateway refusal. */
export function errorCodeOf(response: BrowserResponse): string | undefined {
  try {
    return (JSON.parse(response.body) as { error?: string }).error;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// A whole SAML test set-up in one call

/** Why a SAML suite cannot run here (SimpleSAMLphp, or redis-server when `redis`), else false. */
export function samlSuiteSkip(needs: { redis?: boolean } = {}): string | false {
  const ssp = requireSimpleSamlPhp();
  if ('skip' in ssp) return ssp.skip;
  if (needs.redis === true) {
    const redis = requireBinary('redis-server', 'redis-server');
    if ('skip' in redis) return redis.skip;
  }
  return false;
}

export interface SamlSuite {
  idp: SamlIdp;
  stack: SamlStack;
  /** Set with `redis: true`: the store the stack's gateways share. */
  redis: TestRedis | undefined;
  /** Stops the stack, Redis and the IdP, in that order, each even if another fails to stop. */
  close(): Promise<void>;
}

/**
 * The SimpleSAMLphp IdP, a private Redis when `redis` is true (the stack then keeps sessions there),
 * and a gateway stack registered at the IdP. A failure part-way stops what had started.
 */
export async function startSamlSuite(
  options: Omit<SamlStackOptions, 'store' | 'redisUrl'> & { redis?: boolean } = {},
): Promise<SamlSuite> {
  const ssp = requireSimpleSamlPhp();
  if ('skip' in ssp) throw new Error(ssp.skip);
  const started: Array<{ close(): Promise<unknown> }> = [];
  const close = async (): Promise<void> => {
    for (const running of started.reverse()) await running.close().catch(() => undefined);
  };
  const { redis: withRedis, ...stackOptions } = options;
  try {
    const idp = await startSamlIdp(ssp.php);
    started.push(idp);
    const redis = withRedis === true ? await startRedisServer() : undefined;
    if (redis !== undefined) started.push(redis);
    const stack = await startSamlStack(idp, {
      ...stackOptions,
      ...(redis === undefined ? {} : { store: 'redis' as const, redisUrl: redis.url }),
    });
    started.push(stack);
    return { idp, stack, redis, close };
  } catch (error) {
    await close();
    throw error;
  }
}
