import { createServer } from 'node:net';

/*
 * Cluster ports are drawn from 20000–22699 so that a node's bus port (port + 10000, 30000–32699) and the node
 * itself both stay below Linux's ephemeral range (32768 and up), where `freePort()` and every outgoing
 * connection take their ports: nothing else on the machine picks these by chance. Ports handed out in this
 * process are never handed out again while it runs (stopped nodes leave TIME_WAIT behind).
 */
const CLUSTER_PORT_MIN = 20_000;
const CLUSTER_PORT_SPAN = 2_700;
export const CLUSTER_BUS_OFFSET = 10_000;

const handedOut = new Set<number>();

/** Whether nothing listens on 127.0.0.1:`port` right now. */
export function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * A loopback port below 55000 that is free together with its cluster bus port (port + 10000). Another process
 * may still take it before the node binds it: callers retry on another port when a node fails to start.
 */
export async function freeClusterPort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = CLUSTER_PORT_MIN + Math.floor(Math.random() * CLUSTER_PORT_SPAN);
    if (handedOut.has(port) || handedOut.has(port + CLUSTER_BUS_OFFSET)) continue;
    if ((await canListen(port)) && (await canListen(port + CLUSTER_BUS_OFFSET))) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free pair of loopback ports (port and port + ${CLUSTER_BUS_OFFSET}) found in ${CLUSTER_PORT_MIN}–${CLUSTER_PORT_MIN + CLUSTER_PORT_SPAN - 1}`);
}

/**
 * Runs `start(port)` on ports from `pick()` until one start succeeds (another process may take a port between
 * the check and the bind); at most `attempts` tries, then the last error.
 */
export async function startOnSomePort<T>(pick: () => Promise<number>, start: (port: number) => Promise<T>, attempts = 4): Promise<T> {
  let last: Error | undefined;
  for (let i = 0; i < attempts; i++) {
    try {
      return await start(await pick());
    } catch (err) {
      last = err as Error;
    }
  }
  throw last ?? new Error('could not start');
}
