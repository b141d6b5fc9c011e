import { Router } from 'express';
import type { StatusReporter } from '../realtime/status-reporter';

/** `GET /healthz`: 200 when Redis is reachable, 503 otherwise; the body says which, for humans and probes. */
export function healthRoutes(status: StatusReporter): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    const s = status.current();
    res.status(s.redis === 'ready' ? 200 : 503).json({ ok: s.redis === 'ready', redis: s.redis, feed: s.feed, version: s.version });
  });
  return router;
}
