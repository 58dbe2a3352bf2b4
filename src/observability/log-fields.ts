// Errors thrown far from the one error boundary (http/error-response.ts) know things its log line
// should carry (the route, the upstream that failed). They say so with `logFields`; the boundary
// adds them to the line. Only identifiers go here: never a token, cookie or URL with credentials.

export type LogFields = Readonly<Record<string, string | number | boolean>>;

/** The error's extra log fields, if it declares any. */
export function logFieldsOf(err: unknown): LogFields | undefined {
  if (typeof err !== 'object' || err === null || !('logFields' in err)) return undefined;
  const fields = err.logFields;
  return typeof fields === 'object' && fields !== null ? (fields as LogFields) : undefined;
}
