import { createServer, connect, type Socket } from 'node:net';

export interface SlowProxy {
  /** redis:// URL of the proxy (same database path as the target). */
  url: string;
  /** Cuts every open connection (both sides; data still held back is lost) and keeps accepting new ones. */
  drop(): void;
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of Redis that holds back a random share of the traffic: each chunk, in either direction,
 * is delayed by `delayMs` with probability `prob`. Order is preserved (a chunk never overtakes an earlier one),
 * so the protocol stays intact; only round trips get slower, exactly as on a congested network or a busy Redis.
 */
export async function startSlowProxy(targetUrl: string, options: { prob: number; delayMs: number }): Promise<SlowProxy> {
  const target = new URL(targetUrl);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 6379), target.hostname);
    sockets.add(client).add(upstream);
    pipeSlowly(client, upstream, options);
    pipeSlowly(upstream, client, options);
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', closeBoth).on('error', closeBoth);
    upstream.on('close', closeBoth).on('error', closeBoth);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = new URL(targetUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return {
    url: url.toString(),
    drop: () => {
      for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function pipeSlowly(from: Socket, to: Socket, { prob, delayMs }: { prob: number; delayMs: number }): void {
  const queue: { at: number; chunk: Buffer }[] = [];
  let timer: NodeJS.Timeout | null = null;
  const drain = () => {
    timer = null;
    const now = Date.now();
    while (queue.length && queue[0]!.at <= now) {
      const { chunk } = queue.shift()!;
      if (!to.destroyed) to.write(chunk);
    }
    if (queue.length) timer = setTimeout(drain, queue[0]!.at - now);
  };
  from.on('data', (chunk: Buffer) => {
    const now = Date.now();
    const delayed = Math.random() < prob ? now + delayMs : now;
    // Never overtake a chunk still waiting in the queue.
    const at = Math.max(delayed, queue.at(-1)?.at ?? 0);
    if (at <= now && !queue.length) {
      to.write(chunk);
      return;
    }
    queue.push({ at, chunk });
    timer ??= setTimeout(drain, Math.max(0, queue[0]!.at - now));
  });
  from.on('close', () => {
    if (timer) clearTimeout(timer);
  });
}
