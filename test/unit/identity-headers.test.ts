// Identity headers: every client spelling of a name the gateway uses is stripped; the gateway's own
// values are set header-safe. What Node's parser makes of spellings on the wire:
// test/integration/identity-headers-wire.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { validateHeaderValue, type IncomingHttpHeaders } from 'node:http';

import { headersSchema } from '../../src/config/schema.js';
import type { Identity } from '../../src/core/identity.js';
import {
  planIdentityHeaders,
  setIdentityHeaders,
  stripIdentityHeaders,
} from '../../src/proxy/identity-headers.js';
import { CONFIGURED, separatorVariants } from '../support/header-spellings.js';

const plan = planIdentityHeaders(headersSchema.parse(undefined));

const UNRELATED: IncomingHttpHeaders = {
  host: 'app.example.com',
  cookie: 'a=b',
  'x-auth-request-userx': 'keep-1',
  'x-auth-request': 'keep-2',
  'x-auth-request-users': 'keep-3',
  'x-auth-requestuser': 'keep-4',
  'auth-request-user': 'keep-5',
  'x--auth-request-user': 'keep-6',
  'x-portcullis-assertions': 'keep-7',
  'x-forwarded-user': 'keep-8',
};

function identity(fields: Partial<Identity> = {}): Identity {
  return {
    subject: 'corp:42',
    providerId: 'corp',
    userId: 'user-1',
    username: 'alice',
    email: 'alice@example.com',
    name: 'Alice Liddell',
    groups: ['admins', 'users'],
    roles: [],
    ...fields,
  };
}

describe('planIdentityHeaders', () => {
  test('strips canonical (lowercase, dashed) names and sets lowercase names', () => {
    assert.deepEqual([...plan.strip].sort(), [
      'x-auth-request-email',
      'x-auth-request-groups',
      'x-auth-request-name',
      'x-auth-request-user',
      'x-portcullis-assertion',
    ]);
    assert.equal(plan.user, 'x-auth-request-user');
    assert.equal(plan.assertion, 'x-portcullis-assertion');
  });

  test('a configured name with underscores is stripped under its dashed spelling too', () => {
    const custom = planIdentityHeaders(headersSchema.parse({ user: 'X_Remote_User' }));
    assert.ok(custom.strip.has('x-remote-user'));
    const headers: IncomingHttpHeaders = {
      'x-remote-user': 'evil',
      x_remote_user: 'evil',
      'x-remote_user': 'evil',
      keep: '1',
    };
    stripIdentityHeaders(headers, custom);
    assert.deepEqual(headers, { keep: '1' });
  });
});

describe('stripIdentityHeaders', () => {
  for (const name of CONFIGURED) {
    test(`every underscore spelling of ${name} is stripped, unrelated headers kept`, () => {
      const headers: IncomingHttpHeaders = { ...UNRELATED };
      // Node lowercases header names; underscores it keeps as they were sent.
      const variants = separatorVariants(name).map((v) => v.toLowerCase());
      assert.equal(variants.length, 2 ** (name.split('-').length - 1));
      for (const variant of variants) headers[variant] = `evil ${variant}`;
      stripIdentityHeaders(headers, plan);
      assert.deepEqual(headers, UNRELATED);
    });
  }

  test("the examples 'x_auth_request_user' and 'x-auth_request-user' are stripped", () => {
    const headers: IncomingHttpHeaders = {
      x_auth_request_user: 'root',
      'x-auth_request-user': 'root',
      'x-auth-request-userx': 'kept',
      'x-auth-request': 'kept too',
    };
    stripIdentityHeaders(headers, plan);
    assert.deepEqual(headers, { 'x-auth-request-userx': 'kept', 'x-auth-request': 'kept too' });
  });

  test('nothing to strip leaves the object as it was', () => {
    const headers: IncomingHttpHeaders = { ...UNRELATED };
    stripIdentityHeaders(headers, plan);
    assert.deepEqual(headers, UNRELATED);
  });
});

describe('setIdentityHeaders', () => {
  test('sets user, email, name, groups joined with "," and the assertion', () => {
    const headers: IncomingHttpHeaders = { host: 'app.example.com' };
    setIdentityHeaders(headers, plan, identity(), 'the.jwt.token');
    assert.deepEqual(headers, {
      host: 'app.example.com',
      'x-auth-request-user': 'alice',
      'x-auth-request-email': 'alice@example.com',
      'x-auth-request-name': 'Alice Liddell',
      'x-auth-request-groups': 'admins,users',
      'x-portcullis-assertion': 'the.jwt.token',
    });
  });

  test('a comma inside a group name is encoded, so the header still lists one group per item', () => {
    const headers: IncomingHttpHeaders = {};
    setIdentityHeaders(headers, plan, identity({ groups: ['a,b', 'c'] }), 't');
    assert.equal(headers['x-auth-request-groups'], 'a%2Cb,c');
  });

  test('no groups → an empty groups header', () => {
    const headers: IncomingHttpHeaders = {};
    setIdentityHeaders(headers, plan, identity({ groups: [] }), 't');
    assert.equal(headers['x-auth-request-groups'], '');
  });

  test('null email and name are omitted (and a client-sent value is not left behind)', () => {
    const headers: IncomingHttpHeaders = {
      'x-auth-request-email': 'forged@evil.test',
      x_auth_request_name: 'Forged',
    };
    stripIdentityHeaders(headers, plan);
    setIdentityHeaders(headers, plan, identity({ email: null, name: null }), 't');
    assert.equal('x-auth-request-email' in headers, false);
    assert.equal('x-auth-request-name' in headers, false);
    assert.equal('x_auth_request_name' in headers, false);
    assert.equal(headers['x-auth-request-user'], 'alice');
  });

  test('strip then set replaces a forged value with the real one', () => {
    const headers: IncomingHttpHeaders = { 'x-auth-request-user': 'root', x_auth_request_groups: 'admins' };
    stripIdentityHeaders(headers, plan);
    setIdentityHeaders(headers, plan, identity({ groups: ['users'] }), 't');
    assert.equal(headers['x-auth-request-user'], 'alice');
    assert.equal(headers['x-auth-request-groups'], 'users');
    assert.equal('x_auth_request_groups' in headers, false);
  });

  test('CR, LF, NUL and non-ASCII values are made header-safe', () => {
    const headers: IncomingHttpHeaders = {};
    setIdentityHeaders(
      headers,
      plan,
      identity({
        username: 'alice\r\nX-Injected: 1',
        email: 'al\nice@example.com',
        name: 'Zoë\u0000 Ünïcode 名前',
        groups: ['ok', 'bad\r\ngroup', 'grüppe'],
      }),
      'tok',
    );
    assert.equal(headers['x-auth-request-user'], 'alice%0D%0AX-Injected%3A%201');
    assert.equal(headers['x-auth-request-email'], 'al%0Aice%40example.com');
    assert.equal(headers['x-auth-request-name'], encodeURIComponent('Zoë\u0000 Ünïcode 名前'));
    assert.equal(headers['x-auth-request-groups'], 'ok,bad%0D%0Agroup,gr%C3%BCppe');
    for (const [name, value] of Object.entries(headers)) {
      assert.equal(typeof value, 'string');
      assert.doesNotMatch(value as string, /[\r\n\0]/, name);
      assert.match(value as string, /^[\x20-\x7e]*$/, name);
      assert.doesNotThrow(() => validateHeaderValue(name, value as string));
    }
    assert.equal('x-injected' in headers, false);
  });

  test('printable ASCII values are passed unchanged', () => {
    const headers: IncomingHttpHeaders = {};
    setIdentityHeaders(headers, plan, identity({ name: "O'Brien (Ops) <ops@example.com>" }), 't');
    assert.equal(headers['x-auth-request-name'], "O'Brien (Ops) <ops@example.com>");
  });
});
