// The login/ pieces behind the thin routes, without HTTP: pending logins (added and consumed in one
// module), and SAML single logout against a stub provider, an in-memory session index and a stub store.
import assert from 'node:assert/strict';
import type { SamlSessionInfo } from '../../src/core/saml-session.js';
import { describe, test } from 'node:test';
import type { Request } from 'express';
import type { PendingLogin } from '../../src/core/pending-login.js';
import { addPendingLogin, consumePendingLogin, hasPendingLogin } from '../../src/login/pending-logins.js';
import { createSingleLogout, type SamlProvider } from '../../src/login/single-logout.js';
import { createLogger } from '../../src/observability/logger.js';
import {
  samlSubjectKey,
  type AcceptedLogoutRequest,
  type SamlEndpoints,
} from '../../src/providers/saml-endpoints.js';
import { MemorySessionIndex } from '../../src/session/session-index.js';
import { LogCapture } from '../support/gateway-stack.js';

const MINUTE = 60_000;

function pending(state: string, createdAt: number, providerId = 'corp'): PendingLogin {
  return { providerId, state, nonce: `n-${state}`, codeVerifier: 'v', returnTo: '/', createdAt };
}

/** Just enough of an express request: a session holding pending logins, counting its saves. */
function requestWith(pendings: PendingLogin[]): { req: Request; saves: () => number } {
  let saves = 0;
  const session = {
    pendingLogins: pendings,
    save(callback: (err?: unknown) => void) {
      saves += 1;
      callback();
    },
  };
  return { req: { session } as unknown as Request, saves: () => saves };
}

describe('pending logins', () => {
  test('adding one drops those expired at its start and keeps the newest five', async () => {
    const now = 100 * MINUTE;
    const { req, saves } = requestWith([
      pending('old', now - 10 * MINUTE),
      ...['a', 'b', 'c', 'd', 'e'].map((state, i) => pending(state, now - 5 * MINUTE + i)),
    ]);
    await addPendingLogin(req, pending('new', now));
    assert.deepEqual(
      req.session.pendingLogins?.map((p) => p.state),
      ['b', 'c', 'd', 'e', 'new'],
    );
    assert.equal(saves(), 1);
  });

  test('consuming removes the entry and saves before anything else; a second try finds nothing', async () => {
    const now = 100 * MINUTE;
    const { req, saves } = requestWith([pending('s1', now - MINUTE), pending('s2', now - MINUTE)]);
    assert.ok(hasPendingLogin(req, 'corp', 's1'));
    assert.equal(hasPendingLogin(req, 'other', 's1'), false);
    assert.equal(hasPendingLogin(req, 'corp', ''), false);
    const found = await consumePendingLogin(req, 'corp', 's1', { now: () => now });
    assert.equal(found.nonce, 'n-s1');
    assert.deepEqual(
      req.session.pendingLogins?.map((p) => p.state),
      ['s2'],
    );
    assert.equal(saves(), 1);
    await assert.rejects(consumePendingLogin(req, 'corp', 's1', { now: () => now }), {
      code: 'PC_LOGIN_STATE_INVALID',
    });
  });

  test('an expired entry is consumed all the same, then refused', async () => {
    const now = 100 * MINUTE;
    const { req, saves } = requestWith([pending('late', now - 10 * MINUTE)]);
    await assert.rejects(consumePendingLogin(req, 'corp', 'late', { now: () => now }), /expired/);
    assert.deepEqual(req.session.pendingLogins, []);
    assert.equal(saves(), 1);
  });
});

describe('SAML single logout (IdP-initiated)', () => {
  const nameId = { value: 'alice', format: null, nameQualifier: null, spNameQualifier: null };
  const info = (sessionIndex: string | null, providerId = 'corp'): SamlSessionInfo => ({
    providerId,
    nameId,
    sessionIndex,
  });

  function setUp(options: { sessionIndexes: string[]; failDestroyOf?: string }) {
    const records = new Map<string, unknown>();
    const destroyed: string[] = [];
    const answers: boolean[] = [];
    const accepted: AcceptedLogoutRequest = {
      request: {
        id: 'r1',
        nameId,
        sessionIndexes: options.sessionIndexes,
        validUntil: Number.MAX_SAFE_INTEGER,
      },
      relayState: null,
    };
    const saml = {
      acceptLogoutRequest: (rawQuery: string) =>
        rawQuery === 'good' ? Promise.resolve(accepted) : Promise.reject(new Error('refused')),
      logoutResponseUrl: (_accepted: AcceptedLogoutRequest, success: boolean) => {
        answers.push(success);
        return new URL(`https://idp.example/slo?success=${success}`);
      },
    } as Partial<SamlEndpoints> as SamlEndpoints;
    const provider: SamlProvider = { id: 'corp', saml };
    const sessionIndex = new MemorySessionIndex({ clock: { now: () => 0 } });
    const logs = new LogCapture();
    const singleLogout = createSingleLogout({
      sessionIndex,
      sessionStore: {
        read: (id) => records.get(id) as never,
        destroy: (id) => {
          if (id === options.failDestroyOf) return Promise.reject(new Error('store down'));
          destroyed.push(id);
          records.delete(id);
          return Promise.resolve();
        },
      },
      absoluteTimeoutMs: MINUTE,
      log: createLogger({ level: 'debug', destination: logs }),
    });
    async function signedIn(sessionId: string, saml: SamlSessionInfo): Promise<void> {
      records.set(sessionId, { saml });
      await singleLogout.indexSession(saml, sessionId);
    }
    const listed = () => sessionIndex.sessionIds(samlSubjectKey('corp', 'alice'));
    return { singleLogout, provider, signedIn, records, destroyed, answers, listed, logs };
  }

  test('ends the sessions the request names, keeps the others, and answers success', async () => {
    const t = setUp({ sessionIndexes: ['idp-1'] });
    await t.signedIn('s1', info('idp-1'));
    await t.signedIn('s2', info('idp-2'));
    await t.signedIn('gone', info('idp-1'));
    t.records.delete('gone'); // ended some other way (logout, idle timeout)
    const answer = await t.singleLogout.acceptLogoutRequest(t.provider, 'good');
    assert.equal(answer?.href, 'https://idp.example/slo?success=true');
    assert.deepEqual(t.destroyed, ['s1']);
    assert.deepEqual((await t.listed()).sort(), ['s2'], 'ended and vanished sessions leave the index');
    assert.deepEqual(t.answers, [true]);
  });

  test('without SessionIndexes every session of the subject ends', async () => {
    const t = setUp({ sessionIndexes: [] });
    await t.signedIn('s1', info('idp-1'));
    await t.signedIn('s2', info(null));
    await t.singleLogout.acceptLogoutRequest(t.provider, 'good');
    assert.deepEqual(t.destroyed.sort(), ['s1', 's2']);
  });

  test('a session that cannot be ended makes the answer a failure; the others still end', async () => {
    const t = setUp({ sessionIndexes: [], failDestroyOf: 's1' });
    await t.signedIn('s1', info('idp-1'));
    await t.signedIn('s2', info('idp-2'));
    await t.singleLogout.acceptLogoutRequest(t.provider, 'good');
    assert.deepEqual(t.destroyed, ['s2']);
    assert.deepEqual(t.answers, [false]);
    assert.match(t.logs.text, /could not end a session for a SAML LogoutRequest/);
  });

  test('a request the provider refuses ends nothing', async () => {
    const t = setUp({ sessionIndexes: [] });
    await t.signedIn('s1', info('idp-1'));
    await assert.rejects(t.singleLogout.acceptLogoutRequest(t.provider, 'forged'), /refused/);
    assert.deepEqual(t.destroyed, []);
    assert.deepEqual(t.answers, []);
  });
});
