import { useSyncExternalStore } from 'react';
import { create } from 'zustand';
import type { LockChanges, LockSnapshot } from '../../../shared/locks';
import type { ServerStatus, TargetStatus } from '../../../shared/status';
import { LockModel } from './lock-model';

export type SocketState = 'connecting' | 'connected' | 'disconnected';

/**
 * The page's one lock table. Socket messages are applied to it as they arrive; React hears about them at most
 * once per animation frame (see `useLocksVersion`), however many batches came in between.
 */
export const lockModel = new LockModel();

/**
 * Counters for benchmarks and bug reports (`window.__lockscope` in the console): how much the page has applied
 * and how long it took. Plain numbers, constant size.
 */
export const diagnostics = {
  /** Snapshots received in full. */
  snapshots: 0,
  snapshotLocks: 0,
  /** Parts of the last snapshot (each its own socket message, so its own task). */
  snapshotParts: 0,
  /** Applying the last snapshot to the model (after socket.io parsed it), ms: all parts, and the longest one. */
  snapshotApplyMs: 0,
  snapshotPartMaxMs: 0,
  /** When the last snapshot's first and last parts arrived (`performance.now()`). */
  snapshotStartedAt: 0,
  snapshotDoneAt: 0,
  batches: 0,
  upserts: 0,
  removed: 0,
  /** Time spent applying change batches to the model, ms (React rendering not included). */
  applyMsTotal: 0,
  applyMsMax: 0,
  /** React notifications (at most one per animation frame). */
  publishes: 0,
};

const listeners = new Set<() => void>();
/** Bumped when React should re-read `lockModel`. */
let version = 0;
/** A publish is scheduled: its frame callback, then its task. */
let frame: number | null = null;
let task: ReturnType<typeof setTimeout> | null = null;

const nextFrame: (cb: () => void) => number =
  typeof requestAnimationFrame === 'function' ? (cb) => requestAnimationFrame(cb) : (cb) => setTimeout(cb, 16) as unknown as number;
const cancelFrame: (id: number) => void = typeof cancelAnimationFrame === 'function' ? cancelAnimationFrame : clearTimeout;

/**
 * Tell subscribers soon, at most once a frame (coalesced): in a task of its own right after the frame, not in the
 * frame's own callback, so that React's render and the browser's style and layout of what it rendered are two tasks
 * rather than one long one (the first frame with rows, at start-up, is the page's biggest).
 */
function publishSoon(): void {
  if (frame !== null || task !== null) return;
  frame = nextFrame(() => {
    frame = null;
    task = setTimeout(publishNow, 0);
  });
}

/**
 * While a snapshot arrives the table re-renders at most this often: each render with a new row count costs the
 * virtualizer a pass over every row, and new rows all over the order replace most of those on screen.
 */
const LOADING_RENDER_MS = 250;
let loading = false;
let loadingTimer: ReturnType<typeof setTimeout> | null = null;

function publishWhileLoading(): void {
  loadingTimer ??= setTimeout(() => {
    loadingTimer = null;
    publishSoon();
  }, LOADING_RENDER_MS);
}

let workTimer: ReturnType<typeof setTimeout> | null = null;

/**
 * Finishes what the model left for later (a new order or filter on a big table, see `LockModel.work`): a slice
 * per task, so the page stays responsive, rendering the rows once a frame meanwhile.
 */
export function continueModelWork(): void {
  if (workTimer !== null || !lockModel.busy) return;
  workTimer = setTimeout(() => {
    workTimer = null;
    lockModel.work();
    publishSoon();
    continueModelWork();
  }, 0);
}

/** Tell subscribers now: for user actions (sort, filter), whose result must show in the same render. */
export function publishNow(): void {
  if (frame !== null) cancelFrame(frame);
  if (task !== null) clearTimeout(task);
  frame = null;
  task = null;
  version++;
  diagnostics.publishes++;
  for (const l of listeners) l();
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Re-renders the caller when the lock table changed; read the data from `lockModel`. */
export function useLocksVersion(): number {
  return useSyncExternalStore(subscribe, () => version);
}

/** How far the browser's clock may drift from the last estimate before countdowns are corrected. */
const CLOCK_JITTER_MS = 250;

interface LockStore {
  /**
   * Server clock minus this browser's clock (ms): deadlines are on the server's clock. Each message gives a new
   * estimate that differs by network jitter; it is only replaced when it moves by more than that, so rows are not
   * re-rendered for nothing.
   */
  clockOffsetMs: number;
  status: ServerStatus | null;
  /**
   * The target whose locks the table holds (from the snapshot being received), or null before the first one. A
   * message of another target is stale (sent before a switch took effect) and ignored.
   */
  target: string | null;
  socket: SocketState;
  /** When the data on screen stopped being live (epoch ms, browser clock), or null while live. */
  staleSince: number | null;
  /**
   * When the last complete snapshot arrived (browser clock), and how long applying it took, for diagnostics.
   * Null until the first one is complete (the table fills in while its parts arrive).
   */
  snapshot: { at: number; locks: number; applyMs: number } | null;
  applySnapshot(snapshot: LockSnapshot): void;
  applyChanges(changes: LockChanges): void;
  setStatus(status: ServerStatus): void;
  setSocket(state: SocketState): void;
}

/** The status of the target shown (the first one until a snapshot says which). */
export function viewedTarget(status: ServerStatus | null, target: string | null): TargetStatus | null {
  if (!status) return null;
  return status.targets.find((t) => t.id === target) ?? status.targets[0] ?? null;
}

/**
 * The table follows Redis: a node of the target is connected (with several nodes and some of them away, the
 * connection banner names those: their locks are as last seen, the rest is live).
 */
function isLive(target: TargetStatus | null): boolean {
  return target !== null && target.nodes.some((n) => n.connection === 'ready');
}

/** The viewed target's status (re-renders on status changes). */
export function useViewedTarget(): TargetStatus | null {
  const status = useLockStore((s) => s.status);
  const target = useLockStore((s) => s.target);
  return viewedTarget(status, target);
}

export const useLockStore = create<LockStore>()((set, get) => {
  const syncClock = (serverTime: number) => {
    const estimate = serverTime - Date.now();
    if (Math.abs(estimate - get().clockOffsetMs) > CLOCK_JITTER_MS) set({ clockOffsetMs: estimate });
  };
  return {
    clockOffsetMs: 0,
    status: null,
    target: null,
    socket: 'connecting',
    staleSince: null,
    snapshot: null,
    // One part at a time, each its own message (so its own task): parsing and applying a part (≤ 1,000 locks)
    // takes ~10 ms, and the page renders between parts. Changes in between apply as usual (see `LockSnapshot`).
    applySnapshot: ({ target, seq, locks, done, serverTime }) => {
      const started = performance.now();
      if (seq === 0) {
        loading = true;
        // Another target's table: nothing of the one shown before belongs in it.
        if (target !== get().target) {
          lockModel.replaceAll([]);
          set({ target, snapshot: null });
          publishNow();
        }
        lockModel.beginSnapshot();
        diagnostics.snapshotLocks = 0;
        diagnostics.snapshotParts = 0;
        diagnostics.snapshotApplyMs = 0;
        diagnostics.snapshotPartMaxMs = 0;
        diagnostics.snapshotStartedAt = started;
      } else if (target !== get().target) return;
      lockModel.apply(locks, []);
      if (done) lockModel.endSnapshot();
      const ms = performance.now() - started;
      diagnostics.snapshotLocks += locks.length;
      diagnostics.snapshotParts++;
      diagnostics.snapshotApplyMs += ms;
      if (ms > diagnostics.snapshotPartMaxMs) diagnostics.snapshotPartMaxMs = ms;
      syncClock(serverTime);
      // The first part shows at once, the next ones a few times a second, the whole table as soon as it is in.
      if (!done) return seq === 0 ? publishSoon() : publishWhileLoading();
      loading = false;
      diagnostics.snapshots++;
      diagnostics.snapshotDoneAt = performance.now();
      set({ snapshot: { at: Date.now(), locks: diagnostics.snapshotLocks, applyMs: diagnostics.snapshotApplyMs } });
      publishNow();
    },
    applyChanges: ({ target, upserts, removed, serverTime }) => {
      if (target !== get().target) return;
      const started = performance.now();
      lockModel.apply(upserts, removed);
      const ms = performance.now() - started;
      diagnostics.batches++;
      diagnostics.upserts += upserts.length;
      diagnostics.removed += removed.length;
      diagnostics.applyMsTotal += ms;
      if (ms > diagnostics.applyMsMax) diagnostics.applyMsMax = ms;
      syncClock(serverTime);
      if (loading) publishWhileLoading();
      else publishSoon();
    },
    setStatus: (status) => {
      set((s) => {
        const live = isLive(viewedTarget(status, s.target));
        return { status, staleSince: live ? (s.socket === 'connected' ? null : s.staleSince) : (s.staleSince ?? Date.now()) };
      });
    },
    setSocket: (socket) =>
      set((s) => ({
        socket,
        // Connected again: live once the server says Redis is ready (a fresh snapshot follows).
        staleSince:
          socket === 'disconnected' ? (s.staleSince ?? Date.now()) : s.status && isLive(viewedTarget(s.status, s.target)) ? null : s.staleSince,
      })),
  };
});
