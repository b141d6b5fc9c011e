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
 * revalidated on every load. Any other page directly under the mount path gets index.html (the page keeps its
 * state in the query); a deeper one is sent back up to the dashboard, since the page's relative URLs (assets, API,
 * Socket.IO) resolve against the directory it was loaded from.
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
    const depth = req.path.split('/').length - 2;
    if (depth > 0) {
      // Relative, so that it is right under whatever prefix a proxy in front adds or strips.
      const q = req.originalUrl.indexOf('?');
      return res.redirect(302, `${'../'.repeat(depth)}${q < 0 ? '' : req.originalUrl.slice(q)}`);
    }
    req.url = '/index.html';
    files(req, res, next);
  });
  return router;
}
