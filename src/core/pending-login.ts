// A login in flight. Providers build and check it; the session keeps it server-side between the
// redirect to the IdP and the callback. Declared here so neither floor imports the other.

/** One login this browser started and has not finished: server-side, so the callback may land on any replica. */
export interface PendingLogin {
  readonly providerId: string;
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
  /** A safe return URL (already checked by login/return-url.ts). */
  readonly returnTo: string;
  readonly createdAt: number;
}
