/**
 * Runs a task one at a time: asked again while it runs, it runs once more when done (however often it was asked),
 * and every caller waits for that last run. For work that must see everything that happened before it was asked
 * for — a resync, a reconnect's set-up — without ever running twice at once.
 */
export class Coalesced {
  private running: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly task: () => Promise<void>,
    /** Stop rerunning (the owner is stopping). */
    private readonly stopped: () => boolean,
  ) {}

  run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.task();
      } while (this.again && !this.stopped());
    })().finally(() => (this.running = null));
    return this.running;
  }

  /** The run in progress, if any (to wait for it). */
  get current(): Promise<void> | null {
    return this.running;
  }
}
