import type { Logger } from 'pino';
import { startEmbeddedRedis, type EmbeddedRedis } from './embedded-redis';

/** Waits before starting a replacement, doubling after each failed start up to the maximum. */
const RESTART_DELAY_MS = 250;
const RESTART_DELAY_MAX_MS = 10_000;

export interface SupervisedRedis {
  /** Stops supervising and stops the server that is running. */
  stop(): Promise<void>;
}

/**
 * Keeps lockscope's embedded Redis running: should the redis-server die (killed, out of memory), a new one starts
 * on the same port, so the connections find it again by themselves. It starts empty — its node watcher sees a new
 * run_id and shows the locks that were held as lost.
 */
export function superviseEmbeddedRedis(first: EmbeddedRedis, logger: Logger): SupervisedRedis {
  let current = first;
  let stopped = false;
  let delay = RESTART_DELAY_MS;
  let timer: NodeJS.Timeout | null = null;

  const watch = (server: EmbeddedRedis) =>
    void server.exited.then((code) => {
      if (stopped) return;
      logger.error({ code, port: server.port }, 'the embedded redis-server exited: starting a new, empty one on the same port');
      schedule();
    });

  const schedule = () => {
    timer = setTimeout(() => void restart(), delay);
  };

  const restart = async () => {
    timer = null;
    if (stopped) return;
    try {
      const next = await startEmbeddedRedis({ port: first.port });
      if (stopped) return void (await next.stop());
      current = next;
      delay = RESTART_DELAY_MS;
      logger.warn({ url: next.url }, 'embedded redis-server running again');
      watch(next);
    } catch (err) {
      delay = Math.min(delay * 2, RESTART_DELAY_MAX_MS);
      logger.error({ err: (err as Error).message, retryInMs: delay }, 'could not start the embedded redis-server again');
      schedule();
    }
  };

  watch(first);
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await current.stop();
    },
  };
}
