// Listening and closing for the small HTTP servers tests run on loopback (fake IdPs, JWKS, traps).
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Listens on a free port of 127.0.0.1 (or `host`); resolves with the port. */
export function listen(server: Server, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.removeListener('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Closes the server and, at once, its idle keep-alive connections (else close() waits for their timeout). */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => {
      if (error) reject(error);
      else resolve();
    });
    server.closeAllConnections();
  });
}

/** A request body as text; throws past `maxBytes` characters (a fake must not buffer without bound). */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  let body = '';
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > maxBytes) throw new Error('request body too large');
  }
  return body;
}
