import { Router } from 'express';
import { canList } from '../targets/target-status';
import type { StatusReporter } from '../realtime/status-reporter';
import { visibleText } from '../../../shared/visible-text';

/**
 * `GET /healthz`: 200 when lockscope can list the locks of every target (`?target=<id>`: of that one), 503
 * otherwise — a target down, blind (a permission missing) or still starting. The body says which, per target and
 * node, for humans and probes.
 */
export function healthRoutes(status: StatusReporter): Router {
  const router = Router();
  router.get('/healthz', (req, res) => {
    const s = status.current();
    const asked = typeof req.query.target === 'string' ? req.query.target : null;
    const targets = asked === null ? s.targets : s.targets.filter((t) => t.id === asked);
    if (!targets.length) {
      res.status(404).json({ ok: false, error: { code: 'not_found', message: `lockscope watches no target named "${visibleText(asked!.slice(0, 64))}".` } });
      return;
    }
    const ok = targets.every((t) => canList(t.health));
    const first = targets[0]!;
    res.status(ok ? 200 : 503).json({
      ok,
      version: s.version,
      // The first target's node, as before several targets (one server: its connection and feed).
      redis: first.nodes[0]?.connection ?? 'down',
      feed: first.nodes[0]?.feed ?? 'starting',
      targets: targets.map((t) => ({
        id: t.id,
        health: t.health,
        problem: t.problem,
        locks: t.locks,
        // Several replicas: this one's part, and who leads (like `kubectl get lease`).
        replication: t.replication && { role: t.replication.role, holder: t.replication.lease?.holder ?? null, term: t.replication.lease?.term ?? null, synced: t.replication.synced },
        nodes: t.nodes.map((n) => ({
          address: n.address,
          redis: n.connection,
          feed: n.feed,
          blind: n.blind,
          missing: n.missing.map((m) => m.capability),
          restartSignal: n.restartSignal,
        })),
      })),
    });
  });
  return router;
}
