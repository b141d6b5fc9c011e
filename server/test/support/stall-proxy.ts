import { startSlowProxy } from '../../src/simulator/slow-proxy';

/** A TCP proxy that can partition its clients from what is behind it. */
export interface StallProxy {
  /** The first target's URL with the proxy's host and port (`redis://127.0.0.1:<port>` for a Redis). */
  url: string;
  port: number;
  /**
   * Stops forwarding in both directions without closing a connection (a network partition): commands hang,
   * nothing errors, new connections are accepted and hang too. TCP keeps both ends believing they are connected.
   */
  pause(): void;
  /** Delivers everything held back, in order, and forwards again. */
  resume(): void;
  /** Destroys every connection (both sides); new ones are accepted. */
  cutAll(): void;
  close(): Promise<void>;
}

/**
 * Starts a round-robin TCP proxy on a free loopback port in front of `targets` (URLs such as
 * `redis://127.0.0.1:6390`, or `host:port`): each new connection goes to the next target. It is the
 * simulator's slow proxy with no delay. Immediate (one listen).
 */
export async function startStallProxy(targets: string | string[]): Promise<StallProxy> {
  const urls = (Array.isArray(targets) ? targets : [targets]).map((t) => (t.includes('://') ? t : `tcp://${t}`));
  const proxy = await startSlowProxy(urls, { prob: 0, delayMs: 0 });
  return {
    url: proxy.url,
    port: Number(new URL(proxy.url).port),
    pause: proxy.pause,
    resume: proxy.resume,
    cutAll: proxy.drop,
    close: proxy.close,
  };
}
