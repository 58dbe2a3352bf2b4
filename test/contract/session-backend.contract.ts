// The suite every session backend must pass (src/session/stores/create-backend.ts: memory, Redis,
// Redis with its in-process session cache): express-session's side (set, get, touch, destroy), the
// hot path's reader (read, extend) and lookup over it, expiry on the idle timeout, the absolute
// timeout as a cap, and ping. Imported by one test file per adapter; see contract-time.ts for how
// time is handled.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { sign } from 'cookie-signature';
import type session from 'express-session';
import type { Identity } from '../../src/core/identity.js';
import { createSessionLookup } from '../../src/session/lookup.js';
import type { SessionTimeouts, StoredSessionRecord } from '../../src/session/session-data.js';
import type { SessionBackend } from '../../src/session/stores/create-backend.js';
import type { ContractTime } from './contract-time.js';
import { aliceIdentity } from '../support/identities.js';

export interface OpenedSessionBackend {
  backend: SessionBackend;
  time: ContractTime;
  /** As given to the backend. The idle timeout is short with a real clock (a few seconds). */
  timeouts: SessionTimeouts;
  /** The store keeps TTLs to this precision, rounding up (Redis: whole seconds; memory: exact). */
  ttlGranularityMs: number;
  /** How long past its expected moment a change may take to be seen before the suite gives up. */
  patienceMs: number;
  close(): Promise<void>;
}

const SECRET = 'contract-secret-contract-secret-contract-secret';
const COOKIE_NAME = 'portcullis';
/** Redis and the Node process read the same wall clock at different moments: a little slack. */
const CLOCK_SLACK_MS = 50;

const ALICE = aliceIdentity({ roles: ['admin'] });

function record(authenticatedAt: number, identity: Identity = ALICE): session.SessionData {
  const stored: StoredSessionRecord = {
    cookie: {
      originalMaxAge: 86_400_000,
      expires: new Date(authenticatedAt + 86_400_000).toISOString(),
      secure: false,
      httpOnly: true,
      path: '/',
      sameSite: 'lax',
    },
    identity,
    authenticatedAt,
    csrfToken: 'csrf-token',
  };
  return stored as unknown as session.SessionData;
}

function pendingLogin(createdAt: number): session.SessionData {
  const stored: StoredSessionRecord = {
    cookie: { originalMaxAge: null, expires: null, httpOnly: true, path: '/' },
    pendingLogins: [
      {
        providerId: 'corp',
        state: 'state',
        nonce: 'nonce',
        codeVerifier: 'verifier',
        returnTo: 'https://apps.example.com/',
        createdAt,
      },
    ],
  };
  return stored as unknown as session.SessionData;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** express-session's store API with callbacks, as promises. */
function storeOf(store: session.Store) {
  const done =
    (resolve: () => void, reject: (err: Error) => void) =>
    (err?: unknown): void => {
      if (err !== undefined && err !== null) reject(asError(err));
      else resolve();
    };
  return {
    set: (sid: string, data: session.SessionData) =>
      new Promise<void>((resolve, reject) => {
        store.set(sid, data, done(resolve, reject));
      }),
    get: (sid: string) =>
      new Promise<session.SessionData | null | undefined>((resolve, reject) => {
        store.get(sid, (err: unknown, value?: session.SessionData | null) => {
          if (err !== undefined && err !== null) reject(asError(err));
          else resolve(value);
        });
      }),
    touch: (sid: string, data: session.SessionData) =>
      new Promise<void>((resolve, reject) => {
        if (store.touch === undefined) reject(new Error('the store has no touch()'));
        else store.touch(sid, data, done(resolve, reject));
      }),
    destroy: (sid: string) =>
      new Promise<void>((resolve, reject) => {
        store.destroy(sid, done(resolve, reject));
      }),
  };
}

/** A request carrying only a session cookie with this signed value. */
function requestWithCookie(signedId: string): IncomingMessage {
  const req = new IncomingMessage(new Socket());
  req.headers = { cookie: `${COOKIE_NAME}=${encodeURIComponent(`s:${signedId}`)}` };
  return req;
}

export function sessionBackendContract(name: string, open: () => Promise<OpenedSessionBackend>): void {
  describe(`SessionBackend contract: ${name}`, () => {
    let opened: OpenedSessionBackend;
    let store: ReturnType<typeof storeOf>;
    let time: ContractTime;
    let idleMs: number;

    beforeEach(async () => {
      opened = await open();
      store = storeOf(opened.backend.store);
      time = opened.time;
      idleMs = opened.timeouts.idleMs;
    });
    afterEach(() => opened.close());

    const newSid = () => `contract-${randomUUID()}`;
    const now = () => time.clock.now();
    const read = (sid: string) => Promise.resolve(opened.backend.reader.read(sid));
    /** Resolves with the moment express-session's get() first finds nothing. */
    const goneAt = (sid: string, expected: number) =>
      time.pollUntil(
        `session ${sid} to expire`,
        async () => (await store.get(sid)) == null,
        expected + opened.ttlGranularityMs + opened.patienceMs,
      );

    test('ping answers', async () => {
      await opened.backend.ping();
    });

    test('get() gives express-session back what set() stored, cookie included', async () => {
      const sid = newSid();
      const data = record(now());
      await store.set(sid, data);
      assert.deepEqual(JSON.parse(JSON.stringify(await store.get(sid))), JSON.parse(JSON.stringify(data)));
    });

    test('the hot-path reader sees the identity and login time, frozen', async () => {
      const sid = newSid();
      const at = now();
      await store.set(sid, record(at));
      const seen = await read(sid);
      assert.deepEqual(seen?.identity, ALICE);
      assert.equal(seen.authenticatedAt, at);
      assert.equal(Object.isFrozen(seen), true);
      assert.equal(Object.isFrozen(seen.identity), true);
      assert.equal(Object.isFrozen(seen.identity.groups), true);
    });

    test('an unknown id is no session for either reader', async () => {
      assert.equal((await store.get(newSid())) ?? null, null);
      assert.equal(await read(newSid()), undefined);
    });

    test('destroy ends a session for express-session and the hot path alike, and only that one', async () => {
      const [ended, kept] = [newSid(), newSid()];
      await store.set(ended, record(now()));
      await store.set(kept, record(now()));
      assert.notEqual(await read(ended), undefined); // a reader with a cache now holds it
      await store.destroy(ended);
      assert.equal((await store.get(ended)) ?? null, null);
      assert.equal(await read(ended), undefined);
      assert.equal((await read(kept))?.identity?.username, 'alice');
    });

    test('a session written again is what the hot path reads next', async () => {
      const sid = newSid();
      await store.set(sid, record(now()));
      assert.deepEqual((await read(sid))?.identity?.groups, ['admins', 'users']);
      await store.set(sid, record(now(), { ...ALICE, groups: ['users'] }));
      assert.deepEqual((await read(sid))?.identity?.groups, ['users']);
    });

    test('a session is kept for the idle timeout, then is gone for both readers', async () => {
      const sid = newSid();
      const writtenFrom = now();
      await store.set(sid, record(writtenFrom));
      const gone = await goneAt(sid, writtenFrom + idleMs);
      assert.ok(gone >= writtenFrom + idleMs, `gone ${gone - writtenFrom} ms after the write`);
      assert.equal(await read(sid), undefined);
    });

    test('extend() slides the idle window from the moment it is called', async () => {
      const sid = newSid();
      const writtenFrom = now();
      await store.set(sid, record(writtenFrom));
      await time.waitUntil(writtenFrom + idleMs / 2);
      const seen = await read(sid);
      assert.ok(seen !== undefined, 'still there halfway through the idle window');
      const extendedFrom = now();
      opened.backend.reader.extend(sid, seen);
      const gone = await goneAt(sid, extendedFrom + idleMs);
      assert.ok(
        gone >= extendedFrom + idleMs,
        `gone ${gone - extendedFrom} ms after extend(), idle timeout ${idleMs} ms`,
      );
    });

    test("touch() (express-session's keep-alive) slides the idle window too", async () => {
      const sid = newSid();
      const writtenFrom = now();
      const data = record(writtenFrom);
      await store.set(sid, data);
      await time.waitUntil(writtenFrom + idleMs / 2);
      const touchedFrom = now();
      await store.touch(sid, data);
      const gone = await goneAt(sid, touchedFrom + idleMs);
      assert.ok(gone >= touchedFrom + idleMs, `gone ${gone - touchedFrom} ms after touch()`);
    });

    test('the absolute timeout cuts the idle window short, and extend() does not reach past it', async () => {
      const sid = newSid();
      // Logged in long ago: the absolute end comes halfway through the idle window.
      const absoluteEnd = now() + idleMs / 2;
      const data = record(absoluteEnd - opened.timeouts.absoluteMs);
      const setFrom = now();
      await store.set(sid, data);
      const setLag = now() - setFrom;
      const seen = await read(sid);
      assert.ok(seen !== undefined);
      await time.waitUntil(absoluteEnd - idleMs / 4);
      const extendedFrom = now();
      opened.backend.reader.extend(sid, seen);
      // Fire and forget; a get() on the same connection is answered only after the extension.
      await store.get(sid);
      const extendLag = now() - extendedFrom;
      // A TTL counted from a command that arrived late ends late by as much: allow for both.
      const goneBy = absoluteEnd + opened.ttlGranularityMs + setLag + extendLag + CLOCK_SLACK_MS;
      await time.waitUntil(goneBy);
      assert.equal((await store.get(sid)) ?? null, null, 'kept past the absolute end');
    });

    test('a session written after its absolute end is not stored', async () => {
      const sid = newSid();
      await store.set(sid, record(now() - opened.timeouts.absoluteMs - 1));
      assert.equal((await store.get(sid)) ?? null, null);
      assert.equal(await read(sid), undefined);
    });

    test('a login in progress (no identity yet) outlives the idle timeout', async () => {
      const sid = newSid();
      const writtenFrom = now();
      await store.set(sid, pendingLogin(writtenFrom));
      await time.waitUntil(writtenFrom + idleMs + opened.ttlGranularityMs + CLOCK_SLACK_MS);
      // Pending logins live ten minutes: a slow machine cannot have used them up here.
      assert.notEqual((await store.get(sid)) ?? null, null);
    });

    test('the hot-path lookup finds the session by its signed cookie until the absolute end, then not', async () => {
      const sid = newSid();
      const lookup = createSessionLookup({
        cookieName: COOKIE_NAME,
        secrets: [SECRET],
        reader: opened.backend.reader,
        timeouts: opened.timeouts,
        clock: time.clock,
      });
      // The absolute end falls between whole seconds, so a store with second precision still holds
      // the record after it: the lookup itself must refuse it.
      const absoluteEnd = now() + idleMs / 2 + 500;
      await store.set(sid, record(absoluteEnd - opened.timeouts.absoluteMs));
      const found = await lookup.lookup(requestWithCookie(sign(sid, SECRET)));
      assert.equal(found?.id, sid);
      assert.deepEqual(found.identity, ALICE);
      assert.equal(
        await lookup.lookup(requestWithCookie(sign(sid, 'another-secret-another-secret-another'))),
        null,
      );
      await time.waitUntil(absoluteEnd);
      assert.equal(await lookup.lookup(requestWithCookie(sign(sid, SECRET))), null);
    });
  });
}
