import { Router } from 'express';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { LockEvent, LockView } from '../../../shared/locks';
import type { ChangeFeedMode } from '../../../shared/status';
import type { Inspector } from '../targets/node/node-watcher';
import type { LockTracker } from '../model/lock-tracker';

const FEED_MODES: readonly ChangeFeedMode[] = ['notifications', 'polling', 'starting'];

export interface MetricsSources {
  tracker: LockTracker;
  inspector: Inspector;
  clock?: () => number;
}

export interface Metrics {
  /** This app's own registry: nothing is registered in prom-client's global default registry. */
  registry: Registry;
  /** `GET /metrics` in the Prometheus text format. */
  routes(): Router;
  dispose(): void;
}

/**
 * Prometheus metrics for one app. Gauges are computed from the tracker when scraped (nothing to keep in sync);
 * counters follow the tracker's events and the inspector's scans.
 */
export function createMetrics({ tracker, inspector, clock = Date.now }: MetricsSources): Metrics {
  const registry = new Registry();
  const registers = [registry];

  new Gauge({
    name: 'lockscope_locks',
    help: 'Locks lockscope tracks, by library and state (released/expired ones stay briefly visible)',
    labelNames: ['library', 'state'] as const,
    registers,
    collect() {
      this.reset();
      const counts = new Map<string, { library: string; state: string; n: number }>();
      for (const v of tracker.views()) {
        const k = `${v.library}\u0000${v.state}`;
        const c = counts.get(k);
        if (c) c.n++;
        else counts.set(k, { library: v.library, state: v.state, n: 1 });
      }
      for (const { library, state, n } of counts.values()) this.set({ library, state }, n);
    },
  });
  new Gauge({
    name: 'lockscope_stuck_locks',
    help: 'Held locks without a TTL (PTTL -1): nothing will ever free them',
    registers,
    collect() {
      let n = 0;
      for (const v of tracker.views()) if (v.endedAt === null && v.state === 'no-ttl') n++;
      this.set(n);
    },
  });
  new Gauge({
    name: 'lockscope_oldest_lock_age_seconds',
    help: 'Age of the longest-held lock still held (0 when none)',
    registers,
    collect() {
      const now = clock();
      let oldest = now;
      for (const v of tracker.views()) if (v.endedAt === null && v.acquiredAt < oldest) oldest = v.acquiredAt;
      this.set((now - oldest) / 1000);
    },
  });
  new Gauge({
    name: 'lockscope_change_feed_mode',
    help: 'How lockscope learns about changes: 1 for the mode in force (notifications or polling)',
    labelNames: ['mode'] as const,
    registers,
    collect() {
      for (const mode of FEED_MODES) this.set({ mode }, inspector.mode === mode ? 1 : 0);
    },
  });
  new Gauge({
    name: 'lockscope_poll_interval_seconds',
    help: 'Polling interval in force (POLL_MS, longer while backing off from slow probe rounds)',
    registers,
    collect() {
      this.set(inspector.pollIntervalMs / 1000);
    },
  });

  const acquisitions = new Counter({ name: 'lockscope_lock_acquisitions_total', help: 'Locks seen taken (new key or new owner)', labelNames: ['library'] as const, registers });
  const renewals = new Counter({ name: 'lockscope_lock_renewals_total', help: 'TTL extensions by the same owner', labelNames: ['library'] as const, registers });
  const expiries = new Counter({ name: 'lockscope_lock_expiries_total', help: 'Locks gone at their deadline', labelNames: ['library'] as const, registers });
  const releases = new Counter({
    name: 'lockscope_lock_releases_total',
    help: 'Locks gone before their deadline (force-releases included)',
    labelNames: ['library'] as const,
    registers,
  });
  const forced = new Counter({
    name: 'lockscope_lock_force_releases_total',
    help: 'Locks released by a lockscope admin (also counted in lockscope_lock_releases_total)',
    labelNames: ['library'] as const,
    registers,
  });
  const lost = new Counter({
    name: 'lockscope_locks_lost_total',
    help: 'Locks held when Redis restarted or failed over (new run_id) and gone after it: nobody released them',
    labelNames: ['library'] as const,
    registers,
  });
  const scanDuration = new Histogram({
    name: 'lockscope_scan_duration_seconds',
    help: 'Wall time of full discovery scans (SCAN every pattern and probe what it finds)',
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const scannedKeys = new Gauge({ name: 'lockscope_scan_keys', help: 'Distinct keys the last full scan found', registers });

  const onEvent = (_id: string, event: LockEvent, view: LockView, amends: boolean) => {
    const labels = { library: view.library };
    if (event.kind === 'acquired' || event.kind === 'owner-changed') acquisitions.inc(labels);
    else if (event.kind === 'renewed') renewals.inc(labels);
    else if (event.kind === 'expired') expiries.inc(labels);
    else if (event.kind === 'released') releases.inc(labels);
    else if (event.kind === 'lost') lost.inc(labels);
    else if (event.kind === 'force-released') {
      forced.inc(labels);
      // A relabelled `released` was counted as a release already.
      if (!amends) releases.inc(labels);
    }
  };
  const onScan = (ms: number, keys: number) => {
    scanDuration.observe(ms / 1000);
    scannedKeys.set(keys);
  };
  tracker.on('event', onEvent);
  inspector.on('scan', onScan);

  return {
    registry,
    routes() {
      const router = Router();
      router.get('/metrics', (_req, res, next) => {
        registry
          .metrics()
          .then((text) => res.type(registry.contentType).send(text))
          .catch(next);
      });
      return router;
    },
    dispose() {
      tracker.off('event', onEvent);
      inspector.off('scan', onScan);
    },
  };
}
