// The access judge: principal → policy → assertion, for one protected request. The proxy path
// (http/front-door.ts) and forward-auth (forward-auth/) ask the same judge, built once in
// app/compose.ts, so the two cannot drift. It decides; answering HTTP is the caller's job.
import type { IncomingMessage } from 'node:http';
import type { AssertionMinter } from '../assertion/assertion.js';
import { AccessDenied, type GatewayError } from '../core/errors.js';
import type { Identity } from '../core/identity.js';
import { andThen, type MaybePromise } from '../core/maybe-async.js';
import { decide } from '../policy/decide.js';
import type { CompiledRoute } from '../policy/route-table.js';
import type { Principal, PrincipalReader } from './principal.js';

/** The judge's answer for one request on one route. */
export type Judgement =
  | { kind: 'public' }
  | { kind: 'login' }
  | { kind: 'deny'; error: GatewayError }
  | { kind: 'allow'; identity: Identity; assertion: string };

export interface AccessJudge {
  /** Synchronous unless the session store, a bearer token check or the assertion signer must be waited for. */
  judge(req: IncomingMessage, route: CompiledRoute): MaybePromise<Judgement>;
}

const PUBLIC: Judgement = Object.freeze({ kind: 'public' });
const LOGIN: Judgement = Object.freeze({ kind: 'login' });

export function createAccessJudge(deps: {
  principals: PrincipalReader;
  assertions: AssertionMinter;
}): AccessJudge {
  function judgementFor(route: CompiledRoute, principal: Principal | null): MaybePromise<Judgement> {
    const decision = decide(route, principal?.identity ?? null);
    switch (decision.kind) {
      case 'public':
        return PUBLIC;
      case 'login':
        return LOGIN;
      case 'deny':
        return {
          kind: 'deny',
          error: new AccessDenied(
            `${decision.identity.subject} denied on route ${route.id}: ${decision.reasons.join(',')}`,
          ),
        };
      case 'allow': {
        // decide() allows only an identity it was given, so a principal is present here.
        const { identity } = decision;
        const id = principal?.id ?? identity.subject;
        return andThen(deps.assertions.assertionFor(id, identity, route.id), (assertion): Judgement => ({
          kind: 'allow',
          identity,
          assertion,
        }));
      }
    }
  }

  return {
    judge(req, route) {
      if (route.isPublic) return PUBLIC;
      return andThen(deps.principals.principalOf(req, route), (principal) => judgementFor(route, principal));
    },
  };
}
