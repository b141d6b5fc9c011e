import type { AuditEntry } from './admin';
import type { LockChanges, LockHistory, LockSnapshot } from './locks';
import type { Result } from './result';
import type { SimConfigInput, SimState, SimStats, SimSummary } from './simulator';
import type { ServerStatus } from './status';

/** The answer to `lock:view`. */
export interface ViewedTarget {
  /** The target now viewed (`TargetStatus.id`). */
  target: string;
}

/**
 * The Socket.IO contract. Every event name exists only here; both sides are typed from these maps.
 * Names are namespaced by domain: `lock:*`, `server:*`, `sim:*`, `admin:*`.
 */
export interface ServerToClientEvents {
  /**
   * One part of the complete set of tracked locks, which replaces the client's table (how to apply the parts and
   * the changes between them: `LockSnapshot`). Sent on connect, and to a client the stream skipped as too slow
   * once it has caught up; each part only once the previous one has left the server's buffer for that client. A
   * resync (after Redis restarts or reconnects, or a reconcile scan) sends none: what it finds — locks gone, new
   * ones — arrives as `lock:changes` like any other change.
   */
  'lock:snapshot': (snapshot: LockSnapshot) => void;
  /** Coalesced changes since the previous snapshot/changes message (at most 20 per second). */
  'lock:changes': (changes: LockChanges) => void;
  /**
   * Every target's connection, capabilities, change feed and lock count; sent on connect, whenever anything in it
   * changes, and at most once a second while lock counts move.
   */
  'server:status': (status: ServerStatus) => void;
  /**
   * A new audit-log entry (every admin action, refused ones too), newest only; sent to admin-capable sockets only
   * (session cookie or `auth.token` at the handshake). Load older ones with `GET /api/audit`; dedupe by `id`.
   */
  'admin:audit': (entry: AuditEntry) => void;
  /** Simulator availability, status, current settings and last summary; sent on connect and on every change. */
  'sim:state': (state: SimState) => void;
  /** Live statistics of the running simulation, every `statsIntervalMs` (≥ 1 Hz), plus a final one when it stops. */
  'sim:stats': (stats: SimStats) => void;
}

export interface ClientToServerEvents {
  /**
   * Views another target (`TargetStatus.id`): the socket leaves the current target's stream and gets a fresh
   * `lock:snapshot` of the new one (its first part follows the reply). The handshake may name the target to
   * start with as `auth.target`; without one, or with an unknown one, a socket views the first target.
   * Errors: `bad_request`, `not_found` (no such target).
   */
  'lock:view': (target: string, ack: (result: Result<ViewedTarget>) => void) => void;
  /**
   * History (events and TTL samples) of one lock of the viewed target, by id (base64 key). Errors: `bad_request`, `not_found`, `busy`
   * (this connection has too many replies it has not read yet: retry in a moment). A client that keeps asking
   * without reading its replies is disconnected.
   */
  'lock:history': (id: string, ack: (result: Result<LockHistory>) => void) => void;
  /**
   * Starts a simulation with these settings (missing ones take their defaults). Errors: `bad_request` (invalid
   * settings, each named), `simulator_disabled` (external Redis without --simulator), `sim_running`,
   * `redis_unavailable`.
   */
  'sim:start': (config: SimConfigInput, ack: (result: Result<SimState>) => void) => void;
  /** Stops the running simulation; answers with its summary once its keys are cleaned up. Error: `not_running`. */
  'sim:stop': (ack: (result: Result<SimSummary>) => void) => void;
}
