// The logout hint cookie: the ID token sealed with AES-256-GCM for one session (session id as AAD),
// keys from the session secrets (first seals, all open), the cookie's name and attributes, and the
// size limit beyond which the token stays in the session.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import express from 'express';
import {
  createLogoutHintCookie,
  deriveLogoutHintKeys,
  MAX_LOGOUT_HINT_COOKIE_BYTES,
  openLogoutHint,
  sealLogoutHint,
} from '../../src/session/logout-hint-cookie.js';
import { logoutHintCookieName, type SessionCookieSettings } from '../../src/session/cookie.js';

const OLD_SECRET = 'o'.repeat(32);
const NEW_SECRET = 'n'.repeat(32);
const SESSION = 'session-id-of-alice';
const OTHER_SESSION = 'session-id-of-bob';
/** JWT-shaped and about the size of a real one (~1 kB). */
const ID_TOKEN = ['eyJhbGciOiJSUzI1NiJ9', randomBytes(600).toString('base64url'), 'c'.repeat(342)].join('.');

const [KEY] = deriveLogoutHintKeys([NEW_SECRET]) as [Buffer];

function flipByte(value: string, index: number): string {
  const bytes = Buffer.from(value, 'base64url');
  const at = index < 0 ? bytes.length + index : index;
  bytes[at] = (bytes[at] ?? 0) ^ 0x01;
  return bytes.toString('base64url');
}

function requestWithCookie(cookie: string | undefined): IncomingMessage {
  const req = new IncomingMessage(new Socket());
  req.headers = cookie === undefined ? {} : { cookie };
  return req;
}

describe('sealing the ID token', () => {
  test('seal then open with the same session id gives the token back', () => {
    const sealed = sealLogoutHint(ID_TOKEN, SESSION, KEY);
    assert.match(sealed, /^[A-Za-z0-9_-]+$/, 'base64url, cookie-safe as it is');
    assert.equal(openLogoutHint(sealed, SESSION, [KEY]), ID_TOKEN);
    assert.equal(sealed.includes(ID_TOKEN.split('.')[1] ?? ''), false);
  });

  test('each seal has its own IV', () => {
    const first = sealLogoutHint(ID_TOKEN, SESSION, KEY);
    const second = sealLogoutHint(ID_TOKEN, SESSION, KEY);
    assert.notEqual(first, second);
    assert.notDeepEqual(
      Buffer.from(first, 'base64url').subarray(0, 12),
      Buffer.from(second, 'base64url').subarray(0, 12),
    );
  });

  test('another session id (the AAD) does not open it', () => {
    const sealed = sealLogoutHint(ID_TOKEN, SESSION, KEY);
    assert.equal(openLogoutHint(sealed, OTHER_SESSION, [KEY]), undefined);
    assert.equal(openLogoutHint(sealed, '', [KEY]), undefined);
    assert.equal(openLogoutHint(sealed, `${SESSION}x`, [KEY]), undefined);
  });

  test('a changed IV, ciphertext or tag does not open', () => {
    const sealed = sealLogoutHint(ID_TOKEN, SESSION, KEY);
    for (const [where, index] of [
      ['IV', 0],
      ['ciphertext', 40],
      ['tag', -1],
    ] as const) {
      assert.equal(openLogoutHint(flipByte(sealed, index), SESSION, [KEY]), undefined, where);
    }
    const bytes = Buffer.from(sealed, 'base64url');
    assert.equal(openLogoutHint(bytes.subarray(0, -1).toString('base64url'), SESSION, [KEY]), undefined);
    assert.equal(openLogoutHint(bytes.subarray(0, 28).toString('base64url'), SESSION, [KEY]), undefined);
  });

  test('garbage is refused without throwing', () => {
    for (const value of ['', 'not base64!', '%41%41', 'AAAA', 'a.b.c', ID_TOKEN]) {
      assert.equal(openLogoutHint(value, SESSION, [KEY]), undefined, value);
    }
  });

  test('a key from another secret does not open it', () => {
    const sealed = sealLogoutHint(ID_TOKEN, SESSION, KEY);
    assert.equal(openLogoutHint(sealed, SESSION, deriveLogoutHintKeys([OLD_SECRET])), undefined);
  });

  test('rotation: sealed under the old secret, opened once a new one is first', () => {
    const before = deriveLogoutHintKeys([OLD_SECRET]);
    const after = deriveLogoutHintKeys([NEW_SECRET, OLD_SECRET]);
    const sealedBefore = sealLogoutHint(ID_TOKEN, SESSION, before[0] as Buffer);
    assert.equal(openLogoutHint(sealedBefore, SESSION, after), ID_TOKEN);
    // After the rotation the new secret seals, which the old configuration cannot open.
    const sealedAfter = sealLogoutHint(ID_TOKEN, SESSION, after[0] as Buffer);
    assert.equal(openLogoutHint(sealedAfter, SESSION, after), ID_TOKEN);
    assert.equal(openLogoutHint(sealedAfter, SESSION, before), undefined);
    // Once the old secret is dropped, its hints no longer open.
    assert.equal(openLogoutHint(sealedBefore, SESSION, deriveLogoutHintKeys([NEW_SECRET])), undefined);
  });

  test('the key is derived (HKDF), not the secret itself', () => {
    assert.equal(KEY.length, 32);
    assert.notDeepEqual(KEY, Buffer.from(NEW_SECRET));
    assert.throws(() => deriveLogoutHintKeys([]), TypeError);
  });
});

describe('the logout hint cookie', () => {
  const http: SessionCookieSettings = { name: 'portcullis', secure: false, domain: undefined };
  const https: SessionCookieSettings = { name: '__Host-portcullis', secure: true, domain: undefined };
  const shared: SessionCookieSettings = { name: '__Secure-portcullis', secure: true, domain: '.example.com' };

  test('its name follows the session cookie, never with __Host- (which demands Path=/)', () => {
    assert.equal(logoutHintCookieName(http), 'portcullis-logout');
    assert.equal(logoutHintCookieName(https), '__Secure-portcullis-logout');
    assert.equal(logoutHintCookieName(shared), '__Secure-portcullis-logout');
    assert.equal(logoutHintCookieName({ name: 'corp_sso', secure: true }), '__Secure-corp_sso-logout');
    assert.equal(logoutHintCookieName({ name: 'corp_sso', secure: false }), 'corp_sso-logout');
  });

  test('read: opened for its session, refused for another or when tampered, absent without one', () => {
    const hint = createLogoutHintCookie({
      cookie: http,
      secrets: [NEW_SECRET],
      prefix: '/.portcullis',
      maxAgeMs: 86_400_000,
    });
    const sealed = hint.seal(ID_TOKEN, SESSION);
    assert.ok(sealed);
    const cookie = `other=1; portcullis=s%3Aabc.def; ${hint.name}=${sealed}`;
    assert.deepEqual(hint.read(requestWithCookie(cookie), SESSION), { kind: 'opened', idToken: ID_TOKEN });
    assert.deepEqual(hint.read(requestWithCookie(cookie), OTHER_SESSION), { kind: 'refused' });
    assert.deepEqual(hint.read(requestWithCookie(`${hint.name}=${flipByte(sealed, 50)}`), SESSION), {
      kind: 'refused',
    });
    assert.deepEqual(hint.read(requestWithCookie('portcullis=s%3Aabc.def'), SESSION), { kind: 'absent' });
    assert.deepEqual(hint.read(requestWithCookie(undefined), SESSION), { kind: 'absent' });
  });

  test('a token too large for a cookie is not sealed (the caller keeps it in the session)', () => {
    const hint = createLogoutHintCookie({
      cookie: shared,
      secrets: [NEW_SECRET],
      prefix: '/.portcullis',
      maxAgeMs: 86_400_000,
    });
    assert.ok(hint.seal(ID_TOKEN, SESSION), 'a usual ID token fits');
    assert.equal(hint.seal('x'.repeat(3000), SESSION), undefined);
    assert.equal(hint.seal('x'.repeat(16_000), SESSION), undefined);
  });

  test('the largest accepted hint, as express writes it, fits the limit with its attributes', async () => {
    const hint = createLogoutHintCookie({
      cookie: shared,
      secrets: [NEW_SECRET],
      prefix: '/.portcullis',
      maxAgeMs: 90 * 86_400_000,
    });
    let fits = 0;
    let tooLarge = 4000;
    while (tooLarge - fits > 1) {
      const middle = Math.floor((fits + tooLarge) / 2);
      if (hint.seal('x'.repeat(middle), SESSION) === undefined) tooLarge = middle;
      else fits = middle;
    }
    assert.ok(fits > 2000, `tokens up to ${fits} characters fit`);
    const sealed = hint.seal('x'.repeat(fits), SESSION) as string;
    const headers = await setCookieHeadersOf((res) => hint.write(res, sealed));
    assert.equal(headers.length, 1);
    const line = headers[0] ?? '';
    assert.ok(line.length <= MAX_LOGOUT_HINT_COOKIE_BYTES, `${line.length} bytes`);
    assert.ok(line.length > MAX_LOGOUT_HINT_COOKIE_BYTES - 10, `the estimate is tight: ${line.length} bytes`);
  });

  test('set and cleared with the same Path, Domain and flags', async () => {
    const hint = createLogoutHintCookie({
      cookie: shared,
      secrets: [NEW_SECRET],
      prefix: '/.gw',
      maxAgeMs: 3_600_000,
    });
    const [set = ''] = await setCookieHeadersOf((res) => hint.write(res, 'abc'));
    assert.match(set, /^__Secure-portcullis-logout=abc; /);
    for (const attribute of [
      /; Max-Age=3600(;|$)/,
      /; Domain=\.example\.com(;|$)/,
      /; Path=\/\.gw\/logout(;|$)/,
      /; HttpOnly(;|$)/,
      /; Secure(;|$)/,
      /; SameSite=Lax(;|$)/,
    ]) {
      assert.match(set, attribute);
    }
    const [cleared = ''] = await setCookieHeadersOf((res) => hint.clear(res));
    assert.match(cleared, /^__Secure-portcullis-logout=; /);
    assert.match(cleared, /; Expires=Thu, 01 Jan 1970 00:00:00 GMT(;|$)/);
    for (const attribute of [/; Domain=\.example\.com(;|$)/, /; Path=\/\.gw\/logout(;|$)/, /; Secure(;|$)/]) {
      assert.match(cleared, attribute);
    }
  });
});

/**
 * The Set-Cookie lines a real express response gets from `write`: the request goes through an
 * express app in memory (an unconnected socket object; nothing listens, nothing is sent).
 */
function setCookieHeadersOf(write: (res: express.Response) => void): Promise<string[]> {
  const app = express();
  const req = new IncomingMessage(new Socket());
  req.method = 'GET';
  req.url = '/';
  req.headers = { host: 'gateway.example.com' };
  return new Promise<string[]>((resolve, reject) => {
    app.get('/', (_req, res) => {
      write(res);
      const header = res.getHeader('set-cookie');
      resolve(header === undefined ? [] : Array.isArray(header) ? header : [String(header)]);
    });
    app(req as express.Request, new ServerResponse(req) as express.Response, (error: unknown) => {
      reject(error instanceof Error ? error : new Error('express did not route the request'));
    });
  });
}
