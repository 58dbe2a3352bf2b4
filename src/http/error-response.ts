// The one boundary where errors become responses: HTML for browsers, JSON for everything else,
// the public message only, and one log line: the gateway's own failures (500) at error with the
// stack; something it depends on failing (502 upstream, 503 IdP) at warn with the cause; refusals
// (4xx, the 508 login loop) at info.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError, InternalError } from '../core/errors.js';
import { logFieldsOf } from '../observability/log-fields.js';
import type { Logger } from '../observability/logger.js';
import { prefersHtml } from './client-kind.js';
import { requestIdOf } from './request-id.js';
import { escapeHtml, renderPage, sendHtml, sendJson } from './pages.js';

export function sendError(err: unknown, req: IncomingMessage, res: ServerResponse, log: Logger): void {
  const error = err instanceof GatewayError ? err : new InternalError('unhandled error', { cause: err });
  // The id ties what the user reports to the log line (and to the access log and the app's own logs:
  // the front door assigned it), without showing them internals.
  const requestId = requestIdOf(req) ?? randomUUID();
  const fields = {
    ...logFieldsOf(error),
    code: error.code,
    status: error.status,
    requestId,
    method: req.method,
    path: pathOf(req),
  };
  if (error.status === 502 || error.status === 503) {
    // err.code (ECONNREFUSED, ECONNRESET, PC_UPSTREAM_TIMEOUT...) survives redaction: logger.ts.
    log.warn({ ...fields, err: error.cause ?? error }, error.message);
  } else if (error.status >= 500 && error.status !== 508) {
    log.error({ ...fields, err: error.cause ?? error }, error.message);
  } else {
    log.info(fields, error.message);
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = { error: error.code, message: error.publicMessage, requestId };
  if (prefersHtml(req.headers)) sendHtml(res, error.status, errorPage(error, requestId));
  else sendJson(res, error.status, body);
}

function errorPage(error: GatewayError, requestId: string): string {
  return renderPage(
    titleFor(error.status),
    `<h1>${escapeHtml(titleFor(error.status))}</h1><p>${escapeHtml(error.publicMessage)}</p>
<p class="muted">Reference: <code>${escapeHtml(requestId)}</code> · ${escapeHtml(error.code)}</p>`,
  );
}

function titleFor(status: number): string {
  if (status === 401) return 'Sign-in failed';
  if (status === 403) return 'Access denied';
  if (status === 404) return 'Not found';
  if (status === 508) return 'Sign-in loop stopped';
  if (status >= 500) return 'Service unavailable';
  return 'Request refused';
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q); // the query may carry codes or tokens: never logged
}
