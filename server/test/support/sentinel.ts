import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis, RedisOptions } from 'ioredis';
import { freePort } from '../../src/redis/embedded-redis';
import { poll } from './poll';
import { startOnSomePort } from './ports';
import { quietClient, startRedisProcess, type RedisProcess } from './redis-process';
import { makeTestCertificates, type TestCertificates } from './tls';

export interface TestSentinelOptions {
  /** Default `mymaster`. */
  masterName?: string;
  /** `requirepass` + `masterauth` on master and replica, `sentinel auth-pass` on the sentinels. */
  masterPassword?: string;
  /** `requirepass` on the sentinels (a Sentinel also uses it to authenticate to the other sentinels). */
  sentinelPassword?: string;
  /** `down-after-milliseconds`. Default 1000. */
  downAfterMs?: number;
  /** `failover-timeout` (also: a failed attempt is retried after twice this). Default 3000. */
  failoverTimeoutMs?: number;
  /** The master's `notify-keyspace-events`; `false` for none. Default `Kg$xhe`. */
  notifications?: string | false;
  /**
   * The replica's `notify-keyspace-events`. Default `false` (none): the realistic case, since replicas are rarely
   * configured for notifications, so after a failover the new master raises no events until someone sets them.
   */
  replicaNotifications?: string | false;
  /**
   * TLS only, everywhere: master, replica and sentinels listen on a TLS port alone (`port 0`), require client
   * certificates, and replicate and monitor over TLS (`tls-replication yes`), with certificates from
   * `makeTestCertificates`. Default false.
   */
  tls?: boolean;
}

export interface SentinelNode {
  port: number;
  /** redis:// URL, with the password when there is one. */
  url: string;
}

/** A master, one replica and three sentinels on loopback. */
export interface TestSentinel {
  masterName: string;
  /** The master as the sentinels last agreed (changes with `failover()`). */
  readonly master: SentinelNode;
  /** The replica (after `failover()`: the old master, once `restartOld()` brought it back). */
  readonly replica: SentinelNode;
  /** The three sentinels. */
  readonly sentinels: SentinelNode[];
  /** `127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3`, as `REDIS_SENTINELS` takes them. */
  readonly sentinelAddresses: string;
  /** A client on the current master found through the sentinels (ioredis sentinel mode; follows failovers). */
  readonly client: Redis;
  /** Options for `new Redis(…)` that connect through the sentinels (sentinels, name, passwords, TLS). */
  readonly clientOptions: RedisOptions;
  /** With `tls`: the CA and client certificate files (PEM) every server and sentinel trusts. */
  readonly certs: TestCertificates | null;
  /** A direct client on one server or sentinel port (disconnected by `stop()`; authenticated as needed). */
  nodeClient(port: number): Redis;
  /**
   * `SET key value PX ttlMs` on the master only, never replicated (`redis.set_repl(redis.REPL_NONE)` in a script):
   * the lock a client took on the master a moment before it died, which its replica never received.
   */
  setOnMasterOnly(key: string, value: string, ttlMs: number): Promise<void>;
  /** Asks every sentinel `SENTINEL get-master-addr-by-name`: the ports they name. */
  masterPorts(): Promise<number[]>;
  /**
   * SIGKILLs the master; resolves once every sentinel names the replica and it reports `role:master`. About
   * 2.3–2.5 s; but the sentinels start no new failover of a master within 2 × `failover-timeout` (6 s) of the
   * previous one, so a second failover soon after the first takes up to that long (8.4 s measured right after).
   */
  failover(): Promise<{ newMaster: SentinelNode; ms: number }>;
  /**
   * Starts the killed master again on its port and resolves once it reports a live link to the new master.
   * By default with its original settings (a master, as after a reboot): the sentinels turn it into a replica
   * (`+convert-to-slave`) only after it has reported itself master for 8 s (4 × their 2 s publish period), so
   * this takes about 10–11 s. `asReplica: true` starts it with `--replicaof <new master>` (as if its config had
   * been rewritten): under 0.1 s.
   */
  restartOld(options?: { asReplica?: boolean }): Promise<{ ms: number }>;
  /** Stops every process and removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

const SETTLE_TIMEOUT_MS = 30_000;

/**
 * Starts a master, a replica of it and three Sentinels (`redis-server <conf> --sentinel`, each with its own
 * writable config file) on free loopback ports, no persistence, and waits until every sentinel knows the
 * replica (link up) and the two other sentinels, and `SENTINEL CKQUORUM` is OK. About 2–3 s (the sentinels
 * find each other through hello messages sent every 2 s). A failover then takes about 3–5 s.
 */
export async function startTestSentinel(options: TestSentinelOptions = {}): Promise<TestSentinel> {
  const name = options.masterName ?? 'mymaster';
  const dir = mkdtempSync(join(tmpdir(), 'lockscope-rig-sentinel-'));
  const servers = new Map<number, RedisProcess>();
  const sentinelProcs: RedisProcess[] = [];
  const direct = new Map<number, Redis>();
  const clients: Redis[] = [];
  const certs = options.tls ? await makeTestCertificates(mkdirSync(join(dir, 'tls'), { recursive: true })!) : null;
  const tls = certs
    ? { tls: { ca: readFileSync(certs.caCert, 'utf8'), cert: readFileSync(certs.clientCert, 'utf8'), key: readFileSync(certs.clientKey, 'utf8') } }
    : {};
  // TLS port only; the client certificate for the links a server or sentinel opens itself (replication, monitoring).
  const tlsSettings = (port: number): [string, string][] =>
    certs
      ? [
          ['port', '0'],
          ['tls-port', String(port)],
          ['tls-cert-file', certs.serverCert],
          ['tls-key-file', certs.serverKey],
          ['tls-client-cert-file', certs.clientCert],
          ['tls-client-key-file', certs.clientKey],
          ['tls-ca-cert-file', certs.caCert],
          ['tls-auth-clients', 'yes'],
          ['tls-replication', 'yes'],
        ]
      : [];
  const serverAuth: RedisOptions = { ...(options.masterPassword ? { password: options.masterPassword } : {}), ...tls };
  const sentinelAuth: RedisOptions = { ...(options.sentinelPassword ? { password: options.sentinelPassword } : {}), ...tls };
  const url = (port: number, password?: string) => `${certs ? 'rediss' : 'redis'}://${password ? `:${encodeURIComponent(password)}@` : ''}127.0.0.1:${port}`;
  const serverNode = (port: number): SentinelNode => ({ port, url: url(port, options.masterPassword) });
  const ownDir = (sub: string) => {
    mkdirSync(join(dir, sub), { recursive: true });
    return join(dir, sub);
  };
  let masterPort = 0;
  let replicaPort = 0;
  let stopping: Promise<void> | undefined;

  const serverArgs = (port: number, notifications: string | false, replicaOf?: number) => [
    '--dir', ownDir(`redis-${port}`),
    '--notify-keyspace-events', notifications || '',
    // No 5 s wait before a replica's first (diskless) sync: it is no failover candidate until that is done.
    '--repl-diskless-sync-delay', '0',
    ...(options.masterPassword ? ['--requirepass', options.masterPassword, '--masterauth', options.masterPassword] : []),
    ...(replicaOf ? ['--replicaof', '127.0.0.1', String(replicaOf)] : []),
    ...tlsSettings(port).flatMap(([k, v]) => [`--${k}`, v]),
  ];
  const originalArgs = new Map<number, string[]>();
  const startServer = async (port: number, args: string[]) => {
    const proc = await startRedisProcess({ port, args, connection: serverAuth });
    servers.set(port, proc);
    if (!originalArgs.has(port)) originalArgs.set(port, args);
    return proc;
  };
  const nodeClient = (port: number) => {
    let c = direct.get(port);
    if (!c) {
      const proc = servers.get(port) ?? sentinelProcs.find((s) => s.port === port);
      if (!proc) throw new Error(`no server or sentinel on port ${port} in this setup`);
      direct.set(port, (c = proc.client()));
    }
    return c;
  };
  const replication = async (port: number) => nodeClient(port).info('replication');
  const waitForLink = (port: number, toMaster: number, what: string) =>
    poll(
      async () => {
        const info = await replication(port);
        return /role:slave/.test(info) && info.includes(`master_port:${toMaster}\r`) && /master_link_status:up/.test(info);
      },
      SETTLE_TIMEOUT_MS,
      () => `${what}: port ${port} did not become a replica of ${toMaster} with master_link_status:up`,
    );
  const masterPorts = () =>
    Promise.all(
      sentinelProcs.map(async (s) => Number(((await nodeClient(s.port).call('SENTINEL', 'get-master-addr-by-name', name)) as [string, string] | null)?.[1])),
    );

  const stop = () =>
    (stopping ??= (async () => {
      for (const c of [...clients, ...direct.values()]) c.disconnect();
      await Promise.all([...sentinelProcs, ...servers.values()].map((p) => p.stop()));
      rmSync(dir, { recursive: true, force: true });
    })());

  try {
    const master = await startOnSomePort(freePort, (port) => startServer(port, serverArgs(port, options.notifications ?? 'Kg$xhe')));
    masterPort = master.port;
    const replica = await startOnSomePort(freePort, (port) => startServer(port, serverArgs(port, options.replicaNotifications ?? false, masterPort)));
    replicaPort = replica.port;
    await waitForLink(replicaPort, masterPort, 'at start-up');

    const startSentinel = (port: number) => {
      const sdir = ownDir(`sentinel-${port}`);
      const conf = join(sdir, 'sentinel.conf');
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          'daemonize no',
          'logfile ""',
          `dir ${sdir}`,
          `sentinel monitor ${name} 127.0.0.1 ${masterPort} 2`,
          `sentinel down-after-milliseconds ${name} ${options.downAfterMs ?? 1000}`,
          `sentinel failover-timeout ${name} ${options.failoverTimeoutMs ?? 3000}`,
          `sentinel parallel-syncs ${name} 1`,
          ...(options.masterPassword ? [`sentinel auth-pass ${name} ${options.masterPassword}`] : []),
          ...(options.sentinelPassword ? [`requirepass ${options.sentinelPassword}`] : []),
          ...tlsSettings(port).map(([k, v]) => `${k} ${v}`),
          '',
        ].join('\n'),
      );
      return startRedisProcess({ port, configFile: conf, sentinel: true, connection: sentinelAuth });
    };
    for (let i = 0; i < 3; i++) sentinelProcs.push(await startOnSomePort(freePort, startSentinel));

    let last = '';
    await poll(
      async () => {
        const views = await Promise.all(
          sentinelProcs.map(async (s) => {
            const c = nodeClient(s.port);
            const others = ((await c.call('SENTINEL', 'sentinels', name)) as unknown[]).length;
            const replicas = ((await c.call('SENTINEL', 'replicas', name)) as string[][]).map(fields);
            const quorum = await c.call('SENTINEL', 'ckquorum', name).then(String, (e: Error) => e.message);
            return { others, replicas, quorum };
          }),
        );
        last = views.map((v, i) => `${sentinelProcs[i]!.port}: ${v.others} other sentinels, replicas ${JSON.stringify(v.replicas.map((r) => `${r.port} ${r.flags} ${r['master-link-status']}`))}, ${v.quorum}`).join('; ');
        return views.every((v) => v.others === 2 && v.quorum.startsWith('OK') && v.replicas.some((r) => Number(r.port) === replicaPort && r.flags === 'slave' && r['master-link-status'] === 'ok'));
      },
      SETTLE_TIMEOUT_MS,
      () => `the sentinels did not settle (each knowing the 2 others and the replica, CKQUORUM OK); last seen: ${last}`,
      100,
    );

    const sentinels = sentinelProcs.map((s) => ({ port: s.port, url: url(s.port, options.sentinelPassword) }));
    const clientOptions: RedisOptions = {
      sentinels: sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
      name,
      ...serverAuth,
      ...(options.sentinelPassword ? { sentinelPassword: options.sentinelPassword } : {}),
      ...(certs ? { sentinelTLS: tls.tls, enableTLSForSentinelMode: true } : {}),
    };
    const client = quietClient(clientOptions);
    clients.push(client);
    let oldMaster = 0;

    return {
      masterName: name,
      get master() {
        return serverNode(masterPort);
      },
      get replica() {
        return serverNode(replicaPort);
      },
      sentinels,
      sentinelAddresses: sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
      client,
      clientOptions,
      certs,
      nodeClient,
      async setOnMasterOnly(key, value, ttlMs) {
        await nodeClient(masterPort).eval("redis.set_repl(redis.REPL_NONE) return redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])", 1, key, value, ttlMs);
      },
      masterPorts,
      async failover() {
        if (!replicaPort) throw new Error('failover() needs a replica: restartOld() the previous master first');
        const t = performance.now();
        const [from, to] = [masterPort, replicaPort];
        await servers.get(from)!.kill();
        direct.get(from)?.disconnect();
        direct.delete(from);
        let seen: number[] = [];
        await poll(
          async () => {
            seen = await masterPorts();
            return seen.every((p) => p === to) && /role:master/.test(await replication(to));
          },
          SETTLE_TIMEOUT_MS,
          () => `after SIGKILL of master ${from}, the sentinels did not all name ${to} as the new master (they name ${seen.join(', ')})`,
          100,
        );
        masterPort = to;
        replicaPort = 0;
        oldMaster = from;
        return { newMaster: serverNode(to), ms: Math.round(performance.now() - t) };
      },
      async restartOld(opts = {}) {
        if (!oldMaster) throw new Error('restartOld() needs a failover() first');
        const t = performance.now();
        const args = originalArgs.get(oldMaster)!;
        await startServer(oldMaster, opts.asReplica ? [...args, '--replicaof', '127.0.0.1', String(masterPort)] : args);
        await waitForLink(oldMaster, masterPort, `after restarting the old master ${oldMaster}`);
        replicaPort = oldMaster;
        oldMaster = 0;
        return { ms: Math.round(performance.now() - t) };
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A `SENTINEL replicas` entry (a flat field/value list) as an object. */
function fields(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}
