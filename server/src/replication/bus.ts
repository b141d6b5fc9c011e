import type { Server } from 'socket.io';
import type { AuditEntry } from '../../../shared/admin';
import type { SimState, SimSummary } from '../../../shared/simulator';
import type { Session } from '../admin/auth/sessions';
import type { AdminActionKind } from '../targets/target';

/**
 * Messages between the replicas of one deployment, over Socket.IO's own server-to-server channel
 * (`io.serverSideEmit`, carried by the Redis streams adapter's Pub/Sub): small requests, never the change stream.
 * Each goes to every other replica; whoever it concerns acts on it.
 */
export interface BusMessages {
  /** A follower asks the group's leader for a snapshot through the change stream. */
  sync: { group: string; to: string; nonce: string };
  /**
   * An admin action a follower carried out: the leader records it in the lock's history (force-released, a holder
   * freed alone — `holder`, base64 —, ttl-set) and looks at the key now.
   */
  note: { group: string; id: string; kind: AdminActionKind; pttlMs: number; holder?: string };
  /** An audit entry recorded on one replica, for the admin browsers on the others. */
  audit: AuditEntry;
  /** An admin session started or ended on one replica (its digest only): the cookie works on every replica. */
  session: { op: 'add'; session: Session } | { op: 'delete'; digest: string };
  /** The simulator's state on the replica running it (sent with each change and each second of a run). */
  'sim-state': { from: string; state: SimState };
}

/** Requests answered by every other replica. */
export interface BusQuestions {
  /** Stop the simulation you run (the one that runs it answers with the summary; the others with null). */
  'sim-stop': { question: { from: string }; answer: SimSummary | null };
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

  /**
   * Asks every other replica; the answers that came (the adapter waits 5 s at most for the replicas it counts on
   * the bus's channel).
   */
  ask<K extends keyof BusQuestions>(kind: K, question: BusQuestions[K]['question']): Promise<BusQuestions[K]['answer'][]> {
    if (!this.active || !this.connected()) return Promise.resolve([]);
    return new Promise((resolve) => {
      const emit = this.io.serverSideEmit as unknown as (ev: string, ...args: unknown[]) => void;
      emit.call(this.io, `lockscope:${kind}`, question, (_err: unknown, answers: unknown[]) => resolve((answers ?? []) as BusQuestions[K]['answer'][]));
    });
  }

  /** Answers a question (every replica answers every question). */
  answer<K extends keyof BusQuestions>(kind: K, handler: (question: BusQuestions[K]['question']) => Promise<BusQuestions[K]['answer']>): () => void {
    const listener = (question: unknown, reply: unknown) => {
      if (typeof reply !== 'function') return;
      handler((question ?? {}) as BusQuestions[K]['question']).then(
        (answer) => (reply as (a: unknown) => void)(answer),
        () => (reply as (a: unknown) => void)(null),
      );
    };
    this.io.on(`lockscope:${kind}` as never, listener as never);
    return () => void this.io.off(`lockscope:${kind}` as never, listener as never);
  }

  on<K extends BusKind>(kind: K, handler: (message: BusMessages[K]) => void): () => void {
    const listener = (message: unknown) => {
      if (message && typeof message === 'object') handler(message as BusMessages[K]);
    };
    this.io.on(`lockscope:${kind}` as never, listener as never);
    return () => void this.io.off(`lockscope:${kind}` as never, listener as never);
  }
}
