// Browser navigation or API call? Browsers get a redirect to sign in; scripts and XHR get a 401 with
// JSON, because following a redirect to an IdP login page is useless to them.
import type { IncomingHttpHeaders } from 'node:http';

export function isBrowserNavigation(method: string | undefined, headers: IncomingHttpHeaders): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  const mode = headers['sec-fetch-mode'];
  if (mode !== undefined) return mode === 'navigate';
  if (headers['x-requested-with'] !== undefined) return false;
  return headers.accept?.includes('text/html') === true;
}

export function prefersHtml(headers: IncomingHttpHeaders): boolean {
  if (headers['x-requested-with'] !== undefined) return false;
  const mode = headers['sec-fetch-mode'];
  if (mode !== undefined && mode !== 'navigate') return false;
  return headers.accept?.includes('text/html') === true;
}
