import { createServer, connect, type Socket } from 'node:net';

export interface SlowProxy {
  /** redis:// URL of the proxy (same database path as the first target). */
  url: string;
  /** Cuts every open connection (both sides; data still held back is lost) and keeps accepting new ones. */
  drop(): void;
  /**
   * Stops forwarding in both directions without closing anything, as a network partition does: the proxy stops
   * reading (the senders' TCP windows fill up), holds what it had read, and accepts new connections without
   * forwarding them either. `resume()` delivers everything held, in order.
   */
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of Redis that holds back a random share of the traffic: each chunk, in either direction,
 * is delayed by `delayMs` with probability `prob`. Order is preserved (a chunk never overtakes an earlier one),
 * so the protocol stays intact; only round trips get slower, exactly as on a congested network or a busy Redis.
 * With several targets, each new connection goes to the next one in turn.
 */
export async function startSlowProxy(targetUrls: string | string[], options: { prob: number; delayMs: number }): Promise<SlowProxy> {
  const targets = (Array.isArray(targetUrls) ? targetUrls : [targetUrls]).map((t) => new URL(t));
  if (!targets.length) throw new Error('the proxy needs a target');
  const sockets = new Set<Socket>();
  const pipes = new Set<Pipe>();
  const gate = { paused: false };
  let next = 0;
  const server = createServer((client) => {
    const target = targets[next++ % targets.length]!;
    const upstream = connect(Number(target.port || 6379), target.hostname);
    sockets.add(client).add(upstream);
    const both = [pipeSlowly(client, upstream, options, gate), pipeSlowly(upstream, client, options, gate)];
    for (const p of both) pipes.add(p);
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
      for (const p of both) pipes.delete(p);
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
  const url = new URL(targets[0]!);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return {
    url: url.toString(),
    drop: () => {
      for (const s of sockets) s.destroy();
    },
    pause: () => {
      gate.paused = true;
      for (const p of pipes) p.hold();
    },
    resume: () => {
      gate.paused = false;
      for (const p of pipes) p.release();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

interface Pipe {
  hold(): void;
  release(): void;
}

function pipeSlowly(from: Socket, to: Socket, { prob, delayMs }: { prob: number; delayMs: number }, gate: { paused: boolean }): Pipe {
  const queue: { at: number; chunk: Buffer }[] = [];
  let timer: NodeJS.Timeout | null = null;
  const drain = () => {
    timer = null;
    if (gate.paused) return;
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
    if (at <= now && !queue.length && !gate.paused) {
      to.write(chunk);
      return;
    }
    queue.push({ at, chunk });
    if (!gate.paused) timer ??= setTimeout(drain, Math.max(0, queue[0]!.at - now));
  });
  from.on('close', () => {
    if (timer) clearTimeout(timer);
  });
  if (gate.paused) from.pause();
  return {
    hold: () => {
      from.pause();
      if (timer) clearTimeout(timer);
      timer = null;
    },
    release: () => {
      from.resume();
      timer ??= setTimeout(drain, 0);
    },
  };
}
