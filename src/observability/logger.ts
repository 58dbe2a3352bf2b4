// Structured logs (pino) with redaction: tokens, cookies, secrets and assertions never reach a log line.
import { constants } from 'node:os';
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

export const REDACTED_PATHS = [
  'req.headers.cookie',
  'req.headers.authorization',
  'headers.cookie',
  'headers.authorization',
  '*.clientSecret',
  '*.secret',
  '*.password',
  '*.privateKey',
  '*.signingKey',
  '*.idToken',
  '*.accessToken',
  '*.code',
  '*.assertion',
];

const CENSOR = '[redacted]';

/** Resolver codes that are not errno names (getaddrinfo, c-ares). */
const RESOLVER_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'ENODATA']);

/**
 * An error's `code` names what went wrong (ECONNREFUSED, ERR_INVALID_CHAR, PC_UPSTREAM_UNAVAILABLE)
 * and is what an operator needs first, but `*.code` must also catch OAuth authorization codes. Such
 * a code is a random string from the IdP; a value that is exactly an errno or resolver name, or a
 * Node, undici, openid-client or gateway code identifier, is no secret and is kept.
 */
export function isErrorCodeName(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  return (
    Object.hasOwn(constants.errno, value) ||
    RESOLVER_CODES.has(value) ||
    /^(?:ERR|UND_ERR|OAUTH|PC)_[A-Z0-9_]{2,60}$/.test(value)
  );
}

function censor(value: unknown, path: string[]): unknown {
  return path.at(-1) === 'code' && isErrorCodeName(value) ? value : CENSOR;
}

export function createLogger(options: { level: string; destination?: NodeJS.WritableStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'portcullis' },
      redact: { paths: REDACTED_PATHS, censor },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    // Asynchronous writes: a slow terminal or log shipper must not stall the proxied hot path.
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
