// One id per request, for the access log, error pages and the app: an X-Request-Id sent by a
// trusted proxy (server.trustProxy) is kept so one id follows the request through every hop;
// from anyone else it is replaced. The upstream receives the id in X-Request-Id.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const REQUEST_ID_HEADER = 'x-request-id';

/** What an incoming id may look like: short, and nothing a log line or a header could trip on. */
const WELL_FORMED_ID = /^[A-Za-z0-9._:/+=-]{1,128}$/;

/** Sets the request's id on `req.headers['x-request-id']` and returns it. */
export function assignRequestId(req: IncomingMessage, fromTrustedProxy: boolean): string {
  const headers = req.headers;
  const sent = headers[REQUEST_ID_HEADER];
  const id = fromTrustedProxy && typeof sent === 'string' && WELL_FORMED_ID.test(sent) ? sent : randomUUID();
  // Spellings some stacks read as X-Request-Id (X_Request_Id) are removed with the other
  // forwarding headers' (http/client-address.ts), so the app sees this one id.
  headers[REQUEST_ID_HEADER] = id;
  return id;
}

/** The id assigned to this request (assignRequestId ran at the front door), if any. */
export function requestIdOf(req: IncomingMessage): string | undefined {
  const id = req.headers[REQUEST_ID_HEADER];
  return typeof id === 'string' ? id : undefined;
}
