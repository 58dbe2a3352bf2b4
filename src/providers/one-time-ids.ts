// What providers need from the gateway's replay cache: one-time use of message IDs (SAML assertion
// and LogoutRequest IDs). Declared here so providers never import session storage; the composition
// root passes the replay cache that lives beside the sessions, which satisfies this structurally.

export interface OneTimeIds {
  /**
   * Resolves true the first time `key` is claimed, false when it was claimed before and has not
   * expired. Claims last `ttlMs`. Rejects when it cannot answer: the caller must then refuse.
   */
  claimOnce(key: string, ttlMs: number): Promise<boolean>;
}
