import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { Router } from 'express';

/** Serves the built dashboard; every other GET that is not an API route gets index.html (client-side routing). */
export function staticClient(dir: string): Router {
  const router = Router();
  if (!existsSync(join(dir, 'index.html'))) {
    router.get('/', (_req, res) => {
      res.status(503).type('text').send('The dashboard is not built yet: run `npm start` (it builds it) or `npm run build`.');
    });
    return router;
  }
  router.use(express.static(dir, { index: 'index.html', maxAge: '1h', setHeaders: noCacheIndex }));
  router.get(/^\/(?!api\/|socket\.io\/|healthz|metrics).*/, (_req, res) => res.sendFile(join(dir, 'index.html')));
  return router;
}

function noCacheIndex(res: express.Response, path: string): void {
  // The HTML names hashed bundles; a cached copy would pin an old build.
  if (path.endsWith('.html')) res.setHeader('Cache-Control', 'no-cache');
}
