// What Node's HTTP parser makes of client spellings of the identity header names sent on the wire
// (case folded, underscores kept), and that the strip removes every one of them. A throwaway server
// on 127.0.0.1 does the parsing.
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { headersSchema } from '../../src/config/schema.js';
import { planIdentityHeaders, stripIdentityHeaders } from '../../src/proxy/identity-headers.js';
import { CONFIGURED, spellings } from '../support/header-spellings.js';

const plan = planIdentityHeaders(headersSchema.parse(undefined));

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

describe('stripIdentityHeaders on parsed requests', () => {
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
});
