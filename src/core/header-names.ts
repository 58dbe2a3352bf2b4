// Header handling shared by the proxy and the config validation.

/**
 * Two header names that some upstream stack would treat as the same header map to one key.
 * Node lowercases names but keeps underscores; CGI-style stacks (PHP, WSGI, nginx with
 * underscores_in_headers) read X-Auth_User as X-Auth-User, so both spellings are one name here.
 */
export function canonicalHeaderName(name: string): string {
  return name.toLowerCase().replaceAll('_', '-');
}

/** RFC 9110 §5.1 field-name token. */
export const HEADER_NAME_PATTERN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Names the gateway must never let configuration hijack for identity. */
export const RESERVED_HEADER_NAMES: ReadonlySet<string> = new Set(
  [
    'host',
    'cookie',
    'set-cookie',
    'authorization',
    'connection',
    'upgrade',
    'content-length',
    'content-type',
    'transfer-encoding',
    'te',
    'trailer',
    'keep-alive',
    'proxy-authorization',
    'x-forwarded-for',
    'x-forwarded-host',
    'x-forwarded-proto',
    'forwarded',
  ].map(canonicalHeaderName),
);

/** Set on every response the gateway writes itself, so operators can tell it from the app's own. */
export const GATEWAY_RESPONSE_HEADER = 'x-portcullis-response';
