import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { SimState, SimSummary } from '../../../shared/simulator';
import type { Admin } from '../admin/index';
import type { Session } from '../admin/auth/sessions';
import { createLockClient, LockNotAcquiredError, type Lock } from '../locklib';
import { SimulatorError, type SimulatorCoordination, type SimulatorService } from '../simulator/service';
import type { ReplicaBus } from './bus';
import type { AppKeys } from './keys';

/** A run elsewhere not heard from for this long is taken to have died with its replica. */
const SIM_SILENT_MS = 5000;
/** The simulator's run lock: its lease, renewed every third of it while the run lasts. */
const SIM_LOCK_MS = 15_000;
/** A run elsewhere tells its state at least this often (its stats tick faster). */
const SIM_STATE_EVERY_MS = 1000;

export interface SharedStateDeps {
  bus: ReplicaBus;
  /** The bus's connection (the first target's state store). */
  redis: Redis;
  keys: AppKeys;
  /** This replica's name. */
  self: string;
  admin: Admin;
  simulator: SimulatorService;
  logger: Logger;
  clock?: () => number;
}

/**
 * What the replicas of one deployment share besides the lock tables, so that a browser sees the same whichever
 * replica it reaches:
 *
 * - **the audit log** is one Redis stream already; an entry recorded on one replica is also pushed live to the
 *   admin browsers on the others (bus `audit`);
 * - **admin sessions**: a login on one replica works on every replica (bus `session`, and a hash of session
 *   digests under `lockscope:state:` for replicas that start later — a digest cannot be used as a session id);
 * - **the simulator**: one run per deployment, claimed with lockscope's lock library (`…:sim`), its state known to
 *   every replica (bus `sim-state`; its live stats reach every browser as the adapter's broadcasts), stopped from
 *   any of them (bus question `sim-stop`).
 *
 * Admin actions themselves need nothing more: each is one owner-checked script in Redis, run by the replica the
 * request reached, audited there once; the leader is told to note it in the lock's history (bus `note`).
 */
export function shareState(deps: SharedStateDeps): () => void {
  const { bus, redis, keys, self, admin, simulator, logger } = deps;
  const clock = deps.clock ?? Date.now;
  const unbind: (() => void)[] = [];

  // Audit entries: live on every replica's admin browsers.
  const onAudit = (entry: Parameters<Admin['showAudit']>[0]) => bus.send('audit', entry);
  admin.audit.on('entry', onAudit);
  unbind.push(() => void admin.audit.off('entry', onAudit), bus.on('audit', (entry) => admin.showAudit(entry)));

  // Sessions: adopted by every replica, now and when one starts later.
  const { sessions } = admin;
  const onCreated = (session: Session) => {
    bus.send('session', { op: 'add', session });
    void redis
      .multi()
      .hset(keys.sessions, session.digest, JSON.stringify({ createdAt: session.createdAt, expiresAt: session.expiresAt }))
      .pexpireat(keys.sessions, session.expiresAt)
      .exec()
      .catch((err: Error) => logger.warn({ err: err.message }, 'could not share an admin session: other replicas will ask for a login'));
  };
  const onDeleted = (digest: string) => {
    bus.send('session', { op: 'delete', digest });
    void redis.hdel(keys.sessions, digest).catch(() => {});
  };
  sessions.on('created', onCreated);
  sessions.on('deleted', onDeleted);
  unbind.push(
    () => void sessions.off('created', onCreated).off('deleted', onDeleted),
    bus.on('session', (m) => (m.op === 'add' ? sessions.adopt(m.session) : sessions.forget(String(m.digest)))),
  );
  void redis
    .hgetall(keys.sessions)
    .then((stored) => {
      for (const [digest, times] of Object.entries(stored)) {
        try {
          const { createdAt, expiresAt } = JSON.parse(times) as { createdAt: number; expiresAt: number };
          if (expiresAt > clock()) sessions.adopt({ digest, createdAt, expiresAt });
          else void redis.hdel(keys.sessions, digest).catch(() => {});
        } catch {
          // Not ours to read: left alone.
        }
      }
    })
    .catch(() => {});

  // The simulator.
  const coordination = new SimCoordination(bus, redis, keys.sim, self, clock);
  simulator.coordination = coordination;
  let toldAt = 0;
  const tell = (state: SimState) => {
    toldAt = clock();
    bus.send('sim-state', { from: self, state });
  };
  const onState = (state: SimState) => tell(state);
  const onStats = () => {
    if (clock() - toldAt >= SIM_STATE_EVERY_MS) tell(simulator.state());
  };
  simulator.on('state', onState);
  simulator.on('stats', onStats);
  unbind.push(
    () => void simulator.off('state', onState).off('stats', onStats),
    bus.on('sim-state', (m) => coordination.heard(String(m.from), m.state)),
    bus.answer('sim-stop', async () => (simulator.state().status === 'running' && !coordination.remoteRunning() ? simulator.stop() : null)),
  );
  return () => {
    for (const off of unbind.splice(0)) off();
    simulator.coordination = null;
  };
}

/** The simulator's one run per deployment, across replicas. */
class SimCoordination implements SimulatorCoordination {
  private last: { from: string; state: SimState; heardAt: number } | null = null;
  private readonly locks;

  constructor(
    private readonly bus: ReplicaBus,
    redis: Redis,
    private readonly key: string,
    private readonly self: string,
    private readonly clock: () => number,
  ) {
    this.locks = createLockClient(redis);
  }

  heard(from: string, state: SimState): void {
    if (from !== this.self) this.last = { from, state, heardAt: this.clock() };
  }

  /** A run on another replica that is still heard from. */
  remoteRunning(): boolean {
    const last = this.last;
    return last !== null && last.state.status !== 'idle' && this.clock() - last.heardAt < SIM_SILENT_MS;
  }

  remote(): SimState | null {
    const last = this.last;
    if (!last) return null;
    // A run whose replica went silent (killed): it is over, whatever it last said.
    return this.remoteRunning() || last.state.status === 'idle' ? last.state : { ...last.state, status: 'idle', startedAt: null };
  }

  async claim(): Promise<() => void> {
    if (this.remoteRunning()) throw new SimulatorError('sim_running', `A simulation is already running (on the lockscope replica ${this.last!.from}); stop it first.`);
    let lock: Lock;
    try {
      lock = await this.locks.acquire(this.key, { ttlMs: SIM_LOCK_MS });
    } catch (err) {
      if (err instanceof LockNotAcquiredError) throw new SimulatorError('sim_running', 'A simulation is already running on another lockscope replica; stop it first.');
      throw new SimulatorError('redis_unavailable', (err as Error).message);
    }
    const renew = setInterval(() => void lock.extend().catch(() => {}), SIM_LOCK_MS / 3);
    renew.unref();
    return () => {
      clearInterval(renew);
      void lock.release().catch(() => {});
    };
  }

  async stopRemote(): Promise<SimSummary> {
    const answers = await this.bus.ask('sim-stop', { from: this.self });
    const summary = answers.find((a) => a && typeof a === 'object');
    if (!summary) throw new SimulatorError('not_running', 'No simulation is running (the replica that ran it did not answer).');
    return summary;
  }
}
