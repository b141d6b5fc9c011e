import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, type Redis, type RedisOptions } from 'ioredis';
import { keySlot } from '../../src/targets/node/scan';
import { poll } from './poll';
import { freeClusterPort, startOnSomePort } from './ports';
import { startRedisProcess, type RedisProcess } from './redis-process';
import { makeTestCertificates, type TestCertificates } from './tls';

const run = promisify(execFile);

/** One node as the cluster sees it (from `CLUSTER NODES`), plus our process for it. */
export interface ClusterNode {
  port: number;
  /** `redis://127.0.0.1:<port>` (with the password when the cluster has one). */
  url: string;
  id: string;
  role: 'master' | 'replica';
  /** The master's node id, for a replica. */
  masterId: string | null;
  /** Inclusive slot ranges served (masters). */
  slots: [number, number][];
  /** Flagged `fail` by the cluster (a killed node until it comes back). */
  failed: boolean;
}

export interface TestClusterOptions {
  /** Default 3. */
  masters?: number;
  /** Default 1 (`redis-cli --cluster create … --cluster-replicas N`). */
  replicasPerMaster?: number;
  /**
   * `cluster-node-timeout`: how long a node may be unreachable before it is flagged failing. Default 1500 ms,
   * which makes a failover take about 3 s; much lower invites false failovers when the machine is busy.
   */
  nodeTimeoutMs?: number;
  /** `notify-keyspace-events` on every node; `false` leaves notifications off. Default `Kg$xhe`. */
  notifications?: string | false;
  /**
   * `notify-keyspace-events` on the replicas only (set with `CONFIG SET` once the roles are known), e.g. `false`
   * for a replica that comes up for promotion without notifications. Default: as `notifications`.
   */
  replicaNotifications?: string | false;
  /** `requirepass` and `masterauth` on every node; the seeding client and `url`s carry it. */
  password?: string;
  /**
   * TLS only (`--port 0 --tls-port`), client certificates required, the cluster bus and replication over TLS too
   * (`tls-cluster`, `tls-replication`), with certificates from `makeTestCertificates`; `url`s are `rediss://`.
   */
  tls?: boolean;
  /** More `redis-server` arguments for every node. */
  args?: string[];
}

export interface SlotMigration {
  slot: number;
  fromPort: number;
  toPort: number;
  /** Keys moved so far. */
  moved: Buffer[];
  /** Keys still on the source. */
  remaining: Buffer[];
  /** Moves the rest, hands the slot to the target on every master, and waits until every node agrees. */
  finish(): Promise<void>;
}

/** A real Redis Cluster on loopback, and the operations tests run on it. */
export interface TestCluster {
  /** Every node as of the last start/operation/`refresh()`, masters first, ordered by their first slot. */
  readonly nodes: ClusterNode[];
  /** A cluster client for seeding and checking (ioredis `Cluster`, ready). */
  readonly client: Cluster;
  /** Nodes' temp dirs live under this one. */
  readonly dir: string;
  /** How long `redis-cli --cluster create` plus settling took, in ms. */
  readonly createMs: number;
  /** With `tls`: the certificate files, and the ioredis `tls` options (CA, client certificate and key as PEM). */
  readonly certs: TestCertificates | null;
  readonly tls: { ca: string; cert: string; key: string } | null;
  /** Reads `CLUSTER NODES` from a live node and updates `nodes`. */
  refresh(): Promise<ClusterNode[]>;
  masters(): ClusterNode[];
  replicas(): ClusterNode[];
  node(port: number): ClusterNode;
  /** The replicas of the master on `masterPort`. */
  replicasOf(masterPort: number): ClusterNode[];
  /** The master serving `key`'s slot (per `nodes`). */
  masterOf(key: string | Buffer): ClusterNode;
  /** The master serving `slot` (per `nodes`; during a migration, the source). */
  nodeForSlot(slot: number): ClusterNode;
  /** A direct connection to one node (disconnected by `stop()`). */
  nodeClient(port: number): Redis;
  /** The last lines a node logged (pass `args: ['--loglevel', 'notice']` for more than warnings). */
  logs(port: number): string;
  /**
   * SIGKILLs a node and resolves once it is dead, without waiting for anything else (a master without a replica
   * leaves its slots uncovered: `cluster_state:fail` once the others agree it failed).
   */
  kill(port: number): Promise<void>;
  /** SIGKILLs the master on `masterPort`; resolves once its replica serves its slots, every node agrees and `cluster_state` is ok. */
  failover(masterPort: number): Promise<{ newMaster: ClusterNode; ms: number }>;
  /** `CLUSTER FAILOVER` on a replica: a planned promotion without data loss; resolves once every node agrees. */
  manualFailover(replicaPort: number): Promise<{ ms: number }>;
  /** Starts a killed node again on its port with its nodes.conf; resolves once it is a connected replica of its shard's master. */
  restartNode(port: number): Promise<ClusterNode>;
  /**
   * Moves `slot` to the master on `toMasterPort` with the real steps (`SETSLOT IMPORTING`/`MIGRATING`,
   * `GETKEYSINSLOT` + `MIGRATE … KEYS`, `SETSLOT NODE` on every master). `pauseAfter: 'importing'` stops with
   * the slot open and no key moved, `'some-keys'` with about half its keys moved (needs two keys or more): a
   * client asking the source for a moved key gets `-ASK`. Without `pauseAfter` it finishes before resolving.
   */
  migrateSlot(slot: number, toMasterPort: number, options?: { pauseAfter?: 'importing' | 'some-keys' }): Promise<SlotMigration>;
  /** Starts a node and joins it with `CLUSTER MEET`: an empty master, or a replica of `replicaOf`'s master. */
  addNode(options?: { replicaOf?: number }): Promise<ClusterNode>;
  /**
   * Takes a slot-less master without replicas, or a replica, out: stops it and `CLUSTER FORGET`s it everywhere.
   * (A master emptied by `migrateSlot` has already turned itself into a replica of the node that took its last slot.)
   */
  removeNode(port: number): Promise<void>;
  /** Stops every process and removes the temp dirs. Safe to call twice. */
  stop(): Promise<void>;
}

const SETTLE_TIMEOUT_MS = 30_000;

/**
 * Starts a Redis Cluster of `masters × (1 + replicasPerMaster)` redis-server processes (3 + 3 by default) on
 * free loopback ports below 55000 (bus ports free too), each with its own dir and `nodes-<port>.conf`, no
 * persistence; runs `redis-cli --cluster create`, then waits until `cluster_state:ok` on every node and every
 * node's `CLUSTER NODES` says the same. About 2.5–4 s on a quiet 2-core machine (redis-cli alone waits ~2 s).
 * Anything started is stopped again when start-up fails.
 */
export async function startTestCluster(options: TestClusterOptions = {}): Promise<TestCluster> {
  const masters = options.masters ?? 3;
  const replicasPerMaster = options.replicasPerMaster ?? 1;
  const notifications = options.notifications ?? 'Kg$xhe';
  const dir = mkdtempSync(join(tmpdir(), 'lockscope-rig-cluster-'));
  const processes = new Map<number, RedisProcess>();
  const direct = new Map<number, Redis>();
  const certs = options.tls ? await makeTestCertificates(mkdirSync(join(dir, 'tls'), { recursive: true })!) : null;
  const tls = certs ? { ca: readFileSync(certs.caCert, 'utf8'), cert: readFileSync(certs.clientCert, 'utf8'), key: readFileSync(certs.clientKey, 'utf8') } : null;
  const auth: RedisOptions = { ...(options.password ? { password: options.password } : {}), ...(tls ? { tls } : {}) };
  let client: Cluster | undefined;
  let nodes: ClusterNode[] = [];
  let stopping: Promise<void> | undefined;

  const nodeArgs = (port: number) => [
    '--cluster-enabled', 'yes',
    '--cluster-config-file', `nodes-${port}.conf`,
    '--cluster-node-timeout', String(options.nodeTimeoutMs ?? 1500),
    '--dir', join(dir, `node-${port}`),
    // Redis 7.0 waits 5 s before a diskless full sync (to batch replicas): a replica is no failover candidate
    // until its first sync is done, so that delay would only make every start-up slower.
    '--repl-diskless-sync-delay', '0',
    '--notify-keyspace-events', notifications || '',
    ...(options.password ? ['--requirepass', options.password, '--masterauth', options.password] : []),
    ...(certs
      ? [
          '--port', '0', '--tls-port', String(port), '--tls-cluster', 'yes', '--tls-replication', 'yes', '--tls-auth-clients', 'yes',
          '--tls-cert-file', certs.serverCert, '--tls-key-file', certs.serverKey, '--tls-ca-cert-file', certs.caCert,
          '--tls-client-cert-file', certs.clientCert, '--tls-client-key-file', certs.clientKey,
        ]
      : []),
    ...(options.args ?? []),
  ];
  const launch = (port: number) => {
    mkdirSync(join(dir, `node-${port}`), { recursive: true });
    return startRedisProcess({ port, args: nodeArgs(port), connection: auth });
  };
  const startNode = async (port?: number) => {
    const proc = port ? await launch(port) : await startOnSomePort(freeClusterPort, launch);
    processes.set(proc.port, proc);
    return proc;
  };
  const nodeClient = (port: number) => {
    let c = direct.get(port);
    if (!c) {
      const proc = processes.get(port);
      if (!proc) throw new Error(`no node on port ${port} in this cluster`);
      direct.set(port, (c = proc.client()));
    }
    return c;
  };
  const live = () => [...processes.values()].filter((p) => p.alive());
  const urlOf = (port: number) => `${certs ? 'rediss' : 'redis'}://${options.password ? `:${encodeURIComponent(options.password)}@` : ''}127.0.0.1:${port}`;
  const viewOf = async (port: number) => parseClusterNodes((await nodeClient(port).call('CLUSTER', 'NODES')) as string, urlOf);
  const find = (port: number) => {
    const n = nodes.find((x) => x.port === port);
    if (!n) throw new Error(`no node on port ${port} in this cluster (nodes: ${nodes.map((x) => x.port).join(', ')})`);
    return n;
  };

  /** Every live node reports cluster_state:ok and the same topology, which `accept` approves; resolves to it. */
  const settled = async (what: string, accept: (view: ClusterNode[]) => boolean = () => true, timeoutMs = SETTLE_TIMEOUT_MS) => {
    let last = '';
    nodes = await poll(
      async () => {
        const ports = live().map((p) => p.port);
        const views = await Promise.all(ports.map(viewOf));
        const states = await Promise.all(ports.map(async (p) => /cluster_state:(\w+)/.exec((await nodeClient(p).call('CLUSTER', 'INFO')) as string)?.[1]));
        const texts = views.map((v) => JSON.stringify(v));
        last = ports.map((p, i) => `${p}: ${states[i]} ${describeView(views[i]!)}`).join('\n  ');
        const unsettled = views[0]!.some((n) => n.handshake || n.pfail);
        if (states.some((s) => s !== 'ok') || unsettled || texts.some((t) => t !== texts[0]) || !accept(views[0]!)) return undefined;
        return views[0]!.map(agreed);
      },
      timeoutMs,
      () => `the cluster did not settle (${what}: cluster_state:ok and the same CLUSTER NODES on every node); last seen:\n  ${last}\n`,
      100,
    );
    return nodes;
  };

  /** A replica has finished its first sync (only then may it be promoted). */
  const waitForLink = async (port: number, what: string) => {
    await poll(
      async () => /master_link_status:up/.test(await nodeClient(port).info('replication')),
      SETTLE_TIMEOUT_MS,
      () => `${what}: the replica on port ${port} did not report master_link_status:up`,
    );
  };

  const stop = () =>
    (stopping ??= (async () => {
      client?.disconnect();
      for (const c of direct.values()) c.disconnect();
      await Promise.all([...processes.values()].map((p) => p.stop()));
      rmSync(dir, { recursive: true, force: true });
    })());

  try {
    const total = masters * (1 + replicasPerMaster);
    // allSettled, not all: every start must have finished (and registered its process) before a failure stops them.
    const starts = await Promise.allSettled(Array.from({ length: total }, () => startNode()));
    const failed = starts.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const started = [...processes.values()];
    const t0 = performance.now();
    const cli = [
      '--cluster', 'create', ...started.map((p) => `127.0.0.1:${p.port}`),
      '--cluster-replicas', String(replicasPerMaster), '--cluster-yes',
      ...(options.password ? ['-a', options.password, '--no-auth-warning'] : []),
      ...(certs ? ['--tls', '--cacert', certs.caCert, '--cert', certs.clientCert, '--key', certs.clientKey] : []),
    ];
    await run('redis-cli', cli, { timeout: 60_000 }).catch((err: Error & { stdout?: string; stderr?: string }) => {
      throw new Error(`redis-cli --cluster create failed: ${err.message}\n${err.stdout ?? ''}${err.stderr ?? ''}`);
    });
    await settled('after redis-cli --cluster create', (v) => v.filter((n) => n.role === 'master' && n.slots.length).length === masters && v.filter((n) => n.role === 'replica').length === masters * replicasPerMaster);
    for (const r of nodes.filter((n) => n.role === 'replica')) await waitForLink(r.port, 'after redis-cli --cluster create');
    if (options.replicaNotifications !== undefined && options.replicaNotifications !== notifications) {
      for (const n of nodes.filter((x) => x.role === 'replica')) await nodeClient(n.port).config('SET', 'notify-keyspace-events', options.replicaNotifications || '');
    }
    const createMs = Math.round(performance.now() - t0);
    client = new Cluster(
      nodes.filter((n) => n.role === 'master').map((n) => ({ host: '127.0.0.1', port: n.port })),
      { redisOptions: { ...auth, maxRetriesPerRequest: 3 }, slotsRefreshTimeout: 2000 },
    );
    client.on('error', () => {});
    const seeding = client;
    await poll(async () => seeding.status === 'ready', 10_000, () => `the ioredis Cluster client did not become ready (status ${seeding.status})`);

    const refreshClient = async () => {
      await new Promise<void>((resolve) => seeding.refreshSlotsCache(() => resolve()));
    };

    const cluster: TestCluster = {
      get nodes() {
        return nodes;
      },
      client: seeding,
      dir,
      createMs,
      certs,
      tls,
      async refresh() {
        return (nodes = (await viewOf(live()[0]!.port)).map(agreed));
      },
      masters: () => nodes.filter((n) => n.role === 'master' && !n.failed),
      replicas: () => nodes.filter((n) => n.role === 'replica' && !n.failed),
      node: find,
      replicasOf: (masterPort) => nodes.filter((n) => n.masterId === find(masterPort).id && !n.failed),
      masterOf: (key) => cluster.nodeForSlot(keySlot(Buffer.isBuffer(key) ? key : Buffer.from(key))),
      nodeForSlot(slot) {
        const owner = nodes.find((n) => n.role === 'master' && !n.failed && n.slots.some(([a, b]) => slot >= a && slot <= b));
        if (!owner) throw new Error(`no master serves slot ${slot}`);
        return owner;
      },
      nodeClient,
      logs: (port) => processes.get(port)?.output() ?? '',

      async kill(port) {
        find(port);
        await processes.get(port)!.kill();
      },

      async failover(masterPort) {
        const master = find(masterPort);
        if (master.role !== 'master') throw new Error(`port ${masterPort} is not a master`);
        const heirs = cluster.replicasOf(masterPort).map((n) => n.id);
        if (!heirs.length) throw new Error(`master ${masterPort} has no replica to fail over to`);
        const t = performance.now();
        await processes.get(masterPort)!.kill();
        await settled(`after SIGKILL of master ${masterPort}`, (v) =>
          v.some((n) => n.id === master.id && n.failed) &&
          v.some((n) => heirs.includes(n.id) && n.role === 'master' && sameSlots(n.slots, master.slots)),
        );
        const ms = Math.round(performance.now() - t);
        await refreshClient();
        return { newMaster: nodes.find((n) => heirs.includes(n.id) && n.role === 'master')!, ms };
      },

      async manualFailover(replicaPort) {
        const replica = find(replicaPort);
        if (replica.role !== 'replica' || !replica.masterId) throw new Error(`port ${replicaPort} is not a replica`);
        const t = performance.now();
        await nodeClient(replicaPort).call('CLUSTER', 'FAILOVER');
        await settled(`after CLUSTER FAILOVER on ${replicaPort}`, (v) =>
          v.some((n) => n.id === replica.id && n.role === 'master') && v.some((n) => n.id === replica.masterId && n.masterId === replica.id),
        );
        const ms = Math.round(performance.now() - t);
        await refreshClient();
        return { ms };
      },

      async restartNode(port) {
        const old = find(port);
        if (processes.get(port)?.alive()) throw new Error(`node ${port} is still running`);
        direct.get(port)?.disconnect();
        direct.delete(port);
        await startNode(port);
        await settled(`after restarting ${port}`, (v) => v.some((n) => n.id === old.id && !n.failed && n.role === 'replica'));
        await waitForLink(port, `after restarting ${port}`);
        return find(port);
      },

      async migrateSlot(slot, toMasterPort, opts = {}) {
        await cluster.refresh();
        const from = cluster.nodeForSlot(slot);
        const to = find(toMasterPort);
        if (to.role !== 'master' || to.failed) throw new Error(`port ${toMasterPort} is not a live master`);
        if (from.id === to.id) throw new Error(`slot ${slot} is already on ${toMasterPort}`);
        const src = nodeClient(from.port);
        const dst = nodeClient(to.port);
        await dst.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', from.id);
        await src.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', to.id);
        const keysLeft = async () => (await src.callBuffer('CLUSTER', 'GETKEYSINSLOT', slot, 100_000)) as Buffer[];
        const move = async (keys: Buffer[]) => {
          for (let i = 0; i < keys.length; i += 100) {
            const batch = keys.slice(i, i + 100);
            const authArgs = options.password ? ['AUTH', options.password] : [];
            await src.call('MIGRATE', '127.0.0.1', to.port, '', 0, 5000, ...authArgs, 'KEYS', ...batch);
          }
        };
        const migration: SlotMigration = {
          slot,
          fromPort: from.port,
          toPort: to.port,
          moved: [],
          remaining: await keysLeft(),
          async finish() {
            const rest = await keysLeft();
            await move(rest);
            migration.moved.push(...rest);
            migration.remaining = [];
            // The target first (it stops answering ASK-only), then the source, then every other master.
            await dst.call('CLUSTER', 'SETSLOT', slot, 'NODE', to.id);
            // A master that hands over its last slot turns into a replica of the taker by itself (7.0,
            // cluster-allow-replica-migration yes), often before this call reaches it: then it refuses SETSLOT.
            const wasLast = sameSlots(from.slots, [[slot, slot]]);
            await src.call('CLUSTER', 'SETSLOT', slot, 'NODE', to.id).catch((err: Error) => {
              if (!(wasLast && /only with masters/.test(err.message))) throw err;
            });
            for (const m of cluster.masters().filter((n) => n.id !== from.id && n.id !== to.id)) {
              await nodeClient(m.port).call('CLUSTER', 'SETSLOT', slot, 'NODE', to.id);
            }
            await settled(`after migrating slot ${slot} to ${to.port}`, (v) =>
              v.some((n) => n.id === to.id && n.slots.some(([a, b]) => slot >= a && slot <= b)),
            );
          },
        };
        if (opts.pauseAfter === 'importing') return migration;
        if (opts.pauseAfter === 'some-keys') {
          if (migration.remaining.length < 2) {
            throw new Error(`slot ${slot} holds ${migration.remaining.length} key(s): pausing after some keys needs at least 2`);
          }
          const first = migration.remaining.slice(0, Math.floor(migration.remaining.length / 2));
          await move(first);
          migration.moved = first;
          migration.remaining = migration.remaining.slice(first.length);
          return migration;
        }
        await migration.finish();
        return migration;
      },

      async addNode(opts = {}) {
        const proc = await startNode();
        // A MEET from every node, not one: gossip alone would take a couple of seconds to introduce it to all.
        await Promise.all(live().filter((p) => p.port !== proc.port).map((p) => nodeClient(p.port).call('CLUSTER', 'MEET', '127.0.0.1', proc.port)));
        const id = (await nodeClient(proc.port).call('CLUSTER', 'MYID')) as string;
        await settled(`after CLUSTER MEET of ${proc.port}`, (v) => v.some((n) => n.id === id));
        if (opts.replicaOf !== undefined) {
          const master = find(opts.replicaOf);
          await nodeClient(proc.port).call('CLUSTER', 'REPLICATE', master.id);
          if (options.replicaNotifications !== undefined) await nodeClient(proc.port).config('SET', 'notify-keyspace-events', options.replicaNotifications || '');
          await settled(`after CLUSTER REPLICATE on ${proc.port}`, (v) => v.some((n) => n.id === id && n.masterId === master.id));
          await waitForLink(proc.port, `after adding ${proc.port}`);
        }
        return find(proc.port);
      },

      async removeNode(port) {
        const node = find(port);
        if (node.slots.length) throw new Error(`node ${port} still serves slots ${JSON.stringify(node.slots)}: migrate them away first`);
        if (nodes.some((n) => n.masterId === node.id && !n.failed)) throw new Error(`node ${port} still has replicas`);
        await processes.get(port)?.stop();
        direct.get(port)?.disconnect();
        direct.delete(port);
        processes.delete(port);
        // FORGET also bans the id for 60 s on each node, so gossip from the others cannot bring it back meanwhile.
        for (const p of live()) await nodeClient(p.port).call('CLUSTER', 'FORGET', node.id);
        await settled(`after CLUSTER FORGET of ${port}`, (v) => !v.some((n) => n.id === node.id));
      },

      stop,
    };
    return cluster;
  } catch (err) {
    await stop();
    throw err;
  }
}

interface ParsedNode extends ClusterNode {
  handshake: boolean;
  pfail: boolean;
}

/**
 * Parses `CLUSTER NODES` into what every node should agree on (id, address, role, master, slots, failed), in a
 * stable order. Importing/migrating markers (`[slot->-id]`) are a node's own business and left out.
 */
export function parseClusterNodes(text: string, urlOf: (port: number) => string): ParsedNode[] {
  const parsed = text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line): ParsedNode => {
      const [id = '', addr = '', flags = '', master = '-', , , , , ...slotFields] = line.trim().split(' ');
      const port = Number(/:(\d+)@/.exec(addr)?.[1] ?? 0);
      const flagSet = new Set(flags.split(','));
      const slots = slotFields
        .filter((s) => !s.startsWith('['))
        .map((s): [number, number] => {
          const [a, b = a] = s.split('-').map(Number) as [number, number?];
          return [a, b];
        })
        .sort((x, y) => x[0] - y[0]);
      return {
        port,
        url: urlOf(port),
        id,
        role: flagSet.has('slave') ? 'replica' : 'master',
        masterId: master === '-' ? null : master,
        slots,
        failed: flagSet.has('fail'),
        handshake: flagSet.has('handshake') || flagSet.has('noaddr'),
        pfail: flagSet.has('fail?'),
      };
    });
  const firstSlot = (n: ClusterNode) => n.slots[0]?.[0] ?? Infinity;
  return parsed.sort((a, b) => (a.role === b.role ? firstSlot(a) - firstSlot(b) || a.port - b.port : a.role === 'master' ? -1 : 1));
}

/** A node as settled views agree on it (without the transient flags). */
function agreed({ handshake: _h, pfail: _p, ...node }: ParsedNode): ClusterNode {
  return node;
}

function describeView(view: ParsedNode[]): string {
  return view
    .map((n) => `${n.port}:${n.role}${n.failed ? ':fail' : n.pfail ? ':fail?' : ''}${n.handshake ? ':handshake' : ''}${n.slots.length ? `[${n.slots.map(([a, b]) => (a === b ? a : `${a}-${b}`)).join(',')}]` : ''}`)
    .join(' ');
}

function sameSlots(a: [number, number][], b: [number, number][]): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
