import { Router } from 'express';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { LockEvent, LockView } from '../../../shared/locks';
import type { Capability, ChangeFeedMode, NodeStatus, ReplicaRole, RestartSignal, SentinelStatus } from '../../../shared/status';
import type { Replication } from '../replication/replication';
import { EFFECTS } from '../targets/node/capabilities';
import type { Target } from '../targets/target';
import type { TargetSet } from '../targets/target-set';

const FEED_MODES: readonly ChangeFeedMode[] = ['notifications', 'polling', 'starting'];
const CAPABILITIES = Object.keys(EFFECTS) as Capability[];
const RESTART_SIGNALS: readonly RestartSignal[] = ['run-id', 'marker', 'client-id', 'none'];
const ROLES: readonly ReplicaRole[] = ['leader', 'follower', 'candidate', 'alone'];

export interface MetricsSources {
  targets: TargetSet;
  /** Coordination with other replicas, when in use (lease and replication series). */
  replication?: Replication | null;
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
 * Prometheus metrics for one app, every series labelled with its `target` (and `node` where it is per node).
 * Gauges are computed from the targets when scraped (nothing to keep in sync); counters follow each target's
 * tracker events and its nodes' scans.
 */
export function createMetrics({ targets, replication = null, clock = Date.now }: MetricsSources): Metrics {
  const registry = new Registry();
  const registers = [registry];
  const each = (fn: (t: Target) => void) => targets.list.forEach(fn);
  // Per-node series come from the status the header shows: on a replica that follows another, the leader's view.
  const eachNode = (fn: (t: Target, node: NodeStatus) => void) => each((t) => t.status(0).nodes.forEach((n) => fn(t, n)));

  new Gauge({
    name: 'lockscope_locks',
    help: 'Locks lockscope tracks, by target, library and state (released/expired ones stay briefly visible)',
    labelNames: ['target', 'library', 'state'] as const,
    registers,
    collect() {
      this.reset();
      each((t) => {
        const counts = new Map<string, { library: string; state: string; n: number }>();
        for (const v of t.tracker.views()) {
          const k = `${v.library}\u0000${v.state}`;
          const c = counts.get(k);
          if (c) c.n++;
          else counts.set(k, { library: v.library, state: v.state, n: 1 });
        }
        for (const { library, state, n } of counts.values()) this.set({ target: t.id, library, state }, n);
      });
    },
  });
  new Gauge({
    name: 'lockscope_stuck_locks',
    help: 'Held locks without a TTL (PTTL -1): nothing will ever free them',
    labelNames: ['target'] as const,
    registers,
    collect() {
      each((t) => {
        let n = 0;
        for (const v of t.tracker.views()) if (v.endedAt === null && v.state === 'no-ttl') n++;
        this.set({ target: t.id }, n);
      });
    },
  });
  new Gauge({
    name: 'lockscope_oldest_lock_age_seconds',
    help: 'Age of the longest-held lock still held (0 when none)',
    labelNames: ['target'] as const,
    registers,
    collect() {
      const now = clock();
      each((t) => {
        let oldest = now;
        for (const v of t.tracker.views()) if (v.endedAt === null && v.acquiredAt < oldest) oldest = v.acquiredAt;
        this.set({ target: t.id }, (now - oldest) / 1000);
      });
    },
  });
  new Gauge({
    name: 'lockscope_blind',
    help: 'lockscope cannot list (some of) this target\'s locks: a Redis permission it needs is missing (1), or it can (0)',
    labelNames: ['target'] as const,
    registers,
    collect() {
      each((t) => this.set({ target: t.id }, t.status(0).nodes.some((n) => n.connection === 'ready' && n.blind) ? 1 : 0));
    },
  });
  new Gauge({
    name: 'lockscope_redis_up',
    help: 'lockscope\'s connection to the node is ready (1) or not (0)',
    labelNames: ['target', 'node'] as const,
    registers,
    collect() {
      this.reset();
      eachNode((t, n) => this.set({ target: t.id, node: n.address }, n.connection === 'ready' ? 1 : 0));
    },
  });
  new Gauge({
    name: 'lockscope_capability_missing',
    help: 'The node\'s Redis user lacks this capability (1), see the README\'s capability table for its fallback',
    labelNames: ['target', 'node', 'capability'] as const,
    registers,
    collect() {
      this.reset();
      eachNode((t, n) => {
        const missing = new Set(n.missing.map((m) => m.capability));
        for (const capability of CAPABILITIES) this.set({ target: t.id, node: n.address, capability }, missing.has(capability) ? 1 : 0);
      });
    },
  });
  new Gauge({
    name: 'lockscope_unreadable_keys',
    help: 'Keys matching the lock patterns that the Redis user may not read (ACL key permissions): not shown',
    labelNames: ['target', 'node'] as const,
    registers,
    collect() {
      this.reset();
      eachNode((t, n) => this.set({ target: t.id, node: n.address }, n.unreadableKeys));
    },
  });
  new Gauge({
    name: 'lockscope_restart_signal',
    help: 'How a restart of the node is detected: 1 for the signal in use (run-id, marker, client-id, or none)',
    labelNames: ['target', 'node', 'signal'] as const,
    registers,
    collect() {
      this.reset();
      eachNode((t, n) => {
        for (const signal of RESTART_SIGNALS) this.set({ target: t.id, node: n.address, signal }, n.restartSignal === signal ? 1 : 0);
      });
    },
  });
  new Gauge({
    name: 'lockscope_change_feed_mode',
    help: 'How lockscope learns about changes on the node: 1 for the mode in force (notifications or polling)',
    labelNames: ['target', 'node', 'mode'] as const,
    registers,
    collect() {
      this.reset();
      eachNode((t, n) => {
        for (const mode of FEED_MODES) this.set({ target: t.id, node: n.address, mode }, n.feed === mode ? 1 : 0);
      });
    },
  });
  new Gauge({
    name: 'lockscope_poll_interval_seconds',
    help: 'Polling interval in force on the node (POLL_MS, longer while backing off from slow probe rounds)',
    labelNames: ['target', 'node'] as const,
    registers,
    collect() {
      this.reset();
      eachNode((t, n) => this.set({ target: t.id, node: n.address }, n.pollIntervalMs / 1000));
    },
  });
  // Only with Sentinel targets (a family without samples would be noise): whether failovers can be heard, and how
  // many were.
  if (targets.list.some((t) => t.topology.sentinelStatus)) sentinelMetrics(targets, registry);

  // Replicas: the lease like `kubectl get lease` (holder, acquire and renew times, transitions), this replica's role.
  const replicationOf = (t: Target) => t.replication?.() ?? null;
  new Gauge({
    name: 'lockscope_replica_role',
    help: 'This replica\'s part in watching the target: 1 for its role (leader, follower, candidate: electing, alone: cannot coordinate)',
    labelNames: ['target', 'role'] as const,
    registers,
    collect() {
      this.reset();
      each((t) => {
        const r = replicationOf(t);
        if (r) for (const role of ROLES) this.set({ target: t.id, role }, r.role === role ? 1 : 0);
      });
    },
  });
  const leaseGauge = (name: string, help: string, value: (lease: NonNullable<ReturnType<typeof replicationOf>>['lease'] & object) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['target'] as const,
      registers,
      collect() {
        this.reset();
        each((t) => {
          const lease = replicationOf(t)?.lease;
          if (lease) this.set({ target: t.id }, value(lease));
        });
      },
    });
  new Gauge({
    name: 'lockscope_lease_holder',
    help: 'The replica holding the target\'s lease (1, labelled with its name), as this replica last heard',
    labelNames: ['target', 'holder'] as const,
    registers,
    collect() {
      this.reset();
      each((t) => {
        const lease = replicationOf(t)?.lease;
        if (lease) this.set({ target: t.id, holder: lease.holder }, 1);
      });
    },
  });
  leaseGauge('lockscope_lease_term', 'Term of the target\'s lease (goes up at every election; the fencing token of the change stream)', (l) => l.term);
  leaseGauge('lockscope_lease_acquire_time_seconds', 'When the lease holder took the lease (Unix time, Redis clock)', (l) => l.acquiredAt / 1000);
  leaseGauge('lockscope_lease_renew_time_seconds', 'When the lease holder last renewed the lease (Unix time, Redis clock)', (l) => l.renewedAt / 1000);
  leaseGauge('lockscope_lease_duration_seconds', 'How long a renewal keeps the lease', (l) => l.ttlMs / 1000);
  leaseGauge('lockscope_lease_transitions', 'Times the lease passed from one replica to another', (l) => l.transitions);
  new Gauge({
    name: 'lockscope_leader_heard_age_seconds',
    help: 'On a follower: seconds since the last entry of the leader\'s change stream (heartbeats come every third of the lease); 0 on the leader',
    labelNames: ['target'] as const,
    registers,
    collect() {
      this.reset();
      const now = clock();
      each((t) => {
        const r = replicationOf(t);
        // The leader (or a replica alone) hears itself: 0.
        if (r) this.set({ target: t.id }, r.role === 'leader' || r.role === 'alone' || r.heardAt === null ? 0 : (now - r.heardAt) / 1000);
      });
    },
  });
  const fenced = new Counter({
    name: 'lockscope_replication_fenced_total',
    help: 'Change stream writes of an ended term refused by Redis, and entries of an ended term ignored by this replica',
    labelNames: ['target'] as const,
    registers,
  });
  const fencedSeen = new Map<string, number>();
  if (replication) each((t) => fenced.inc({ target: t.id }, 0));
  const collectFenced = () => {
    each((t) => {
      const replica = replication?.replicaOf(t.id);
      if (!replica) return;
      const n = replica.publisher.fencedWrites + replica.follower.fencedEntries;
      const before = fencedSeen.get(t.id) ?? 0;
      if (n > before) fenced.inc({ target: t.id }, n - before);
      fencedSeen.set(t.id, n);
    });
  };

  const labelNames = ['target', 'library'] as const;
  const acquisitions = new Counter({ name: 'lockscope_lock_acquisitions_total', help: 'Locks seen taken (new key or new owner)', labelNames, registers });
  const renewals = new Counter({ name: 'lockscope_lock_renewals_total', help: 'TTL extensions by the same owner', labelNames, registers });
  const expiries = new Counter({ name: 'lockscope_lock_expiries_total', help: 'Locks gone at their deadline', labelNames, registers });
  const releases = new Counter({
    name: 'lockscope_lock_releases_total',
    help: 'Locks gone before their deadline (force-releases included)',
    labelNames,
    registers,
  });
  const forced = new Counter({
    name: 'lockscope_lock_force_releases_total',
    help: 'Locks released by a lockscope admin (also counted in lockscope_lock_releases_total)',
    labelNames,
    registers,
  });
  const lost = new Counter({
    name: 'lockscope_locks_lost_total',
    help: 'Locks held when their Redis node restarted or failed over and gone after it: nobody released them',
    labelNames,
    registers,
  });
  const scanDuration = new Histogram({
    name: 'lockscope_scan_duration_seconds',
    help: 'Wall time of full discovery scans of a node (SCAN every pattern and probe what it finds)',
    labelNames: ['target', 'node'] as const,
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const scannedKeys = new Gauge({ name: 'lockscope_scan_keys', help: 'Distinct keys the last full scan of a node found', labelNames: ['target', 'node'] as const, registers });

  const unbind: (() => void)[] = [];
  for (const t of targets.list) {
    const onEvent = (_id: string, event: LockEvent, view: LockView, amends: boolean) => {
      const labels = { target: t.id, library: view.library };
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
    const onScan = (nodeId: string, ms: number, keys: number) => {
      const node = t.nodes.find((n) => n.id === nodeId)?.address ?? nodeId;
      scanDuration.observe({ target: t.id, node }, ms / 1000);
      scannedKeys.set({ target: t.id, node }, keys);
    };
    t.tracker.on('event', onEvent);
    t.on('scan', onScan);
    unbind.push(() => {
      t.tracker.off('event', onEvent);
      t.off('scan', onScan);
    });
  }

  return {
    registry,
    routes() {
      const router = Router();
      router.get('/metrics', (_req, res, next) => {
        collectFenced();
        registry
          .metrics()
          .then((text) => res.type(registry.contentType).send(text))
          .catch(next);
      });
      return router;
    },
    dispose() {
      for (const off of unbind.splice(0)) off();
    },
  };
}

/** `lockscope_sentinel_up{target,sentinel}` and `lockscope_sentinel_failovers_total{target}`, from each Sentinel target's status. */
function sentinelMetrics(targets: TargetSet, registry: Registry): void {
  const registers = [registry];
  const eachSentinel = (fn: (t: Target, s: SentinelStatus) => void) =>
    targets.list.forEach((t) => {
      const s = t.topology.sentinelStatus?.();
      if (s) fn(t, s);
    });
  new Gauge({
    name: 'lockscope_sentinel_up',
    help: 'A configured sentinel lockscope hears failovers from (connected, knows the master, subscribed): 1, else 0',
    labelNames: ['target', 'sentinel'] as const,
    registers,
    collect() {
      this.reset();
      eachSentinel((t, s) => {
        for (const x of s.sentinels) this.set({ target: t.id, sentinel: x.address }, x.listening ? 1 : 0);
      });
    },
  });
  new Counter({
    name: 'lockscope_sentinel_failovers_total',
    help: 'Failovers the sentinels announced (+switch-master) since lockscope started',
    labelNames: ['target'] as const,
    registers,
    collect() {
      this.reset();
      eachSentinel((t, s) => this.inc({ target: t.id }, s.failovers));
    },
  });
}
