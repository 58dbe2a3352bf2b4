// Structured logs (pino) with redaction: tokens, cookies, secrets and assertions never reach a log line.
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

export function createLogger(options: { level: string; destination?: NodeJS.WritableStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'portcullis' },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    // Asynchronous writes: a slow terminal or log shipper must not stall the proxied hot path.
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
