import { Redis, type RedisOptions } from 'ioredis';
import { findRedisServer, spawnSupervised, waitForRedis, type SupervisedProcess } from '../../src/redis/embedded-redis';

export interface RedisProcessOptions {
  port: number;
  /**
   * `redis-server` arguments. Without `configFile` they follow the defaults (loopback, no persistence, logs on
   * stdout), and a later argument wins over an earlier one, so `['--port', '0', '--tls-port', …]` works.
   */
  args?: string[];
  /** A config file, passed first as redis-server wants it (`redis-server <conf> --sentinel`); no defaults then. */
  configFile?: string;
  /** Start a Sentinel (`--sentinel`); needs `configFile`. */
  sentinel?: boolean;
  /** What a client needs besides host and port: `password`, `username`, `tls`. */
  connection?: RedisOptions;
  /** How long to wait for PING to answer. Default 10 s. */
  readyTimeoutMs?: number;
}

/** One redis-server (or Sentinel) process, supervised: it dies with the test process however that ends. */
export interface RedisProcess {
  readonly port: number;
  /** host, port and the `connection` options it was started with: spread into `new Redis(…)`. */
  readonly connection: RedisOptions;
  /** The redis-server's own pid (from `INFO server`), for SIGKILL. */
  readonly pid: number;
  /** Resolves when the process has exited, however. */
  readonly exited: Promise<number | null>;
  /** Whether the process is still running. */
  alive(): boolean;
  /** What it logged last (stdout/stderr), for error messages. */
  output(): string;
  /** A new client for this server (the caller disconnects it); errors are swallowed, retries are off. */
  client(extra?: RedisOptions): Redis;
  /** SIGKILL to redis-server (a crash: no shutdown, no final replication); resolves once it is gone. */
  kill(): Promise<void>;
  /** SIGTERM (graceful), SIGKILL after 5 s; resolves once it is gone. Safe to call twice and after `kill()`. */
  stop(): Promise<void>;
}

const DEFAULT_ARGS = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes', '--loglevel', 'warning', '--logfile', ''];

/**
 * Starts redis-server on `options.port` under the embedded Redis's supervisor and resolves once it answers
 * PING with the given credentials/TLS (typically 20–60 ms; 10 s deadline). Throws, with the server's last log
 * line, when it exits first (a port taken: "Address already in use").
 */
export async function startRedisProcess(options: RedisProcessOptions): Promise<RedisProcess> {
  const binary = findRedisServer();
  if (!binary) throw new Error('redis-server is not installed (Debian: apt-get install redis-server)');
  if (options.sentinel && !options.configFile) throw new Error('a Sentinel needs a config file');
  const argv = options.configFile
    ? [options.configFile, ...(options.sentinel ? ['--sentinel'] : []), ...(options.args ?? [])]
    : ['--port', String(options.port), ...DEFAULT_ARGS, ...(options.args ?? [])];
  const proc: SupervisedProcess = spawnSupervised(binary, argv);
  const connection: RedisOptions = { host: '127.0.0.1', port: options.port, ...options.connection };
  let pid: number;
  try {
    await waitForRedis(connection, proc, options.readyTimeoutMs ?? 10_000);
    pid = await processId(connection);
  } catch (err) {
    await proc.stop();
    throw new Error(`${options.sentinel ? 'sentinel' : 'redis-server'} on port ${options.port}: ${(err as Error).message}`, { cause: err });
  }
  let running = true;
  void proc.exited.then(() => (running = false));
  return {
    port: options.port,
    connection,
    pid,
    exited: proc.exited,
    alive: () => running,
    output: proc.output,
    client: (extra) => quietClient({ ...connection, ...extra }),
    async kill() {
      if (!running) return;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await proc.exited;
    },
    stop: proc.stop,
  };
}

/** An ioredis client that never retries and never throws unhandled 'error' events (tests check replies). */
export function quietClient(options: RedisOptions): Redis {
  const client = new Redis({ maxRetriesPerRequest: 1, ...options });
  client.on('error', () => {});
  return client;
}

async function processId(connection: RedisOptions): Promise<number> {
  const client = quietClient({ ...connection, retryStrategy: () => null });
  try {
    const info = await client.info('server');
    const pid = Number(/^process_id:(\d+)/m.exec(info)?.[1]);
    if (!pid) throw new Error('INFO server shows no process_id');
    return pid;
  } finally {
    client.disconnect();
  }
}
