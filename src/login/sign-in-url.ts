// Where to send someone who must sign in: `{prefix}/login?rd=<the request they made>`. The proxy
// path and forward-auth both answer "sign in first" with this URL, built once in app/compose.ts.
import { loginReturnUrlFor } from './return-url.js';

/** The sign-in URL for an original request (protocol with its colon, Host header, path and query). */
export type SignInUrlFor = (protocol: string, requestHost: string, pathAndQuery: string) => string;

export function createSignInUrl(publicUrl: URL, prefix: string): SignInUrlFor {
  const loginBase = new URL(`${prefix}/login`, publicUrl).href;
  return (protocol, requestHost, pathAndQuery) => {
    const requestUrl = new URL(pathAndQuery, `${protocol}//${requestHost}`);
    // Relative when the request was on the public origin, absolute otherwise.
    return `${loginBase}?rd=${encodeURIComponent(loginReturnUrlFor(requestUrl, publicUrl.origin))}`;
  };
}
