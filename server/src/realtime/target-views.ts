import type { Server, Socket } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../shared/events';
import type { Target } from '../targets/target';
import type { TargetSet } from '../targets/target-set';
import { LockBroadcaster } from './lock-broadcaster';

type IO = Server<ClientToServerEvents, ServerToClientEvents>;
type ClientSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

/**
 * Which target each browser looks at. A socket views one target at a time: it is in that target's stream (its
 * broadcaster's room) and its history requests read that target's tracker. Switching sends a fresh snapshot.
 */
export class TargetViews {
  private readonly broadcasters = new Map<string, LockBroadcaster>();
  private readonly viewing = new WeakMap<ClientSocket, Target>();

  constructor(
    io: IO,
    private readonly targets: TargetSet,
    clock: () => number = Date.now,
  ) {
    for (const t of targets.list) {
      const following = () => t.replication?.().role === 'follower';
      this.broadcasters.set(t.id, new LockBroadcaster(io, t.tracker, t.id, clock, undefined, following));
    }
  }

  /** A new socket views the target its handshake names (`auth.target`), or the first one. */
  attach(socket: ClientSocket): void {
    const asked = (socket.handshake.auth as { target?: unknown } | undefined)?.target;
    const target = (typeof asked === 'string' && this.targets.get(asked)) || this.targets.first;
    this.show(socket, target);
  }

  has(id: string): boolean {
    return this.targets.get(id) !== undefined;
  }

  /** Switches a socket to another target (a fresh snapshot follows); false when there is no such target. */
  view(socket: ClientSocket, id: string): boolean {
    const target = this.targets.get(id);
    if (!target) return false;
    const current = this.viewing.get(socket);
    if (current) this.broadcasters.get(current.id)!.detach(socket);
    this.show(socket, target);
    return true;
  }

  targetOf(socket: ClientSocket): Target {
    return this.viewing.get(socket) ?? this.targets.first;
  }

  dispose(): void {
    for (const b of this.broadcasters.values()) b.dispose();
  }

  private show(socket: ClientSocket, target: Target): void {
    this.viewing.set(socket, target);
    this.broadcasters.get(target.id)!.sendSnapshot(socket);
  }
}
