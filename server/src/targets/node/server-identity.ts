import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RestartSignal } from '../../../../shared/status';
import type { Capabilities } from './capabilities';
import { refusalOf } from './refusal';

/** A marker lives this long without a refresh; refreshed at each connect and at least hourly. */
const MARKER_TTL_MS = 24 * 3600_000;
const MARKER_REFRESH_MS = 3600_000;

/** What lockscope learnt about the server behind a connection. */
export interface ServerFacts {
  /** `7.0.15`, or null when neither HELLO nor INFO said. */
  version: string | null;
  /** `redis.REDIS_VERSION_NUM` style number (7.0.15 → 0x07000f), 0 when unknown. */
  versionNum: number;
  /** The node runs in cluster mode (from HELLO's `mode`, or INFO `cluster_enabled`); null when unknown. */
  cluster: boolean | null;
}

/**
 * What tells a node's server from another, handed from one lockscope replica to the next so that a restart
 * while neither looked is still seen as one. (Client ids are left out: they are per connection, and the next
 * replica's connection may be older than the last one's.)
 */
export interface IdentityMemory {
  runId: string | null;
  /** The marker key written last (its name is shared by the replicas of a deployment), or null. */
  marker: string | null;
}

/**
 * Tells, after each (re)connect, whether the server behind the connection is the one seen before, so that locks a
 * restart wiped end `lost` rather than `released`. The best signal is INFO's `run_id` (a new process, or another
 * server after a failover). Where INFO is refused (managed Redis: `-@dangerous`), two others stand in: a marker
 * key lockscope keeps under `lockscope:state:` — gone after a reconnect, the data went with it — and the
 * connection's client id, which a server numbers upwards from 1: lower than before, it is another process. Which
 * signal is in use is `signal` (shown in the header).
 */
export class ServerIdentity {
  signal: RestartSignal | null = null;
  facts: ServerFacts = { version: null, versionNum: 0, cluster: null };
  private runId: string | null = null;
  private clientId: number | null = null;
  /** The marker key written last (null: none, or writing it was refused). */
  private written: string | null = null;
  private markerAt = 0;

  constructor(
    private readonly redis: Redis,
    private readonly caps: Capabilities,
    /**
     * This node's marker key now. In a cluster it must hash to a slot the node serves, so it changes when its slots
     * do: a marker under another name than the one written is no sign of anything, and is written anew.
     */
    private readonly markerKey: () => string,
    private readonly logger: Logger,
  ) {}

  /** What this knows of the server, for another replica (see `IdentityMemory`). */
  memory(): IdentityMemory {
    return { runId: this.runId, marker: this.written };
  }

  /** Takes over what another replica knew of the server: the next `identify()` compares with it. */
  remember(memory: IdentityMemory): void {
    this.runId = memory.runId;
    this.written = memory.marker;
  }

  /** After a (re)connect: true when the server is not the one before (its data may be gone). */
  async identify(): Promise<boolean> {
    const hello = await this.hello();
    let runId: string | null = null;
    if (this.caps.has('info')) {
      const info = await this.redis.info('server').catch((err: Error) => {
        if (refusalOf(err)) this.caps.refuse('info', err.message);
        return '';
      });
      runId = field(info, 'run_id');
      this.facts.version ??= field(info, 'redis_version');
      if (hello.mode === null) {
        const cluster = await this.redis.info('cluster').catch(() => '');
        if (cluster) this.facts.cluster = /cluster_enabled:1/.test(cluster);
      }
    }
    this.facts.versionNum = versionNum(this.facts.version);
    const clientId = hello.id ?? (this.caps.has('client') ? await this.clientIdOf() : null);
    const wentBack = this.clientId !== null && clientId !== null && clientId < this.clientId;
    if (clientId !== null) this.clientId = clientId;

    if (runId) {
      const previous = this.runId;
      this.runId = runId;
      this.signal = 'run-id';
      return previous !== null && previous !== runId;
    }
    const markerGone = await this.checkMarker();
    this.signal = this.written !== null ? 'marker' : this.clientId !== null ? 'client-id' : 'none';
    return markerGone || wentBack;
  }

  /** Keeps the marker from expiring while connected (call now and then; cheap when not due). */
  async refreshMarker(): Promise<void> {
    if (this.written === null || Date.now() - this.markerAt < MARKER_REFRESH_MS) return;
    await this.writeMarker().catch(() => {});
  }

  /** HELLO 2 (Redis ≥ 6, allowed under `-@dangerous`): version, mode and client id in one reply, RESP2 kept. */
  private async hello(): Promise<{ id: number | null; mode: string | null }> {
    try {
      const reply = (await this.redis.call('HELLO', '2')) as (string | number)[];
      const map = new Map<string, string | number>();
      for (let i = 0; i + 1 < reply.length; i += 2) map.set(String(reply[i]), reply[i + 1]!);
      const version = map.get('version');
      if (version !== undefined) this.facts.version = String(version);
      const mode = map.get('mode');
      if (mode !== undefined) this.facts.cluster = mode === 'cluster';
      const id = Number(map.get('id'));
      return { id: Number.isSafeInteger(id) ? id : null, mode: mode === undefined ? null : String(mode) };
    } catch {
      return { id: null, mode: null };
    }
  }

  private async clientIdOf(): Promise<number | null> {
    try {
      return Number(await this.redis.call('CLIENT', 'ID'));
    } catch (err) {
      if (refusalOf(err)) this.caps.refuse('client', (err as Error).message);
      return null;
    }
  }

  /** Whether the marker written before is gone; then writes it (again). */
  private async checkMarker(): Promise<boolean> {
    if (!this.caps.has('state-write') && this.written === null) return false;
    const key = this.markerKey();
    let gone = false;
    try {
      if (this.written === key) gone = (await this.redis.exists(key)) === 0;
      await this.writeMarker();
    } catch (err) {
      if (refusalOf(err) || /READONLY/.test((err as Error).message)) {
        this.caps.refuse('state-write', (err as Error).message);
        this.written = null;
      } else throw err;
    }
    if (gone) this.logger.warn({ marker: key }, 'lockscope\'s marker key is gone after a reconnect: the Redis data was lost');
    return gone;
  }

  private async writeMarker(): Promise<void> {
    const key = this.markerKey();
    await this.redis.set(key, String(Date.now()), 'PX', MARKER_TTL_MS);
    this.written = key;
    this.markerAt = Date.now();
    this.caps.grant('state-write');
  }
}

function field(info: string, name: string): string | null {
  return new RegExp(`^${name}:([^\\r\\n]+)`, 'm').exec(info)?.[1] ?? null;
}

function versionNum(version: string | null): number {
  if (!version) return 0;
  const [major = 0, minor = 0, patch = 0] = version.split('.').map((n) => Number.parseInt(n, 10) || 0);
  return (major << 16) | (minor << 8) | patch;
}
