/** Expiry checks are grouped into slots this wide, so a timer never fires per key. */
export const WHEEL_SLOT_MS = 25;
/** Probe a lock this long after its deadline: expiry is shown promptly, never waiting for Redis's late `expired` event. */
const EXPIRY_PROBE_DELAY_MS = 10;

/**
 * When to look at each lock again: just after its deadline. One per target (a lock's check is routed to the node
 * owning its key when it comes due, so a lock that moved to another node in the meantime is still checked).
 *
 * Checks are kept by wheel slot, counted from `base` (small integers, stored unboxed): lock ids only (the tracker's
 * own strings, so an entry costs a pointer), one id or an array of them. A renewal leaves the old entry behind
 * (found stale when its slot comes: the caller's `due` decides).
 */
export class ExpiryWheel {
  private readonly slots = new Map<number, string | string[]>();
  private readonly base: number;
  private cursor = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    /** A check came due: look at the lock (and ignore the entry if it is stale). */
    private readonly due: (id: string) => void,
    private readonly clock: () => number = Date.now,
  ) {
    this.base = Math.floor(clock() / WHEEL_SLOT_MS);
  }

  /** Turns just after each slot boundary (timed to it, so a check fires within a few ms of its slot). */
  start(): void {
    if (this.timer) return;
    const tick = () => {
      this.turn();
      this.timer = setTimeout(tick, WHEEL_SLOT_MS - (this.clock() % WHEEL_SLOT_MS) + 1);
      this.timer.unref();
    };
    this.timer = setTimeout(tick, WHEEL_SLOT_MS - (this.clock() % WHEEL_SLOT_MS) + 1);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Checks `id` just after `deadline` (epoch ms, this server's clock). */
  schedule(id: string, deadline: number): void {
    const at = Math.ceil((deadline + EXPIRY_PROBE_DELAY_MS) / WHEEL_SLOT_MS) - this.base;
    const slot = Math.max(at, this.cursor + 1);
    const bucket = this.slots.get(slot);
    if (bucket === undefined) this.slots.set(slot, id);
    else if (typeof bucket === 'string') {
      if (bucket !== id) this.slots.set(slot, [bucket, id]);
    } else if (bucket[bucket.length - 1] !== id) bucket.push(id); // a lock changing twice in a row: one entry
  }

  /** Checks waiting (stale ones included), for the heap bench. */
  pending(): number {
    let n = 0;
    for (const bucket of this.slots.values()) n += typeof bucket === 'string' ? 1 : bucket.length;
    return n;
  }

  private turn(): void {
    const now = Math.floor(this.clock() / WHEEL_SLOT_MS) - this.base;
    for (; this.cursor <= now; this.cursor++) {
      const bucket = this.slots.get(this.cursor);
      if (bucket === undefined) continue;
      this.slots.delete(this.cursor);
      if (typeof bucket === 'string') this.due(bucket);
      else for (const id of bucket) this.due(id);
    }
  }
}
