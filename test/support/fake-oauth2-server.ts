// A test double of GitHub's OAuth web application flow, on 127.0.0.1.
//
// It follows the shape documented in GitHub's "Authorizing OAuth apps" (web application flow):
//   1. GET  /login/oauth/authorize?client_id&redirect_uri&scope&state[&code_challenge&code_challenge_method]
//      → redirect to redirect_uri?code&state, or ?error=access_denied&error_description&error_uri&state
//   2. POST /login/oauth/access_token (client_id, client_secret, code, redirect_uri[, code_verifier])
//      → { access_token, token_type: 'bearer', scope } as JSON when Accept: application/json,
//        form-encoded otherwise; errors come back as HTTP 200 with an { error } body, as GitHub's do
//   3. GET  /user with Authorization: Bearer <token> → the user as JSON, 401 { message: 'Bad credentials' } otherwise
// There is no login page: the one configured user is signed in and approves at once. Codes are
// single-use and expire after 10 minutes, as GitHub's do. Every request's headers are recorded so
// tests can check what the client sent.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeServer, listen, readBody } from './http-server.js';

export const octocat = {
  id: 4242,
  login: 'octocat',
  name: 'The Octocat',
  email: 'octo@example.com',
  org: { teams: ['eng', 'ops'] },
};

export interface FakeOAuth2Options {
  clientId: string;
  clientSecret: string;
  /** What /user returns for a valid token; default octocat. */
  user?: Record<string, unknown>;
}

export interface RecordedRequest {
  endpoint: 'authorize' | 'token' | 'userinfo';
  headers: IncomingHttpHeaders;
  /** The query (authorize) or form body (token). */
  params: URLSearchParams;
}

export interface FakeOAuth2Server {
  /** http://127.0.0.1:PORT */
  origin: string;
  authorizationUrl: string;
  tokenUrl: string;
  userinfoUrl: string;
  readonly requests: RecordedRequest[];
  /** Mutable: what /user answers from now on. */
  user: Record<string, unknown>;
  /** Mutable: when set, authorize redirects back with this error instead of a code. */
  authorizeError: string | undefined;
  /** Mutable: when true, /user refuses every token (as after the user revoked the app). */
  tokensRevoked: boolean;
  close(): Promise<void>;
}

interface IssuedCode {
  redirectUri: string | undefined;
  codeChallenge: string | undefined;
  scope: string;
  expiresAt: number;
}

const CODE_TTL_MS = 10 * 60_000;
const MAX_BODY_BYTES = 64 * 1024;

export async function startFakeOAuth2Server(options: FakeOAuth2Options): Promise<FakeOAuth2Server> {
  const codes = new Map<string, IssuedCode>();
  const tokens = new Set<string>();
  const requests: RecordedRequest[] = [];

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { message: String(error) });
      else res.destroy();
    });
  });
  const port = await listen(server);
  const origin = `http://127.0.0.1:${port}`;

  const fake: FakeOAuth2Server = {
    origin,
    authorizationUrl: `${origin}/login/oauth/authorize`,
    tokenUrl: `${origin}/login/oauth/access_token`,
    userinfoUrl: `${origin}/user`,
    requests,
    user: options.user ?? octocat,
    authorizeError: undefined,
    tokensRevoked: false,
    close: () => closeServer(server),
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', origin);
    if (req.method === 'GET' && url.pathname === '/login/oauth/authorize') {
      requests.push({ endpoint: 'authorize', headers: req.headers, params: url.searchParams });
      authorize(url.searchParams, res);
      return;
    }
    if (req.method === 'POST' && url.pathname === '/login/oauth/access_token') {
      const form = new URLSearchParams(await readBody(req, MAX_BODY_BYTES));
      requests.push({ endpoint: 'token', headers: req.headers, params: form });
      exchangeCode(req, form, res);
      return;
    }
    if (req.method === 'GET' && url.pathname === '/user') {
      requests.push({ endpoint: 'userinfo', headers: req.headers, params: url.searchParams });
      userinfo(req, res);
      return;
    }
    sendJson(res, 404, { message: 'Not Found' });
  }

  function authorize(query: URLSearchParams, res: ServerResponse): void {
    const redirectUri = query.get('redirect_uri');
    if (query.get('client_id') !== options.clientId || redirectUri === null) {
      // GitHub shows an error page rather than redirecting to an unverified redirect_uri.
      sendJson(res, 400, { message: 'unknown client_id or missing redirect_uri' });
      return;
    }
    const back = new URL(redirectUri);
    const state = query.get('state');
    if (fake.authorizeError !== undefined) {
      back.searchParams.set('error', fake.authorizeError);
      back.searchParams.set('error_description', 'The user has denied your application access.');
      back.searchParams.set(
        'error_uri',
        'https://docs.github.com/apps/troubleshooting-oauth-app-access-token-request-errors',
      );
    } else {
      const challengeMethod = query.get('code_challenge_method');
      if (query.has('code_challenge') && challengeMethod !== 'S256') {
        sendJson(res, 400, { message: 'only S256 code challenges are supported' });
        return;
      }
      const code = randomBytes(10).toString('hex');
      codes.set(code, {
        redirectUri,
        codeChallenge: query.get('code_challenge') ?? undefined,
        scope: query.get('scope') ?? '',
        expiresAt: Date.now() + CODE_TTL_MS,
      });
      back.searchParams.set('code', code);
    }
    if (state !== null) back.searchParams.set('state', state);
    res.writeHead(302, { location: back.href });
    res.end();
  }

  function exchangeCode(req: IncomingMessage, form: URLSearchParams, res: ServerResponse): void {
    const credentials = clientCredentials(req, form);
    if (credentials.clientId !== options.clientId || credentials.clientSecret !== options.clientSecret) {
      tokenError(
        req,
        res,
        'incorrect_client_credentials',
        'The client_id and/or client_secret passed are incorrect.',
      );
      return;
    }
    const code = form.get('code') ?? '';
    const issued = codes.get(code);
    codes.delete(code); // single use, whatever happens next
    if (issued === undefined || issued.expiresAt < Date.now()) {
      tokenError(req, res, 'bad_verification_code', 'The code passed is incorrect or expired.');
      return;
    }
    if (issued.redirectUri !== form.get('redirect_uri')) {
      tokenError(
        req,
        res,
        'redirect_uri_mismatch',
        'The redirect_uri MUST match the registered callback URL.',
      );
      return;
    }
    if (issued.codeChallenge !== undefined) {
      const verifier = form.get('code_verifier') ?? '';
      const computed = createHash('sha256').update(verifier).digest('base64url');
      if (computed !== issued.codeChallenge) {
        tokenError(req, res, 'invalid_grant', 'The code_verifier does not match the code_challenge.');
        return;
      }
    }
    const accessToken = `gho_${randomBytes(18).toString('hex')}`;
    tokens.add(accessToken);
    sendTokenResponse(req, res, { access_token: accessToken, token_type: 'bearer', scope: issued.scope });
  }

  function userinfo(req: IncomingMessage, res: ServerResponse): void {
    const match = /^(?:Bearer|token) (\S+)$/i.exec(req.headers.authorization ?? '');
    if (match === null || !tokens.has(match[1] ?? '') || fake.tokensRevoked) {
      sendJson(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
      return;
    }
    // GitHub's REST API refuses requests without a User-Agent.
    if (!req.headers['user-agent']) {
      sendJson(res, 403, {
        message:
          'Request forbidden by administrative rules. Please make sure your request has a User-Agent header',
      });
      return;
    }
    sendJson(res, 200, fake.user);
  }

  return fake;
}

/** client_secret_basic (RFC 6749 §2.3.1: form-encoded, then base64) or client_secret_post. */
function clientCredentials(
  req: IncomingMessage,
  form: URLSearchParams,
): { clientId: string | null; clientSecret: string | null } {
  const basic = /^Basic (\S+)$/i.exec(req.headers.authorization ?? '');
  if (basic !== null) {
    const decoded = Buffer.from(basic[1] ?? '', 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon === -1) return { clientId: null, clientSecret: null };
    return {
      clientId: decodeURIComponent(decoded.slice(0, colon).replaceAll('+', ' ')),
      clientSecret: decodeURIComponent(decoded.slice(colon + 1).replaceAll('+', ' ')),
    };
  }
  return { clientId: form.get('client_id'), clientSecret: form.get('client_secret') };
}

function wantsJson(req: IncomingMessage): boolean {
  return (req.headers.accept ?? '').includes('application/json');
}

function sendTokenResponse(req: IncomingMessage, res: ServerResponse, body: Record<string, string>): void {
  if (wantsJson(req)) {
    sendJson(res, 200, body);
    return;
  }
  res.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' });
  res.end(new URLSearchParams(body).toString());
}

// GitHub answers token errors with 200 and an error body, not the 400 of RFC 6749 §5.2.
function tokenError(req: IncomingMessage, res: ServerResponse, error: string, description: string): void {
  sendTokenResponse(req, res, {
    error,
    error_description: description,
    error_uri:
      'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors',
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}
