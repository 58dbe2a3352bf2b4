// Forward-auth through a real nginx configured the way ingress-nginx's auth-url / auth-signin /
// auth-response-headers annotations configure it: nginx asks {prefix}/auth, copies the identity
// headers upstream, sends unauthenticated browsers to sign in, and refuses what the policy denies.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loginAtLocalIdp, TestBrowser } from '../support/browser.js';
import { freePort } from '../support/free-port.js';
import { startStack, type Stack } from '../support/gateway-stack.js';
import { startNginx, type TestNginx } from '../support/nginx.js';
import { requireBinary } from '../support/services.js';

const nginxBinary = requireBinary('nginx', 'nginx');
const api = { accept: 'application/json', 'sec-fetch-mode': 'cors' };
const COPIED = ['user', 'email', 'groups', 'name', 'assertion'] as const;
const HEADER = {
  user: 'X-Auth-Request-User',
  email: 'X-Auth-Request-Email',
  groups: 'X-Auth-Request-Groups',
  name: 'X-Auth-Request-Name',
  assertion: 'X-Portcullis-Assertion',
};

function ingressServerBlock(gatewayPort: number, echoUrl: string): string {
  const sets = COPIED.map(
    (key) =>
      `auth_request_set $auth_${key} $upstream_http_${HEADER[key].toLowerCase().replaceAll('-', '_')};`,
  ).join('\n      ');
  const copies = COPIED.map((key) => `proxy_set_header ${HEADER[key]} $auth_${key};`).join('\n      ');
  return `
    location = /_external-auth {
      internal;
      proxy_pass http://127.0.0.1:${gatewayPort}/.portcullis/auth;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
      proxy_set_header X-Original-Method $request_method;
      proxy_set_header X-Forwarded-For $remote_addr;
    }
    location @portcullis-signin {
      return 302 http://localhost:${gatewayPort}/.portcullis/login?rd=$scheme://$http_host$request_uri;
    }
    location / {
      auth_request /_external-auth;
      ${sets}
      ${copies}
      error_page 401 = @portcullis-signin;
      proxy_pass ${echoUrl};
    }`;
}

describe(
  'forward-auth behind a real nginx auth_request',
  { skip: 'skip' in nginxBinary ? nginxBinary.skip : false },
  () => {
    // Undefined when before() failed part-way: after() stops only what started.
    let stack: Stack | undefined;
    let nginx: TestNginx | undefined;
    let appUrl: string;

    before(async () => {
      const nginxPort = await freePort();
      appUrl = `http://localhost:${nginxPort}`;
      stack = await startStack({
        extra: { server: { trustProxy: ['loopback'], allowedRedirectHosts: [`localhost:${nginxPort}`] } },
      });
      nginx = await startNginx(nginxPort, ingressServerBlock(stack.primary.gateway.port, stack.echo.url));
    });
    after(async () => {
      await nginx?.close();
      await stack?.close();
    });

    test('no session: nginx sends the browser to sign in, and the login returns to the app', async () => {
      const browser = new TestBrowser();
      const first = await browser.request(`${appUrl}/reports`);
      assert.equal(first.status, 302);
      const signin = new URL(first.headers.location ?? '');
      assert.equal(signin.pathname, '/.portcullis/login');
      assert.equal(signin.searchParams.get('rd'), `${appUrl}/reports`);
      const { final: loginPage } = await browser.navigate(signin.href);
      const { final, chain } = await loginAtLocalIdp(browser, loginPage, 'alice', 'alice');
      assert.equal(final.status, 200);
      assert.equal(chain.at(-1)?.url, `${appUrl}/reports`);
      const echo = JSON.parse((await browser.request(`${appUrl}/reports`, { headers: api })).body) as {
        headers: Record<string, string>;
        assertion: { valid: boolean; claims: Record<string, unknown> } | null;
      };
      assert.equal(echo.headers['x-auth-request-user'], 'alice');
      assert.equal(echo.headers['x-auth-request-groups'], 'admins,all-users,eng');
      assert.ok(echo.headers['x-portcullis-assertion']);
    });

    test('the policy is chosen from the original path: bob gets 403 on /admins/', async () => {
      const browser = new TestBrowser();
      const { final: loginPage } = await browser.navigate(`${appUrl}/`);
      await loginAtLocalIdp(browser, loginPage, 'bob', 'bob');
      assert.equal((await browser.request(`${appUrl}/`, { headers: api })).status, 200);
      assert.equal((await browser.request(`${appUrl}/admins/`, { headers: api })).status, 403);
      assert.equal((await browser.request(`${appUrl}/ADMINS/x`, { headers: api })).status, 403);
      assert.equal((await browser.request(`${appUrl}/public/../admins/`, { headers: api })).status, 403);
    });

    test('identity headers a client sends never reach the app through nginx', async () => {
      const anonymous = await new TestBrowser().request(`${appUrl}/public/x`, {
        headers: { ...api, 'X-Auth-Request-User': 'mallory', 'X-Portcullis-Assertion': 'forged' },
      });
      assert.equal(anonymous.status, 200);
      const seen = JSON.parse(anonymous.body) as { headers: Record<string, string | undefined> };
      assert.equal(seen.headers['x-auth-request-user'] ?? '', '');
      assert.equal(seen.headers['x-portcullis-assertion'] ?? '', '');

      const browser = new TestBrowser();
      const { final: loginPage } = await browser.navigate(`${appUrl}/`);
      await loginAtLocalIdp(browser, loginPage, 'bob', 'bob');
      const spoofed = await browser.request(`${appUrl}/x`, {
        headers: {
          ...api,
          'X-Auth-Request-User': 'alice',
          'X-Auth-Request-Groups': 'admins',
          'X-Original-URL': `${appUrl}/public/x`,
        },
      });
      const echoed = JSON.parse(spoofed.body) as { headers: Record<string, string> };
      assert.equal(echoed.headers['x-auth-request-user'], 'bob');
      assert.equal(echoed.headers['x-auth-request-groups'], 'all-users,eng');
      // A spoofed X-Original-URL pointing at a public path does not open /admins/ either.
      const admin = await browser.request(`${appUrl}/admins/`, {
        headers: { ...api, 'X-Original-URL': `${appUrl}/public/` },
      });
      assert.equal(admin.status, 403);
    });
  },
);
