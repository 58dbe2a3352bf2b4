// Sessions: the memory store (expiry, sliding idle window, capacity, frozen records), the hot-path
// lookup (signed cookie → record → timeouts), cookie reading and naming, the login loop guard, and
// reading identity claims.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { sign } from 'cookie-signature';
import type session from 'express-session';

import { sessionSchema } from '../../src/config/schema.js';
import type { Clock } from '../../src/core/clock.js';
import type { Identity } from '../../src/core/identity.js';
import { countLoginRound, LOOP_WINDOW_MS, MAX_LOGIN_ROUNDS } from '../../src/login/loop-guard.js';
import { claimAsGroups, readClaim } from '../../src/providers/oidc/claims.js';
import { readCookie, sessionCookieSettings } from '../../src/session/cookie.js';
import { createSessionLookup } from '../../src/session/lookup.js';
import type { SessionTimeouts, StoredSessionRecord } from '../../src/session/session-data.js';
import type { SessionReader } from '../../src/session/session-reader.js';
import { MemorySessionStore } from '../../src/session/stores/memory-store.js';
import { FakeClock } from '../support/fake-clock.js';
import { aliceIdentity } from '../support/identities.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const T0 = Date.UTC(2025, 0, 15, 9, 0, 0);

const ALICE = aliceIdentity();

function signedIn(authenticatedAt: number, identity: Identity = ALICE): session.SessionData {
  const record: StoredSessionRecord = {
    cookie: { originalMaxAge: 86_400_000, httpOnly: true, path: '/' },
    identity,
    authenticatedAt,
    csrfToken: 'csrf',
  };
  return record as unknown as session.SessionData;
}

function pendingLogin(createdAt: number): session.SessionData {
  const record: StoredSessionRecord = {
    cookie: { path: '/' },
    pendingLogins: [
      {
        providerId: 'corp',
        state: 's',
        nonce: 'n',
        codeVerifier: 'v',
        returnTo: 'https://apps.example.com/',
        createdAt,
      },
    ],
  };
  return record as unknown as session.SessionData;
}

function newStore(clock: Clock, timeouts: SessionTimeouts, maxSessions = 100): MemorySessionStore {
  return new MemorySessionStore({ maxSessions, timeouts, clock });
}

function getAsync(store: MemorySessionStore, sid: string): Promise<session.SessionData | null | undefined> {
  return new Promise((resolve, reject) =>
    store.get(sid, (err, value) =>
      err ? reject(err instanceof Error ? err : new Error('store error')) : resolve(value),
    ),
  );
}

describe('memory session store', () => {
  const timeouts: SessionTimeouts = { idleMs: HOUR, absoluteMs: 24 * HOUR };

  test('a record expires after the idle timeout', async () => {
    const clock = new FakeClock(T0);
    const store = newStore(clock, timeouts);
    store.set('sid', signedIn(clock.now()));
    clock.advance(HOUR - 1);
    assert.equal(store.read('sid')?.identity?.username, 'alice');
    assert.equal((await getAsync(store, 'sid'))?.authenticatedAt, T0);
    clock.advance(1);
    assert.equal(store.read('sid'), undefined);
    assert.equal(await getAsync(store, 'sid'), null);
    assert.equal(store.size, 0);
    store.close();
  });

  test('sweepExpired drops expired records without a read', () => {
    const clock = new FakeClock(T0);
    const store = newStore(clock, timeouts);
    store.set('a', signedIn(clock.now()));
    clock.advance(30 * MINUTE);
    store.set('b', signedIn(clock.now()));
    clock.advance(30 * MINUTE);
    store.sweepExpired();
    assert.equal(store.size, 1);
    assert.equal(store.read('a'), undefined);
    assert.notEqual(store.read('b'), undefined);
    store.close();
  });

  test('extend slides the idle window', () => {
    const clock = new FakeClock(T0);
    const store = newStore(clock, timeouts);
    store.set('sid', signedIn(clock.now()));
    clock.advance(50 * MINUTE);
    store.extend('sid');
    clock.advance(50 * MINUTE); // T0 + 100m: past the first idle window, inside the extended one
    assert.equal(store.read('sid')?.identity?.username, 'alice');
    clock.advance(10 * MINUTE - 1); // T0 + 110m - 1ms
    assert.notEqual(store.read('sid'), undefined);
    clock.advance(1); // T0 + 110m = last extension + idle
    assert.equal(store.read('sid'), undefined);
    store.close();
  });

  test('touch (express-session) slides the idle window like extend', () => {
    const clock = new FakeClock(T0);
    const store = newStore(clock, timeouts);
    store.set('sid', signedIn(clock.now()));
    clock.advance(45 * MINUTE);
    store.touch('sid', signedIn(T0));
    clock.advance(45 * MINUTE);
    assert.notEqual(store.read('sid'), undefined);
    store.close();
  });

  test('extend never slides past authenticatedAt + the absolute timeout', () => {
    const clock = new FakeClock(T0);
    const store = newStore(clock, { idleMs: HOUR, absoluteMs: 2 * HOUR });
    store.set('sid', signedIn(clock.now()));
    clock.advance(50 * MINUTE);
    store.extend('sid'); // → T0 + 110m
    clock.advance(50 * MINUTE);
    store.extend('sid'); // idle would give T0 + 160m; capped at T0 + 120m
    clock.advance(20 * MINUTE - 1); // T0 + 120m - 1ms
    assert.notEqual(store.read('sid'), undefined);
    clock.advance(1); // T0 + 120m
    assert.equal(store.read('sid'), undefined);
    store.close();
  });

  // express-session calls store.touch() at the end of a request whose get() ran at its start: a
  // session that expires while that request is in flight must not be revived (Redis EXPIRE on a
  // vanished key is a no-op, and both stores must agree).
  test('extend/touch on an expired (not yet swept) record does not revive it', () => {
    const clock = new FakeClock(T0);
    const store = newStore(clock, timeouts);
    store.set('sid', signedIn(clock.now()));
    clock.advance(HOUR + 5 * SECOND); // expired 5 s ago; the sweeper has not run
    store.touch('sid', signedIn(T0));
    assert.equal(store.read('sid'), undefined);
    store.close();
  });

  test('writing a record whose absolute timeout has passed stores nothing', () => {
    const clock = new FakeClock(T0);
    const store = newStore(clock, { idleMs: HOUR, absoluteMs: 2 * HOUR });
    store.set('sid', signedIn(clock.now() - 2 * HOUR));
    assert.equal(store.read('sid'), undefined);
    assert.equal(store.size, 0);
    store.close();
  });

  test('pending-login records (no identity) live 10 minutes, whatever the idle timeout', () => {
    const clock = new FakeClock(T0);
    const store = newStore(clock, { idleMs: 8 * HOUR, absoluteMs: 24 * HOUR });
    store.set('pending', pendingLogin(clock.now()));
    clock.advance(10 * MINUTE - 1);
    assert.equal(store.read('pending')?.pendingLogins?.length, 1);
    clock.advance(1);
    assert.equal(store.read('pending'), undefined);
    store.close();
  });

  test('it is bounded: the 11th insert evicts the least recently written', () => {
    const clock = new FakeClock(T0);
    const store = newStore(clock, timeouts, 10);
    for (let i = 0; i < 10; i++) {
      store.set(`s${i}`, signedIn(clock.now()));
      clock.advance(SECOND);
    }
    store.set('s0', signedIn(clock.now())); // re-written: now the most recent
    assert.equal(store.size, 10);
    store.set('s10', signedIn(clock.now()));
    assert.equal(store.size, 10);
    assert.equal(store.read('s1'), undefined, 's1 was the least recently written');
    for (const sid of ['s0', 's2', 's3', 's9', 's10']) assert.notEqual(store.read(sid), undefined, sid);
    store.set('s11', signedIn(clock.now()));
    assert.equal(store.read('s2'), undefined);
    assert.notEqual(store.read('s0'), undefined);
    store.close();
  });

  test('stored records cannot be changed from outside: set() copies, get() hands out copies, read() is frozen', async () => {
    const clock = new FakeClock(T0);
    const store = newStore(clock, timeouts);
    const data = signedIn(clock.now(), { ...ALICE, groups: ['users'] });
    store.set('sid', data);

    // The caller's object is copied: changing it afterwards changes nothing stored.
    (data as unknown as { identity: { groups: string[] } }).identity.groups.push('admins');

    // express-session's copy may be changed (it reassigns `cookie`), but that is not stored.
    const got = (await getAsync(store, 'sid')) as unknown as StoredSessionRecord;
    (got.identity?.groups as string[]).push('admins');
    got.identity = { ...ALICE, username: 'root', groups: ['admins'] };
    got.authenticatedAt = T0 + 999 * HOUR;

    const again = (await getAsync(store, 'sid')) as unknown as StoredSessionRecord;
    assert.equal(again.identity?.username, 'alice');
    assert.deepEqual(again.identity.groups, ['users']);
    assert.equal(again.authenticatedAt, T0);

    // The hot path's record is shared between requests, so it is frozen all the way down.
    const hot = store.read('sid');
    assert.ok(Object.isFrozen(hot));
    assert.throws(() => {
      (hot?.identity?.groups as string[]).push('admins');
    }, TypeError);
    assert.throws(() => {
      (hot?.identity as { username: string }).username = 'root';
    }, TypeError);
    assert.deepEqual(store.read('sid')?.identity?.groups, ['users']);
    store.close();
  });

  test('get() gives express-session back exactly what set() was given, cookie included', async () => {
    const clock = new FakeClock(T0);
    const store = newStore(clock, timeouts);
    const cookies = [
      {
        originalMaxAge: 86_400_000,
        expires: new Date(T0 + 86_400_000).toISOString(),
        secure: true,
        httpOnly: true,
        domain: '.example.com',
        path: '/',
        sameSite: 'lax',
      },
      { originalMaxAge: null, expires: null, httpOnly: true, path: '/' },
      { httpOnly: true, path: '/', sameSite: 'strict' },
    ];
    for (const [i, cookie] of cookies.entries()) {
      const data = { ...(signedIn(clock.now()) as object), cookie } as unknown as session.SessionData;
      store.set(`sid${i}`, data);
      assert.deepEqual(await getAsync(store, `sid${i}`), JSON.parse(JSON.stringify(data)), `cookie ${i}`);
    }
    // Sessions that share cookie settings keep their own expiry.
    store.set('later', {
      ...(signedIn(clock.now()) as object),
      cookie: { ...cookies[0], expires: new Date(T0 + 999).toISOString() },
    } as unknown as session.SessionData);
    const later = (await getAsync(store, 'later')) as unknown as { cookie: { expires: string } };
    assert.equal(later.cookie.expires, new Date(T0 + 999).toISOString());
    const first = (await getAsync(store, 'sid0')) as unknown as { cookie: { expires: string } };
    assert.equal(first.cookie.expires, cookies[0]?.expires);
    store.close();
  });

  test('a session written again is read afresh by the hot path, not from its parsed cache', () => {
    const clock = new FakeClock(T0);
    const store = newStore(clock, timeouts);
    store.set('sid', signedIn(clock.now(), { ...ALICE, groups: ['users'] }));
    assert.deepEqual(store.read('sid')?.identity?.groups, ['users']);
    store.set('sid', signedIn(clock.now(), { ...ALICE, groups: ['users', 'admins'] }));
    assert.deepEqual(store.read('sid')?.identity?.groups, ['users', 'admins']);
    store.destroy('sid');
    assert.equal(store.read('sid'), undefined);
    store.close();
  });

  test('destroy and clear remove records', () => {
    const clock = new FakeClock(T0);
    const store = newStore(clock, timeouts);
    store.set('a', signedIn(clock.now()));
    store.set('b', signedIn(clock.now()));
    store.destroy('a');
    assert.equal(store.read('a'), undefined);
    assert.equal(store.size, 1);
    store.clear();
    assert.equal(store.size, 0);
    store.close();
  });
});

describe('session lookup', () => {
  const SECRET = 'first-secret-0123456789abcdefghijkl';
  const OLD_SECRET = 'older-secret-0123456789abcdefghijkl';
  const timeouts: SessionTimeouts = { idleMs: HOUR, absoluteMs: 2 * HOUR };

  const request = (cookie: string | undefined): IncomingMessage => {
    const req = new IncomingMessage(new Socket());
    req.headers = cookie === undefined ? {} : { cookie };
    return req;
  };

  /** What express-session writes: 's:' + signed id, URL-encoded. */
  const cookieValue = (id: string, secret: string) => encodeURIComponent(`s:${sign(id, secret)}`);

  function setup(secrets: readonly string[] = [SECRET], storeTimeouts: SessionTimeouts = timeouts) {
    const clock = new FakeClock(T0);
    const store = newStore(clock, storeTimeouts);
    store.set('sess-1', signedIn(clock.now()));
    const lookup = createSessionLookup({
      cookieName: 'portcullis',
      secrets,
      reader: { read: (sid) => store.read(sid), extend: (sid) => store.extend(sid) },
      timeouts: storeTimeouts,
      clock,
    });
    return { clock, store, lookup };
  }

  test('a cookie signed with the right secret finds the session', async () => {
    const { lookup, store } = setup();
    const cookie = `portcullis=${cookieValue('sess-1', SECRET)}`;
    assert.match(cookie, /^portcullis=s%3Asess-1\./);
    assert.deepEqual(await lookup.lookup(request(cookie)), {
      id: 'sess-1',
      identity: ALICE,
      authenticatedAt: T0,
    });
    assert.equal((await lookup.lookup(request(`other=1; ${cookie}; more=2`)))?.id, 'sess-1');
    store.close();
  });

  const refused: Array<[string, string | undefined]> = [
    ['no cookie header', undefined],
    ['a cookie signed with another secret', `portcullis=${cookieValue('sess-1', 'x'.repeat(40))}`],
    [
      'a tampered id',
      `portcullis=${encodeURIComponent(`s:${sign('sess-1', SECRET).replace('sess-1', 'sess-2')}`)}`,
    ],
    ['an unsigned id', `portcullis=${encodeURIComponent('s:sess-1')}`],
    ['a signed id without the s: prefix', `portcullis=${encodeURIComponent(sign('sess-1', SECRET))}`],
    ['the right value under another cookie name', `portcullis-other=${cookieValue('sess-1', SECRET)}`],
    ['a signature with the id of a missing session', `portcullis=${cookieValue('sess-unknown', SECRET)}`],
    ['an empty value', 'portcullis='],
  ];
  test('a verified cookie is remembered, but every forgery is still refused after it', async () => {
    const { lookup, store } = setup();
    store.set('sess-2', signedIn(T0));
    const genuine = `portcullis=${cookieValue('sess-1', SECRET)}`;
    assert.equal((await lookup.lookup(request(genuine)))?.id, 'sess-1');
    assert.equal((await lookup.lookup(request(genuine)))?.id, 'sess-1');
    for (const [name, cookie] of refused) assert.equal(await lookup.lookup(request(cookie)), null, name);
    // The genuine signature with another id, or the genuine id with a truncated signature.
    const signed = sign('sess-1', SECRET);
    const otherId = encodeURIComponent(`s:${signed.replace('sess-1', 'sess-2')}`);
    assert.equal(await lookup.lookup(request(`portcullis=${otherId}`)), null);
    const truncated = encodeURIComponent(`s:${signed.slice(0, -1)}`);
    assert.equal(await lookup.lookup(request(`portcullis=${truncated}`)), null);
    store.close();
  });

  for (const [name, cookie] of refused) {
    test(`${name} → null`, async () => {
      const { lookup, store } = setup();
      assert.equal(await lookup.lookup(request(cookie)), null);
      store.close();
    });
  }

  test('the second secret of a rotation list still verifies', async () => {
    const { lookup, store } = setup([SECRET, OLD_SECRET]);
    assert.equal(
      (await lookup.lookup(request(`portcullis=${cookieValue('sess-1', OLD_SECRET)}`)))?.id,
      'sess-1',
    );
    assert.equal((await lookup.lookup(request(`portcullis=${cookieValue('sess-1', SECRET)}`)))?.id, 'sess-1');
    store.close();
  });

  test('a lookup slides the idle window', async () => {
    const { lookup, store, clock } = setup([SECRET], { idleMs: HOUR, absoluteMs: 24 * HOUR });
    const cookie = `portcullis=${cookieValue('sess-1', SECRET)}`;
    clock.advance(50 * MINUTE);
    assert.notEqual(await lookup.lookup(request(cookie)), null);
    clock.advance(50 * MINUTE); // 100 min after login (past the first idle window), 50 after the last request
    assert.notEqual(await lookup.lookup(request(cookie)), null);
    clock.advance(HOUR - 1);
    assert.notEqual(store.read('sess-1'), undefined);
    clock.advance(1); // idle for exactly an hour, far from the absolute timeout
    assert.equal(await lookup.lookup(request(cookie)), null);
    store.close();
  });

  test('a session past its absolute timeout returns null even if the store still has it', async () => {
    const clock = new FakeClock(T0);
    const record = signedIn(T0) as unknown as StoredSessionRecord;
    const extended: string[] = [];
    const reader: SessionReader = { read: () => record, extend: (sid) => extended.push(sid) };
    const lookup = createSessionLookup({
      cookieName: 'portcullis',
      secrets: [SECRET],
      reader,
      timeouts,
      clock,
    });
    const cookie = `portcullis=${cookieValue('sess-1', SECRET)}`;
    clock.advance(2 * HOUR - 1);
    assert.equal((await lookup.lookup(request(cookie)))?.id, 'sess-1');
    assert.deepEqual(extended, ['sess-1']);
    clock.advance(1);
    assert.equal(await lookup.lookup(request(cookie)), null);
    assert.deepEqual(extended, ['sess-1'], 'an expired session is not extended');
  });

  test('a record without an identity (login in progress) is not a session', async () => {
    const clock = new FakeClock(T0);
    const store = newStore(clock, timeouts);
    store.set('pending', pendingLogin(clock.now()));
    const lookup = createSessionLookup({
      cookieName: 'portcullis',
      secrets: [SECRET],
      reader: { read: (sid) => store.read(sid), extend: (sid) => store.extend(sid) },
      timeouts,
      clock,
    });
    assert.equal(await lookup.lookup(request(`portcullis=${cookieValue('pending', SECRET)}`)), null);
    store.close();
  });
});

describe('readCookie', () => {
  const cases: Array<[header: string | undefined, name: string, expected: string | undefined]> = [
    [undefined, 'a', undefined],
    ['', 'a', undefined],
    ['a=1', 'a', '1'],
    ['a=1; a=2', 'a', '1'],
    ['b=0; a=first; a=second', 'a', 'first'],
    ['a="quoted value"', 'a', 'quoted value'],
    ['a=""', 'a', ''],
    ['a="', 'a', '"'],
    ['a=s%3Aabc.def%2Bg', 'a', 's:abc.def+g'],
    ['a=%E0%A4%A', 'a', '%E0%A4%A'],
    ['a=b=c', 'a', 'b=c'],
    ['  a  =  spaced  ;b=2', 'a', 'spaced'],
    ['flag; a=1', 'a', '1'],
    ['a; b=2', 'a', undefined],
    ['portcullis-rounds=3.1700000000; portcullis=s%3Aid.sig', 'portcullis', 's:id.sig'],
    ['portcullis-rounds=3.1700000000; portcullis=s%3Aid.sig', 'portcullis-rounds', '3.1700000000'],
    ['portcullis-rounds=3.1', 'portcullis', undefined],
    ['xportcullis=1; portcullis=2', 'portcullis', '2'],
    ['portcullisx=1', 'portcullis', undefined],
    ['Portcullis=1', 'portcullis', undefined],
  ];
  for (const [header, name, expected] of cases) {
    test(`${JSON.stringify(header)} [${name}] → ${JSON.stringify(expected)}`, () => {
      assert.equal(readCookie(header, name), expected);
    });
  }
});

describe('sessionCookieSettings', () => {
  const config = (extra: Record<string, unknown> = {}) =>
    sessionSchema.parse({ secret: 's'.repeat(32), ...extra });

  test("https → '__Host-portcullis', secure, no domain", () => {
    assert.deepEqual(sessionCookieSettings(new URL('https://apps.example.com'), config()), {
      name: '__Host-portcullis',
      secure: true,
      domain: undefined,
    });
  });

  test("https with cookieDomain → '__Secure-portcullis' with the domain", () => {
    assert.deepEqual(
      sessionCookieSettings(new URL('https://apps.example.com'), config({ cookieDomain: 'example.com' })),
      {
        name: '__Secure-portcullis',
        secure: true,
        domain: 'example.com',
      },
    );
    const wildcard = sessionCookieSettings(
      new URL('https://apps.example.com'),
      config({ cookieDomain: '*.example.com' }),
    );
    assert.equal(wildcard.name, '__Secure-portcullis');
    assert.equal(wildcard.domain, '.example.com');
  });

  test("http → 'portcullis', not secure", () => {
    assert.deepEqual(sessionCookieSettings(new URL('http://127.0.0.1:8080'), config()), {
      name: 'portcullis',
      secure: false,
      domain: undefined,
    });
  });

  test('a configured cookieName wins', () => {
    const settings = sessionCookieSettings(new URL('https://apps.example.com'), config({ cookieName: 'gw' }));
    assert.equal(settings.name, 'gw');
    assert.equal(settings.secure, true);
  });
});

describe('countLoginRound', () => {
  const NOW = T0 + 123; // not on a second boundary
  const startSeconds = Math.floor(NOW / 1000);

  test(`${MAX_LOGIN_ROUNDS} rounds within a minute are allowed, the next one loops`, () => {
    assert.equal(MAX_LOGIN_ROUNDS, 5);
    let value: string | undefined;
    const verdicts: boolean[] = [];
    for (let round = 0; round < 6; round++) {
      const verdict = countLoginRound(value, NOW + round * 5 * SECOND);
      verdicts.push(verdict.looping);
      value = verdict.nextValue;
    }
    assert.deepEqual(verdicts, [false, false, false, false, false, true]);
  });

  test('the counter starts at 1 and keeps its window start', () => {
    assert.deepEqual(countLoginRound(undefined, NOW), { looping: false, nextValue: `1.${startSeconds}` });
    assert.deepEqual(countLoginRound(`1.${startSeconds}`, NOW + 10 * SECOND), {
      looping: false,
      nextValue: `2.${startSeconds}`,
    });
    assert.deepEqual(countLoginRound(`5.${startSeconds}`, NOW + 10 * SECOND), {
      looping: true,
      nextValue: `6.${startSeconds}`,
    });
  });

  test('a new window resets the count', () => {
    const later = startSeconds * 1000 + LOOP_WINDOW_MS;
    assert.deepEqual(countLoginRound(`5.${startSeconds}`, later), {
      looping: false,
      nextValue: `1.${Math.floor(later / 1000)}`,
    });
    assert.equal(countLoginRound(`5.${startSeconds}`, later - 1).looping, true);
  });

  for (const garbage of [
    '',
    'abc',
    '5',
    '5.',
    `.${startSeconds}`,
    `1000.${startSeconds}`,
    `-5.${startSeconds}`,
    `5.${startSeconds}.1`,
    `5.${startSeconds}x`,
    ` 5.${startSeconds}`,
    '5.1234567890123',
    `5.${startSeconds + 3600}`, // a window that starts in the future
  ]) {
    test(`garbage value ${JSON.stringify(garbage)} resets to round 1`, () => {
      assert.deepEqual(countLoginRound(garbage, NOW), { looping: false, nextValue: `1.${startSeconds}` });
    });
  }
});

describe('readClaim / claimAsGroups', () => {
  const claims: Record<string, unknown> = {
    sub: 'u-1',
    email: 'alice@example.com',
    realm_access: { roles: ['admin', 'user'] },
    resource_access: { app: { roles: ['viewer'] } },
    'https://example.com/groups': ['ns-group'],
    https: { 'example.com/groups': 'wrong-walk' },
    list: ['a', 'b'],
    nested: { list: [{ deep: 'x' }] },
    nothing: null,
  };

  const readCases: Array<[string, unknown]> = [
    ['sub', 'u-1'],
    ['realm_access.roles', ['admin', 'user']],
    ['resource_access.app.roles', ['viewer']],
    ['https://example.com/groups', ['ns-group']],
    ['missing', undefined],
    ['realm_access.missing', undefined],
    ['realm_access.roles.missing', undefined],
    ['email.length', undefined],
    ['list.0', undefined],
    ['list.length', undefined],
    ['nested.list.0.deep', undefined],
    ['nothing', null],
    ['nothing.x', undefined],
    ['__proto__', undefined],
    ['constructor', undefined],
    ['constructor.name', undefined],
    ['toString', undefined],
    ['hasOwnProperty', undefined],
    ['realm_access.__proto__', undefined],
    ['realm_access.constructor', undefined],
    ['realm_access.constructor.prototype', undefined],
  ];
  for (const [path, expected] of readCases) {
    test(`readClaim('${path}') → ${JSON.stringify(expected)}`, () => {
      assert.deepEqual(readClaim(claims, path), expected);
    });
  }

  test('a whole key containing dots wins over walking the dots', () => {
    assert.deepEqual(readClaim({ 'a.b': 'whole', a: { b: 'walked' } }, 'a.b'), 'whole');
    assert.deepEqual(readClaim({ a: { b: 'walked' } }, 'a.b'), 'walked');
  });

  test('claims parsed from JSON with an own __proto__ key do not reach Object.prototype', () => {
    const parsed = JSON.parse('{"__proto__": {"polluted": "yes"}, "a": {}}') as Record<string, unknown>;
    assert.equal(readClaim(parsed, 'a.polluted'), undefined);
    assert.equal(readClaim({}, 'polluted'), undefined);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  const groupCases: Array<[unknown, string[] | undefined]> = [
    ['admins', ['admins']],
    ['', []],
    [
      ['a', 'b'],
      ['a', 'b'],
    ],
    [
      ['a', 1, null, { x: 1 }, ['nested'], true, 'b', ''],
      ['a', 'b'],
    ],
    [
      ['a', 'b', 'a', 'b', 'c'],
      ['a', 'b', 'c'],
    ],
    [[], []],
    [undefined, undefined],
    [null, undefined],
    [42, undefined],
    [{ 0: 'a', length: 1 }, undefined],
  ];
  for (const [value, expected] of groupCases) {
    test(`claimAsGroups(${JSON.stringify(value)}) → ${JSON.stringify(expected)}`, () => {
      assert.deepEqual(claimAsGroups(value), expected);
    });
  }
});
