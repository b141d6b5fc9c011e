import type { Timers } from '../locklib';

interface Entry {
  due: number;
  fn: () => void;
  handle: NodeJS.Timeout | null;
}

/** Thrown out of a worker's sleeps when it crashes: nothing of the worker may run after that. */
export class Crashed extends Error {
  constructor() {
    super('worker crashed');
  }
}

/**
 * The timers of one simulated worker process. A pause (`freeze`) models a stop-the-world GC pause: every timer of
 * the worker — its own sleeps, its renewal loop, the lock library's watchdog and validity deadline — is held
 * until the pause is over, then the overdue ones fire in the order they were due. Real time keeps running, and
 * so does Redis: TTLs expire under the frozen worker exactly as they would in production.
 *
 * `kill()` models a crash: every pending timer is dropped and sleeps reject with `Crashed`.
 */
export class Freezer implements Timers {
  private frozenUntil = 0;
  private dead = false;
  private readonly entries = new Set<Entry>();
  private readonly sleepers = new Set<(err: Error) => void>();

  get killed(): boolean {
    return this.dead;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const entry: Entry = { due: Date.now() + Math.max(0, ms), fn, handle: null };
    if (!this.dead) this.arm(entry);
    return entry;
  }

  clearTimeout(handle: unknown): void {
    const entry = handle as Entry | null;
    if (!entry) return;
    if (entry.handle) clearTimeout(entry.handle);
    entry.handle = null;
    this.entries.delete(entry);
  }

  /** Sleeps `ms` on this worker's clock (longer if a pause intervenes). Resolves early when `cut` aborts. */
  sleep(ms: number, cut?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.dead) return reject(new Crashed());
      if (cut?.aborted) return resolve();
      const done = () => {
        this.sleepers.delete(fail);
        cut?.removeEventListener('abort', early);
        resolve();
      };
      const fail = (err: Error) => {
        this.clearTimeout(handle);
        cut?.removeEventListener('abort', early);
        reject(err);
      };
      const early = () => {
        this.clearTimeout(handle);
        done();
      };
      const handle = this.setTimeout(done, ms);
      this.sleepers.add(fail);
      cut?.addEventListener('abort', early, { once: true });
    });
  }

  /** Freezes every timer of the worker for `ms`; resolves when the pause is over (or when `cut` aborts). */
  freeze(ms: number, cut?: AbortSignal): Promise<void> {
    const until = Date.now() + ms;
    this.frozenUntil = Math.max(this.frozenUntil, until);
    const thaw = () => {
      this.frozenUntil = Math.min(this.frozenUntil, Date.now());
      for (const e of [...this.entries]) this.rearm(e);
    };
    cut?.addEventListener('abort', thaw, { once: true });
    return this.sleep(ms, cut).finally(() => cut?.removeEventListener('abort', thaw));
  }

  /** The crash: drops every timer, rejects every sleep. */
  kill(): void {
    this.dead = true;
    for (const e of this.entries) if (e.handle) clearTimeout(e.handle);
    this.entries.clear();
    const sleepers = [...this.sleepers];
    this.sleepers.clear();
    for (const fail of sleepers) fail(new Crashed());
  }

  private arm(entry: Entry): void {
    const at = Math.max(entry.due, this.frozenUntil);
    entry.handle = setTimeout(() => this.fire(entry), Math.max(0, at - Date.now()));
    this.entries.add(entry);
  }

  private rearm(entry: Entry): void {
    if (entry.handle) clearTimeout(entry.handle);
    this.arm(entry);
  }

  private fire(entry: Entry): void {
    entry.handle = null;
    if (this.dead) return;
    if (Date.now() < this.frozenUntil) return this.arm(entry);
    this.entries.delete(entry);
    entry.fn();
  }
}
