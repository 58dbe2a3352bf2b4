// oidc-provider ships no type declarations. This declares only the part of its API that
// dev/local-idp.ts (and test/support/entra-idp.ts) use. The configuration object stays a plain
// record: oidc-provider validates it itself at construction, and each helper put into it
// (loadExistingGrant, findAccount, the adapter factory, …) is typed where it is written, with the
// interfaces below.
declare module 'oidc-provider' {
  import type { EventEmitter } from 'node:events';
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface InteractionDetails {
    uid: string;
    prompt: { name: string; reasons?: string[]; details?: Record<string, unknown> };
    params: Record<string, unknown>;
    session?: { accountId?: string; uid?: string };
    grantId?: string;
    returnTo: string;
  }

  export interface InteractionResult {
    login?: { accountId: string; remember?: boolean };
    consent?: { grantId: string };
    error?: string;
    error_description?: string;
  }

  /** An end-user's authorization of one client (a model of oidc-provider's, stored via the adapter). */
  export interface Grant {
    /** The grant's id: a new grant gets it from its first save(), a found one has it already. */
    readonly jti: string;
    readonly accountId: string;
    readonly clientId: string;
    /** Adds space-separated OpenID scopes to those already granted. */
    addOIDCScope(scope: string): void;
    /** Stores the grant (through the adapter) and resolves to its id. */
    save(): Promise<string>;
  }

  /** `provider.Grant`: the Grant model bound to one provider. */
  export interface GrantModel {
    new (owner: { accountId: string; clientId: string }): Grant;
    find(id: string): Promise<Grant | undefined>;
  }

  /** The end-user's session at the provider, as `ctx.oidc.session`. */
  export interface Session {
    readonly accountId?: string;
    grantIdFor(clientId: string): string | undefined;
  }

  /** `ctx.oidc`: what oidc-provider knows about the request being handled. */
  export interface OIDCContext {
    readonly provider: Provider;
    /** The request's OAuth/OIDC parameters. */
    readonly params: Readonly<Record<string, unknown>>;
    readonly client?: { readonly clientId: string };
    readonly session?: Session;
    /** The result of the interaction just finished, if any. */
    readonly result?: InteractionResult;
  }

  /** The koa context oidc-provider passes to its configuration helpers. */
  export interface KoaContextWithOIDC {
    type: string;
    body: unknown;
    readonly host: string;
    readonly oidc: OIDCContext;
  }

  /** The claims an account releases; oidc-provider keeps those of the granted scopes. */
  export interface AccountClaims {
    sub: string;
    [claim: string]: unknown;
  }

  /** What the `findAccount` helper returns for a known subject. */
  export interface Account {
    accountId: string;
    claims(use: string, scope: string): AccountClaims | Promise<AccountClaims>;
  }

  /** What oidc-provider stores through an adapter: a model's JSON, with these fields indexed. */
  export interface AdapterPayload {
    [field: string]: unknown;
    /** Session: the uid looked up by findByUid. */
    uid?: string;
    /** DeviceCode: looked up by findByUserCode. */
    userCode?: string;
    /** Tokens and codes: revoked together by revokeByGrantId. */
    grantId?: string;
    /** Set by consume(), in seconds since the epoch. */
    consumed?: number;
  }

  /** One model's storage; the `adapter` option is a factory `(modelName) => Adapter`. */
  export interface Adapter {
    upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void>;
    find(id: string): Promise<AdapterPayload | undefined>;
    findByUid(uid: string): Promise<AdapterPayload | undefined>;
    findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
    consume(id: string): Promise<void>;
    destroy(id: string): Promise<void>;
    revokeByGrantId(grantId: string): Promise<void>;
  }

  export default class Provider extends EventEmitter {
    constructor(issuer: string, configuration: Readonly<Record<string, unknown>>);
    proxy: boolean;
    readonly Grant: GrantModel;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
    interactionFinished(
      req: IncomingMessage,
      res: ServerResponse,
      result: InteractionResult,
      options?: { mergeWithLastSubmission?: boolean },
    ): Promise<void>;
  }
}
