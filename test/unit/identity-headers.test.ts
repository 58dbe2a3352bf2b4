// Identity headers: every client spelling of a name the gateway uses is stripped; the gateway's own
// values are set header-safe.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, validateHeaderValue, type IncomingHttpHeaders } from 'node:http';
import { connect, type AddressInfo } from 'node:net';

import { headersSchema } from '../../src/config/schema.js';
import type { Identity } from '../../src/core/identity.js';
import {
  planIdentityHeaders,
  setIdentityHeaders,
  stripIdentityHeaders,
} from '../../src/proxy/identity-headers.js';

const plan = planIdentityHeaders(headersSchema.parse(undefined));

const CONFIGURED = [
  'X-Auth-Request-User',
  'X-Auth-Request-Email',
  'X-Auth-Request-Groups',
  'X-Auth-Request-Name',
  'X-Portcullis-Assertion',
];

/** Every '-'/'_' choice for each separator of a dashed name. */
function separatorVariants(name: string): string[] {
  const parts = name.split('-');
  let variants = [parts[0] as string];
  for (const part of parts.slice(1))
    variants = variants.flatMap((prefix) => [`${prefix}-${part}`, `${prefix}_${part}`]);
  return variants;
}

/** Lower, upper and alternating case of each separator variant. */
function spellings(name: string): string[] {
  return separatorVariants(name).flatMap((variant) => [
    variant.toLowerCase(),
    variant.toUpperCase(),
    variant,
    [...variant].map((c, i) => (i % 2 === 0 ? c.toUpperCase() : c.toLowerCase())).join(''),
  ]);
}

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

/** Sends a raw request to a throwaway 127.0.0.1 server and returns the headers Node parsed. */
async function parsedByNode(headerLines: readonly string[]): Promise<IncomingHttpHeaders> {
  let captured: IncomingHttpHeaders | undefined;
  const server = createServer((req, res) => {
    captured = { ...req.headers };
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const raw = `GET / HTTP/1.1\r\nHost: app.example.com\r\n${headerLines.map((l) => `${l}\r\n`).join('')}Connection: close\r\n\r\n`;
    const response = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.end(raw));
      let data = '';
      socket.on('data', (chunk: Buffer) => (data += chunk.toString()));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    assert.match(response, /^HTTP\/1\.1 200/);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  assert.ok(captured, 'the server saw no request');
  return captured;
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

  test('every case and underscore spelling sent on the wire is gone once Node has parsed it', async () => {
    const lines: string[] = [];
    for (const name of CONFIGURED) for (const spelling of spellings(name)) lines.push(`${spelling}: evil`);
    lines.push(
      'X-AUTH_REQUEST-USER: evil',
      'x-auth-request-userx: keep',
      'X-Auth-Request: keep',
      'Accept: text/html',
    );
    const headers = await parsedByNode(lines);
    // The parse really did produce underscore spellings for the strip to deal with.
    assert.ok('x_auth_request_user' in headers && 'x-auth_request-user' in headers);
    stripIdentityHeaders(headers, plan);
    assert.deepEqual(headers, {
      host: 'app.example.com',
      'x-auth-request-userx': 'keep',
      'x-auth-request': 'keep',
      accept: 'text/html',
      connection: 'close',
    });
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
