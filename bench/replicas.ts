/**
 * Several lockscope replicas against one Redis (issue 13), each the real entry point in its own process, as a
 * platform team runs them:
 *
 * 1. Redis commands a second issued by three replicas together against those of one replica, same workload (1 000
 *    new owners a second over 2 000 locks, 10 s), counted from Redis's own `INFO commandstats` minus the writer's
 *    commands. Target: ≤ 1.1× (three independent servers would be ~3×).
 * 2. Change → browser latency on a follower against the leader at 1 000 changes/s, Socket.IO clients on each (the
 *    browser stand-ins of inspector-latency). Target: follower p99 ≤ leader p99 + 25 ms.
 * 3. Failover: SIGKILL of the leader while locks change; time until the new leader's first change reaches a
 *    browser on the surviving replica, and until that replica says it leads (lease 2 s).
 */
import { Redis } from 'ioredis';
import { startLockscope, type RunningLockscope } from '../e2e/support/lockscope';
import { io } from 'socket.io-client';
import { ClientProcesses, latencies, nextMessage } from './support/client-processes';
import { churnOwners, pipelineWriter } from './support/owner-churn';
import { waitFor } from '../server/test/support/redis';
import type { ClientsReport } from './support/latency-clients';

type Latency = ReturnType<typeof latencies>;

const RATE = 1000;
const KEYS = 2000;
const WARMUP_MS = 3000;
const MEASURE_MS = 10_000;
const CLIENTS = 25;
const LEASE_MS = 2000;
const ENV = { LEASE_MS: String(LEASE_MS), LOG_LEVEL: 'warn' };

interface Health {
  targets: { replication: { role: string; holder: string | null; term: number | null; synced: boolean } | null }[];
}
const replicationOf = async (r: RunningLockscope) => ((await (await fetch(`${r.url}/healthz`)).json()) as Health).targets[0]!.replication;
/** As /healthz says it; null while the replica does not answer. */
const roleOf = (r: RunningLockscope) => replicationOf(r).catch(() => null);

export default async function run({ redisUrl, log }: { redisUrl: string; log: (line: string) => void }): Promise<void> {
  const writer = new Redis(redisUrl);
  try {
    await commandsPerSecond(redisUrl, writer, log);
    await writer.flushall();
    await followerLatency(redisUrl, writer, log);
    await writer.flushall();
    await failover(redisUrl, writer, log);
  } finally {
    writer.disconnect();
  }
}

/** `count` replicas, the first leading and the others following it (each has its first snapshot). */
async function startReplicas(redisUrl: string, count: number): Promise<RunningLockscope[]> {
  const replicas = [await startLockscope(ENV, { redisUrl })];
  await waitFor(() => roleOf(replicas[0]!).then((r) => r?.role === 'leader'), 'the first replica to lead', 20_000);
  replicas.push(...(await Promise.all(Array.from({ length: count - 1 }, () => startLockscope(ENV, { redisUrl })))));
  for (const r of replicas.slice(1)) await waitFor(() => roleOf(r).then((x) => x?.synced), 'followers to be synced', 20_000);
  return replicas;
}

const stopAll = (replicas: RunningLockscope[]) => Promise.all(replicas.map((r) => r.stop()));

/** RATE new owners a second over KEYS keys for `ms` after a warm-up, written in one pipeline per tick. */
function churn(writer: Redis, ms: number, onMeasure: () => void = () => {}, warmupMs = WARMUP_MS): Promise<number> {
  return churnOwners(pipelineWriter(writer), { rate: RATE, keys: KEYS, warmupMs, measureMs: ms, onMeasure });
}

async function commandCalls(redis: Redis): Promise<number> {
  const stats = await redis.info('commandstats');
  let n = 0;
  for (const m of stats.matchAll(/calls=(\d+)/g)) n += Number(m[1]);
  return n;
}

async function commandsPerSecond(redisUrl: string, writer: Redis, log: (line: string) => void): Promise<void> {
  const perSecond: Record<number, number> = {};
  for (const count of [1, 3, 1, 3]) {
    await writer.flushall();
    const replicas = await startReplicas(redisUrl, count);
    try {
      let before: Promise<number> = Promise.resolve(0);
      let t0 = 0;
      const total = await churn(writer, MEASURE_MS, () => {
        before = commandCalls(writer);
        t0 = performance.now();
      });
      const after = await commandCalls(writer);
      const seconds = (performance.now() - t0) / 1000;
      // The writer's SETs while measuring (RATE a second) and the two INFO calls are not lockscope's.
      const rate = (after - (await before) - Math.round(seconds * RATE) - 2) / seconds;
      perSecond[count] = (perSecond[count] ?? 0) + rate / 2;
      log(`${count} replica(s): ${Math.round(rate).toLocaleString('en')} Redis commands/s from lockscope (${total.toLocaleString('en')} owners written)`);
    } finally {
      await stopAll(replicas);
    }
  }
  log(
    `three replicas / one: ${(perSecond[3]! / perSecond[1]!).toFixed(3)}× Redis commands a second (means ${Math.round(perSecond[3]!)} / ${Math.round(perSecond[1]!)}; target ≤ 1.1×, three independent servers ~3×)`,
  );
}

async function followerLatency(redisUrl: string, writer: Redis, log: (line: string) => void): Promise<void> {
  const results: { leader: number[]; follower: number[] } = { leader: [], follower: [] };
  for (let round = 0; round < 2; round++) {
    await writer.flushall();
    const [leader, follower] = await startReplicas(redisUrl, 2);
    const groups = [await ClientProcesses.start(leader!.url, CLIENTS, log), await ClientProcesses.start(follower!.url, CLIENTS, log)];
    try {
      for (const g of groups) {
        const { failed } = await g.connect();
        if (failed) throw new Error(`${failed} clients failed to connect`);
      }
      await churn(writer, MEASURE_MS, () => {
        for (const g of groups) for (const c of g.children) c.send('start');
      });
      await new Promise((r) => setTimeout(r, 500));
      const [l, f] = (await Promise.all(
        groups.map(async (g) =>
          latencies(
            await Promise.all(
              g.children.map((c) => {
                const report = nextMessage<ClientsReport>(c, 'report');
                c.send('report');
                return report;
              }),
            ),
          ),
        ),
      )) as [Latency, Latency];
      const line = (x: Latency) => `p50 ${x.p50.toFixed(1)} ms, p99 ${x.p99.toFixed(1)} ms, max ${x.max.toFixed(1)} ms, ${x.count.toLocaleString('en')} deliveries`;
      log(`round ${round + 1}: leader ${line(l)}; follower ${line(f)}`);
      results.leader.push(l.p99);
      results.follower.push(f.p99);
    } finally {
      for (const g of groups) g.kill();
      await stopAll([leader!, follower!]);
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const [l, f] = [mean(results.leader), mean(results.follower)];
  log(
    `${RATE.toLocaleString('en')} changes/s, ${CLIENTS} clients on each: follower p99 − leader p99 = ${(f - l).toFixed(1)} ms (means ${f.toFixed(1)} / ${l.toFixed(1)} ms; ratio ${(f / l).toFixed(2)}×; target ≤ +25 ms)`,
  );
}

async function failover(redisUrl: string, writer: Redis, log: (line: string) => void): Promise<void> {
  const times: { change: number; leads: number }[] = [];
  for (let round = 0; round < 3; round++) {
    await writer.flushall();
    const [leader, follower] = await startReplicas(redisUrl, 2);
    const socket = io(follower!.url, { transports: ['websocket'], forceNew: true });
    try {
      let killedAt = Infinity;
      let firstAfter: number | null = null;
      socket.on('lock:changes', (set: { upserts: { owner: { text: string } | null }[] }) => {
        if (firstAfter !== null) return;
        const now = performance.timeOrigin + performance.now();
        // A change written after the kill: only the new leader can have seen it.
        if (set.upserts.some((u) => Number(u.owner?.text.split(':')[1]) > killedAt)) firstAfter = now;
      });
      await new Promise<void>((resolve) => socket.once('lock:snapshot', () => resolve()));
      let leadsAt: number | null = null;
      const writing = churn(writer, 2 * LEASE_MS + 4000, () => {}, 1000);
      await new Promise((r) => setTimeout(r, 1500));
      killedAt = performance.timeOrigin + performance.now();
      await leader!.killServer();
      const poll = setInterval(() => {
        void roleOf(follower!).then((rep) => {
          if (rep?.role === 'leader' && leadsAt === null) leadsAt = performance.timeOrigin + performance.now();
        });
      }, 20);
      await writing;
      clearInterval(poll);
      if (firstAfter === null || leadsAt === null) throw new Error('the follower did not take over');
      times.push({ change: firstAfter - killedAt, leads: leadsAt - killedAt });
      log(`round ${round + 1}: SIGKILL → the survivor leads ${((leadsAt - killedAt) / 1000).toFixed(2)} s, → its first change in a browser ${((firstAfter - killedAt) / 1000).toFixed(2)} s`);
    } finally {
      socket.disconnect();
      await stopAll([leader!, follower!]);
    }
  }
  const worst = Math.max(...times.map((t) => t.change));
  log(`failover with a ${LEASE_MS / 1000} s lease: SIGKILL → first change from the new leader in a browser, worst of ${times.length}: ${(worst / 1000).toFixed(2)} s (target: within the lease plus 1 s = ${(LEASE_MS / 1000 + 1).toFixed(1)} s; ratio ${(worst / (LEASE_MS + 1000)).toFixed(2)})`);
}
