/**
 * Per-address counting for failed logins and for rate-capping audit entries. In memory (a restart forgets it),
 * fixed windows that start at an address's first counted event, and a bounded number of addresses.
 */

interface Window {
  start: number;
  count: number;
  /** Second counter of the same window (the failed-login limit counts its refusals here). */
  marks: number;
}

export interface PerIpWindowOptions {
  windowMs: number;
  /** Most addresses remembered; the oldest window is dropped beyond it. */
  maxAddresses?: number;
  clock?: () => number;
}

/** Counts events per address in fixed windows of `windowMs`. */
export class PerIpWindow {
  private readonly windows = new Map<string, Window>();
  private readonly maxAddresses: number;
  private readonly clock: () => number;

  constructor(private readonly options: PerIpWindowOptions) {
    this.maxAddresses = options.maxAddresses ?? 10_000;
    this.clock = options.clock ?? Date.now;
  }

  /** Counts one event for `ip`; returns its count in the current window (1 for the first). */
  hit(ip: string): number {
    let w = this.current(ip);
    if (!w) {
      if (this.windows.size >= this.maxAddresses) this.sweep();
      while (this.windows.size >= this.maxAddresses) this.windows.delete(this.windows.keys().next().value!);
      w = { start: this.clock(), count: 0, marks: 0 };
      this.windows.set(ip, w);
    }
    return ++w.count;
  }

  /** The count of `ip` in its current window (0 when none is open). */
  count(ip: string): number {
    return this.current(ip)?.count ?? 0;
  }

  /** Counts one event on the second counter of `ip`'s open window; returns it (0 when no window is open). */
  mark(ip: string): number {
    const w = this.current(ip);
    return w ? ++w.marks : 0;
  }

  /** Whole seconds until `ip`'s window ends (at least 1). */
  secondsLeft(ip: string): number {
    const w = this.current(ip);
    return w ? Math.max(1, Math.ceil((w.start + this.options.windowMs - this.clock()) / 1000)) : 1;
  }

  private current(ip: string): Window | undefined {
    const w = this.windows.get(ip);
    if (w && w.start + this.options.windowMs <= this.clock()) {
      this.windows.delete(ip);
      return undefined;
    }
    return w;
  }

  private sweep(): void {
    const now = this.clock();
    for (const [ip, w] of this.windows) if (w.start + this.options.windowMs <= now) this.windows.delete(ip);
  }
}

/** A refusal because the address is over the failed-login limit. */
export interface Throttled {
  retryAfterS: number;
  message: string;
  /** The first refusal of this address's window: audit it (later ones are not, so a flood cannot fill the capped stream). */
  first: boolean;
}

export interface FailureLimiterOptions {
  /** Wrong tokens per address per window before every token from it is refused. */
  limit: number;
  windowMs: number;
  clock?: () => number;
}

/**
 * The failed-login limit, shared by every place a token is checked (login, bearer on any route, Socket.IO
 * handshake), so guesses spread over routes and transports count together.
 */
export class FailureLimiter {
  private readonly failures: PerIpWindow;

  constructor(readonly options: FailureLimiterOptions) {
    this.failures = new PerIpWindow({ windowMs: options.windowMs, clock: options.clock });
  }

  /** Call before checking a token from `ip`: a refusal when the address is over the limit, else null. */
  throttled(ip: string): Throttled | null {
    if (this.failures.count(ip) < this.options.limit) return null;
    const retryAfterS = this.failures.secondsLeft(ip);
    return {
      retryAfterS,
      message: `Too many wrong admin tokens from this address; try again in ${retryAfterS} s.`,
      first: this.failures.mark(ip) === 1,
    };
  }

  /** Call after a wrong token from `ip`. */
  fail(ip: string): void {
    this.failures.hit(ip);
  }
}
