// The express app behind the reserved prefix: the gateway's own routes. Thin: each route file
// delegates to login/, session/ and providers/; errors all go to the one boundary.
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { RouteNotFound } from '../core/errors.js';
import { sendError } from '../http/error-response.js';
import type { Logger } from '../observability/logger.js';
import { createInfoRoutes, type InfoRoutesDeps } from './info.js';
import { createLoginRoutes, type LoginRoutesDeps } from './login.js';
import { createLogoutRoutes } from './logout.js';
import { createNativeLoginRoutes, type NativeLoginRoutesDeps } from './native-login.js';
import { createSamlRoutes, type SamlRoutesDeps } from './saml.js';

export type GatewayAppDeps = LoginRoutesDeps &
  InfoRoutesDeps &
  NativeLoginRoutesDeps &
  SamlRoutesDeps & {
    sessionMiddleware: RequestHandler;
    log: Logger;
  };

export function createGatewayApp(deps: GatewayAppDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', 'simple'); // no nested objects from ?a[b]=c

  const router = express.Router();
  router.use(createInfoRoutes(deps));
  // Before the 4 kB form parser: the SAML ACS takes larger bodies, with its own parser and session.
  router.use(createSamlRoutes(deps));
  router.use(express.urlencoded({ extended: false, limit: '4kb' }));
  router.use(deps.sessionMiddleware);
  // Before the login routes: /login/:provider would otherwise take /login/native.
  router.use(createNativeLoginRoutes(deps));
  router.use(createLoginRoutes(deps));
  router.use(createLogoutRoutes(deps));
  router.use((req: Request) => {
    throw new RouteNotFound(`no gateway route ${req.method} ${req.path}`);
  });

  app.use(deps.prefix, router);
  app.use((req: Request) => {
    throw new RouteNotFound(`no gateway route ${req.method} ${req.path}`);
  });
  // Express knows an error handler by its four parameters, so `_next` must be declared though unused.
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- see above
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    sendError(err, req, res, deps.log);
  });
  return app;
}
