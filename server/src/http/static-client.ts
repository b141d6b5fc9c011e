import { existsSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join, sep } from 'node:path';
import { Router } from 'express';
import expressStaticGzip from 'express-static-gzip';

/** Hashed build output (`assets/index-<hash>.js`): its name changes with its content, so it may be kept forever. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** index.html names the hashed files of one build: a browser must revalidate it (ETag) every time. */
const REVALIDATE = 'no-cache';

/**
 * Serves the built dashboard from `dir`: each file as the brotli or gzip copy made at build (Content-Encoding and
 * `Vary: Accept-Encoding`), plain when the client accepts neither; hashed assets cached for a year, index.html
 * revalidated on every load. Any other GET that is not an API route or an asset gets index.html (client-side
 * routing).
 */
export function staticClient(dir: string): Router {
  const router = Router();
  if (!existsSync(join(dir, 'index.html'))) {
    router.get('/', (_req, res) => {
      res.status(503).type('text').send('The dashboard is not built yet: run `npm start` (it builds it) or `npm run build`.');
    });
    return router;
  }
  const assets = `${sep}assets${sep}`;
  const cacheHeaders = (res: ServerResponse, path: string) => void res.setHeader('Cache-Control', path.includes(assets) ? IMMUTABLE : REVALIDATE);
  const files = expressStaticGzip(dir, {
    enableBrotli: true,
    orderPreference: ['br', 'gzip'],
    serveStatic: { cacheControl: false, setHeaders: cacheHeaders },
  });
  router.use(files);
  // Any other page is the dashboard, served as index.html (compressed, revalidated); a missing asset stays a 404.
  router.get(/^\/(?!api\/|socket\.io\/|healthz|metrics|assets\/).*/, (req, res, next) => {
    req.url = '/index.html';
    files(req, res, next);
  });
  return router;
}
