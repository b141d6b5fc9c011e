import type { Server } from 'socket.io';

/**
 * Messages between the replicas of one deployment, over Socket.IO's own server-to-server channel
 * (`io.serverSideEmit`, carried by the Redis streams adapter's Pub/Sub): small requests, never the change stream.
 * Each goes to every other replica; whoever it concerns acts on it.
 */
export interface BusMessages {
  /** A follower asks the group's leader for a snapshot through the change stream. */
  sync: { group: string; to: string; nonce: string };
  /**
   * An admin action a follower carried out: the leader records it in the lock's history (force-released, ttl-set)
   * and looks at the key now.
   */
  note: { group: string; id: string; kind: 'force-released' | 'ttl-set'; pttlMs: number };
}

export type BusKind = keyof BusMessages;

type AnyServer = Server<never, never, Record<string, (msg: unknown) => void>>;

/** The replicas' bus: typed sends and handlers over `io.serverSideEmit` (inactive until a cluster adapter is in place). */
export class ReplicaBus {
  /** A cluster adapter (the Redis streams adapter, or one passed in) carries messages. */
  active = false;
  /** Whether the adapter's connection is up now (nothing is sent while it is not: a request is simply asked again). */
  connected: () => boolean = () => true;
  private readonly io: AnyServer;

  constructor(io: Server) {
    this.io = io as unknown as AnyServer;
  }

  send<K extends BusKind>(kind: K, message: BusMessages[K]): void {
    if (!this.active || !this.connected()) return;
    try {
      this.io.serverSideEmit(`lockscope:${kind}`, message as never);
    } catch {
      // The adapter is closing (shutdown): nothing to tell anyone.
    }
  }

  on<K extends BusKind>(kind: K, handler: (message: BusMessages[K]) => void): () => void {
    const listener = (message: unknown) => {
      if (message && typeof message === 'object') handler(message as BusMessages[K]);
    };
    this.io.on(`lockscope:${kind}` as never, listener as never);
    return () => void this.io.off(`lockscope:${kind}` as never, listener as never);
  }
}
