/** Thrown by a `poll` check: stop polling now (waiting longer cannot help, e.g. the process died). */
export class GiveUp extends Error {}

/**
 * Polls `check` every `everyMs` until it returns a value other than `undefined`/`false`; at the deadline throws
 * `describe()` (what did not happen, and what was seen) with the last error `check` threw. A `GiveUp` thrown by
 * `check` ends it at once.
 */
export async function poll<T>(check: () => Promise<T | undefined | false>, timeoutMs: number, describe: () => string, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      if (err instanceof GiveUp) throw err;
      lastError = err;
    }
    if (Date.now() > deadline) {
      const cause = lastError ? ` (last error: ${(lastError as Error).message})` : '';
      throw new Error(`${describe()} within ${(timeoutMs / 1000).toFixed(1)} s${cause}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
