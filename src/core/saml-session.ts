// What a SAML login leaves in the session: the subject as the IdP named it (NameID with its format
// and qualifiers) and the IdP session (SessionIndex). SP-initiated logout sends them back in the
// LogoutRequest; an IdP-initiated LogoutRequest is matched against them. Declared here because the
// session record (session/) and the SAML provider (providers/) both hold it.

export interface SamlNameId {
  readonly value: string;
  readonly format: string | null;
  readonly nameQualifier: string | null;
  readonly spNameQualifier: string | null;
}

export interface SamlSessionInfo {
  readonly providerId: string;
  readonly nameId: SamlNameId;
  readonly sessionIndex: string | null;
}
