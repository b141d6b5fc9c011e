import { Router, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { fail } from '../../../shared/result';

/** What Express's router keeps per route (its `stack`; `match` and `_methods` are what it uses for OPTIONS itself). */
interface RouteLayer {
  route?: { path: string; _methods(): string[] };
  match(path: string): unknown;
}

/**
 * Mounts `api` so that every answer under its path is a JSON `Result` (shared/result.ts), never Express's HTML
 * pages: an unknown path is 404 `not_found` (naming the routes there are), a known path with another method 405
 * `method_not_allowed` with an `Allow` header, OPTIONS 204 with `Allow` (instead of Express's text/plain list),
 * and anything thrown 500 `internal`. HEAD is answered as GET wherever GET is (Express does that), without a body.
 * The route table is Express's own, so routes added to `api` later are covered without a list kept here.
 */
export function jsonApi(api: Router, logger: Logger): Router {
  const routes = api.stack as unknown as RouteLayer[];
  const allowed = (path: string) => {
    const methods = new Set<string>();
    for (const layer of routes) if (layer.route && layer.match(path)) for (const m of layer.route._methods()) methods.add(m);
    return [...methods];
  };

  /** `GET|POST|DELETE /api/session, POST /api/locks/release, …` */
  const table = (base: string) => {
    const byPath = new Map<string, Set<string>>();
    for (const { route } of routes) {
      if (!route) continue;
      const methods = byPath.get(route.path) ?? new Set<string>();
      for (const m of route._methods()) if (m !== 'HEAD') methods.add(m);
      byPath.set(route.path, methods);
    }
    return [...byPath].map(([path, methods]) => `${[...methods].join('|')} ${base}${path}`).join(', ');
  };

  const outer = Router();
  outer.options(/.*/, (req, res, next) => {
    const methods = allowed(req.path);
    if (!methods.length) return next();
    res.setHeader('Allow', [...methods, 'OPTIONS'].join(', '));
    res.status(204).end();
  });
  outer.use(api);
  outer.use((req: Request, res: Response) => {
    res.setHeader('Cache-Control', 'no-store');
    const methods = allowed(req.path);
    const what = `${req.method} ${req.baseUrl}${req.path}`;
    if (methods.length) {
      res.setHeader('Allow', methods.join(', '));
      res.status(405).json(fail('method_not_allowed', `${what} is not supported: use ${methods.filter((m) => m !== 'HEAD').join(' or ')}.`));
      return;
    }
    res.status(404).json(fail('not_found', `There is no ${what}. The API has: ${table(req.baseUrl)}.`));
  });
  // Errors the routes' own handlers did not catch (none expected), and Express's own (e.g. a malformed URL).
  outer.use((err: Error & { status?: number }, req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) return;
    res.setHeader('Cache-Control', 'no-store');
    if (err.status === 400) return void res.status(400).json(fail('bad_request', `The request could not be read: ${err.message}.`));
    logger.error({ err: err.message, path: req.path }, 'API request failed');
    res.status(500).json(fail('internal', 'The server failed to handle this request; see its log.'));
  });
  return outer;
}
