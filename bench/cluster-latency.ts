/**
 * Change → browser latency on a Redis Cluster of 3 masters against the same on one server, measured in the same
 * run (inspector-latency's set-up: the real app, 100 Socket.IO clients in child processes, 1 000 new owners a
 * second over 2 000 locks). On the cluster the locks spread over all masters by slot, each master's own keyspace
 * notifications feed its node watcher, and the writer sends each master its share over a connection of its own.
 * Runs alternate (server, cluster, server, cluster): this machine is shared.
 * Target (issue 12): cluster p99 within 1.2× the single server's.
 */
import { Redis } from 'ioredis';
import { keySlot } from '../server/src/targets/node/scan';
import { pipelineWriter } from './support/owner-churn';
import { startTestCluster } from '../server/test/support/cluster';
import { KEYS, measureChangeLatency, raisePriority, RATE, type LatencyReport, type OwnerWriter } from './inspector-latency';

const ROUNDS = 2;
const CLIENTS = 100;

export default async function run({ redisUrl, log }: { redisUrl: string; log: (line: string) => void }): Promise<void> {
  const single = new Redis(redisUrl);
  const cluster = await startTestCluster({ replicasPerMaster: 0, notifications: 'Kg$xhe' });
  try {
    const singlePid = await raisePriority(single, log);
    const masters = cluster.masters();
    const masterPids: number[] = [];
    for (const m of masters) masterPids.push(await raisePriority(cluster.nodeClient(m.port), () => {}));
    const writeSingle = pipelineWriter(single);
    // Each key to the master serving its slot, one pipeline per master.
    const owner = new Array<Redis>(16384);
    for (const m of masters) for (const [a, b] of m.slots) for (let s = a; s <= b; s++) owner[s] = cluster.nodeClient(m.port);
    const writeCluster: OwnerWriter = (owners) => {
      const pipes = new Map<Redis, ReturnType<Redis['pipeline']>>();
      for (const [key, value] of owners) {
        const node = owner[keySlot(Buffer.from(key))]!;
        let pipe = pipes.get(node);
        if (!pipe) pipes.set(node, (pipe = node.pipeline()));
        pipe.set(key, value, 'PX', 60_000);
      }
      for (const pipe of pipes.values()) void pipe.exec();
    };

    const reports: { single: LatencyReport[]; cluster: LatencyReport[] } = { single: [], cluster: [] };
    const line = (r: LatencyReport) =>
      `p50 ${r.p50.toFixed(1)} ms, p90 ${r.p90.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, max ${r.max.toFixed(1)} ms; ${((r.count / r.expected) * 100).toFixed(1)}% delivered, ${r.resnapshots} re-snapshots, event loop ${(r.elu * 100).toFixed(0)}% busy, redis-server CPU ${r.cpu.redis.toFixed(2)} cores`;
    for (let r = 0; r < ROUNDS; r++) {
      const s = await measureChangeLatency(redisUrl, writeSingle, { clients: CLIENTS, redisPids: [singlePid] }, log);
      log(`one server, round ${r + 1}: ${line(s)}`);
      reports.single.push(s);
      const c = await measureChangeLatency(masters[0]!.url, writeCluster, { clients: CLIENTS, redisPids: masterPids }, log);
      log(`cluster of ${masters.length} masters, round ${r + 1}: ${line(c)}`);
      reports.cluster.push(c);
    }
    const mean = (rs: LatencyReport[], k: 'p50' | 'p99') => rs.reduce((n, x) => n + x[k], 0) / rs.length;
    log(`${RATE.toLocaleString('en')} changes/s for 10 s over ${KEYS.toLocaleString('en')} locks, ${CLIENTS} clients, ${ROUNDS} rounds each`);
    log(
      `p99 cluster / one server: ${(mean(reports.cluster, 'p99') / mean(reports.single, 'p99')).toFixed(3)}× (means ${mean(reports.cluster, 'p99').toFixed(1)} / ${mean(reports.single, 'p99').toFixed(1)} ms; target ≤ 1.2×); p50 ${(mean(reports.cluster, 'p50') / mean(reports.single, 'p50')).toFixed(3)}×`,
    );
  } finally {
    single.disconnect();
    await cluster.stop();
  }
}
