import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TargetStatus } from '../../shared/status';
import { startTestApp, type TestApp } from './support/app';
import { aclPresets } from './support/acl';
import { waitFor } from './support/redis';
import { startTestSentinel, type TestSentinel } from './support/sentinel';

const TOKEN = 'b1c2d3e4f5a60718293a4b5c6d7e8f90';

/** Seconds since `t0`, for the timings printed at the end. */
const timings: Record<string, number> = {};
const since = (t0: number) => Math.round(performance.now() - t0);

async function get(app: TestApp, path: string): Promise<string> {
  return (await fetch(`${app.url}${path}`)).text();
}

const statusOf = (app: TestApp): TargetStatus => app.target.status();

afterAll(() => console.log(`sentinel.test timings (ms): ${JSON.stringify(timings)}`));

describe('Sentinel: lockscope follows the master the sentinels name, across a failover', () => {
  let group: TestSentinel;

  beforeAll(async () => {
    const t0 = performance.now();
    group = await startTestSentinel();
    timings['sentinel start'] = since(t0);
  });
  afterAll(async () => {
    await group?.stop();
  });

  it('a failover: the table follows the new master, its locks continue, one written only to the old master ends lost, the header says so', async () => {
    const oldMaster = group.master;
    const heir = group.replica;
    const master = group.nodeClient(oldMaster.port);
    await master.set('lock:sentinel:kept', TOKEN, 'PX', 60_000);
    await master.call('WAIT', 1, 2000);
    const app = await startTestApp('', { REDIS_SENTINELS: group.sentinelAddresses, REDIS_SENTINEL_MASTER: group.masterName }, { configureNotifications: true });
    try {
      const client = await app.connect();
      await waitFor(() => client.byKey('lock:sentinel:kept'), 'the lock on the master the sentinels name');
      const before = statusOf(app);
      expect(before).toMatchObject({ kind: 'sentinel', health: 'ok', url: `redis+sentinel://${group.sentinelAddresses}/mymaster` });
      expect(before.nodes[0]).toMatchObject({ id: 'mymaster', address: `127.0.0.1:${oldMaster.port}`, feed: 'notifications', restartSignal: 'run-id' });
      await waitFor(() => statusOf(app).sentinel?.sentinels.every((s) => s.listening), 'every sentinel to be listened to');
      expect(statusOf(app).sentinel).toMatchObject({ masterName: 'mymaster', failovers: 0, lastFailover: null });

      // Written to the old master and never replicated: the heir will not have it.
      await group.setOnMasterOnly('lock:sentinel:unreplicated', 'owner-x', 60_000);
      await waitFor(() => client.byKey('lock:sentinel:unreplicated'), 'the unreplicated lock, by notification', 2000);

      const t0 = performance.now();
      const { ms } = await group.failover();
      timings['failover (rig)'] = ms;
      await waitFor(() => statusOf(app).nodes[0]?.address === `127.0.0.1:${heir.port}` && statusOf(app).nodes[0]?.connection === 'ready', 'lockscope on the new master', 15_000);
      await waitFor(() => client.byKey('lock:sentinel:unreplicated')?.state === 'lost', 'the unreplicated lock to end lost', 10_000);
      timings['SIGKILL to lost shown'] = since(t0);
      await waitFor(() => statusOf(app).lastRestart?.lost === 1, 'the failover to be counted');
      const after = statusOf(app);
      expect(after.lastRestart).toMatchObject({ node: `127.0.0.1:${heir.port}`, from: `127.0.0.1:${oldMaster.port}`, lost: 1 });
      expect(after.sentinel).toMatchObject({ failovers: 1, lastFailover: { from: `127.0.0.1:${oldMaster.port}`, to: `127.0.0.1:${heir.port}` } });
      expect(client.byKey('lock:sentinel:kept')).toMatchObject({ state: 'held', endedAt: null });

      // The heir had no notifications; lockscope may configure them (--configure-notifications) and did.
      await waitFor(() => statusOf(app).nodes[0]?.feed === 'notifications', 'notifications on the new master');
      expect(((await group.nodeClient(heir.port).config('GET', 'notify-keyspace-events')) as string[])[1]).toMatch(/K/);
      const t1 = Date.now();
      await group.client.set('lock:sentinel:after', TOKEN, 'PX', 60_000);
      await waitFor(() => client.byKey('lock:sentinel:after'), 'a lock taken on the new master', 2000);
      expect(Date.now() - t1).toBeLessThan(1000);
      const metrics = await get(app, '/metrics');
      expect(metrics).toMatch(/lockscope_locks_lost_total\{target="default",library="generic"\} 1/);
      expect(metrics).toContain(`lockscope_redis_up{target="default",node="127.0.0.1:${heir.port}"} 1`);
      expect(metrics).toContain('lockscope_sentinel_failovers_total{target="default"} 1');
      for (const s of group.sentinels) expect(metrics).toContain(`lockscope_sentinel_up{target="default",sentinel="127.0.0.1:${s.port}"} 1`);
    } finally {
      await app.close();
    }
  });
});

describe('Sentinel: a master that hangs rather than dies', () => {
  let group: TestSentinel;

  beforeAll(async () => {
    group = await startTestSentinel();
  });
  afterAll(async () => {
    await group?.stop();
  });

  it('+switch-master moves lockscope off a frozen master (its connection never closes) to the one the sentinels promoted', async () => {
    const oldMaster = group.master;
    const heir = group.replica;
    const pid = Number(/process_id:(\d+)/.exec(await group.nodeClient(oldMaster.port).info('server'))![1]);
    await group.nodeClient(oldMaster.port).set('lock:frozen:kept', TOKEN, 'PX', 60_000);
    await group.nodeClient(oldMaster.port).call('WAIT', 1, 2000);
    const app = await startTestApp(`redis+sentinel://${group.sentinelAddresses}/mymaster`, {}, { configureNotifications: true });
    try {
      const client = await app.connect();
      await waitFor(() => client.byKey('lock:frozen:kept'), 'the lock');
      // Frozen, as a paused VM or container: the kernel keeps its sockets open, so no connection to it ever closes.
      const t0 = performance.now();
      process.kill(pid, 'SIGSTOP');
      try {
        await waitFor(async () => (await group.masterPorts()).every((p) => p === heir.port), 'the sentinels to promote the replica', 15_000);
        await waitFor(() => statusOf(app).nodes[0]?.address === `127.0.0.1:${heir.port}` && statusOf(app).lastRestart?.lost === 0, 'lockscope on the promoted replica, the old master still frozen', 10_000);
        timings['SIGSTOP to lockscope on the new master'] = since(t0);
        expect(statusOf(app).lastRestart).toMatchObject({ from: `127.0.0.1:${oldMaster.port}` });
        // (The rig's own Sentinel client, without a failover detector, is still stuck on the frozen master.)
        await group.nodeClient(heir.port).set('lock:frozen:after', TOKEN, 'PX', 60_000);
        await waitFor(() => client.byKey('lock:frozen:after'), 'a lock on the new master', 3000);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
    } finally {
      await app.close();
    }
  });
});

describe('Sentinel with passwords, and a master user without INFO or CONFIG', () => {
  const MASTER_SECRET = 'm4ster-S3cret';
  const SENTINEL_SECRET = 's3ntinel-S3cret';
  const USER_SECRET = 'u5er-S3cret';
  let group: TestSentinel;

  beforeAll(async () => {
    group = await startTestSentinel({ masterPassword: MASTER_SECRET, sentinelPassword: SENTINEL_SECRET });
    // ACL users are not replicated: the user must exist on every server that may become master.
    for (const port of [group.master.port, group.replica.port]) {
      await group.nodeClient(port).call('ACL', 'SETUSER', 'app', 'reset', 'on', `>${USER_SECRET}`, ...aclPresets.managedLike);
    }
  });
  afterAll(async () => {
    await group?.stop();
  });

  it('finds the master with the sentinels\' password, tells the failover by the address alone, polls the new master, and prints no password', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) }));
    const hosts = group.sentinels.map((s) => `127.0.0.1:${s.port}`).join(',');
    const oldMaster = group.master;
    const heir = group.replica;
    const master = group.nodeClient(oldMaster.port);
    await master.set('lock:pw:kept', TOKEN, 'PX', 60_000);
    await master.call('WAIT', 1, 2000);
    const app = await startTestApp(
      `grp=redis+sentinel://app:${USER_SECRET}@${hosts}/mymaster`,
      { REDIS_SENTINEL_PASSWORD: SENTINEL_SECRET, POLL_MS: '200' },
      { configureNotifications: false, logger },
    );
    try {
      const client = await app.connect();
      await waitFor(() => client.byKey('lock:pw:kept'), 'the lock, through password-protected sentinels');
      const node = statusOf(app).nodes[0]!;
      // `+@all -@dangerous`: no INFO (no run_id), no CONFIG; the marker key is replicated, so only the address tells.
      expect(node.missing.map((m) => m.capability).sort()).toEqual(['config', 'info']);
      expect(node).toMatchObject({ restartSignal: 'marker', feed: 'notifications', feedSource: 'proven' });
      await group.setOnMasterOnly('lock:pw:unreplicated', 'owner-y', 60_000);
      await waitFor(() => client.byKey('lock:pw:unreplicated'), 'the unreplicated lock');

      await group.failover();
      await waitFor(() => client.byKey('lock:pw:unreplicated')?.state === 'lost', 'the unreplicated lock to end lost (told by the address)', 15_000);
      await waitFor(() => statusOf(app).lastRestart?.lost === 1, 'the failover to be counted');
      const after = statusOf(app);
      expect(after.lastRestart).toMatchObject({ node: `127.0.0.1:${heir.port}`, from: `127.0.0.1:${oldMaster.port}`, lost: 1 });
      expect(client.byKey('lock:pw:kept')).toMatchObject({ state: 'held' });
      // The heir has no notifications and lockscope may not configure them: it polls, and says so.
      await waitFor(() => statusOf(app).nodes[0]?.feed === 'polling', 'polling on the new master');
      await group.client.set('lock:pw:after', TOKEN, 'PX', 60_000);
      await waitFor(() => client.byKey('lock:pw:after'), 'a lock on the new master, by polling', 3000);

      const seen = [JSON.stringify(statusOf(app)), await get(app, '/healthz'), await get(app, '/metrics'), lines.join('')].join('\n');
      expect(seen).toContain('redis+sentinel://app:***@');
      for (const secret of [MASTER_SECRET, SENTINEL_SECRET, USER_SECRET]) expect(seen).not.toContain(secret);
    } finally {
      await app.close();
    }
  });

  it('a wrong sentinel password, or a master name the sentinels do not know: the target is down and says why, without the password', async () => {
    const app = await startTestApp(
      `wrongpw=redis+sentinel://${group.sentinelAddresses}/mymaster?sentinelPassword=not-${SENTINEL_SECRET},wrongname=redis+sentinel://${group.sentinelAddresses}/mymastr`,
      { REDIS_SENTINEL_PASSWORD: SENTINEL_SECRET },
      { configureNotifications: false },
    );
    try {
      const [wrongPw, wrongName] = app.app.targets.list;
      await waitFor(() => wrongPw!.status().health === 'down' && wrongName!.status().problem?.includes('monitor no master named "mymastr"'), 'both targets to say what is wrong', 10_000);
      expect(wrongPw!.status().problem).toMatch(/WRONGPASS|invalid username-password/);
      expect(JSON.stringify(wrongPw!.status())).not.toContain(SENTINEL_SECRET);
    } finally {
      await app.close();
    }
  });
});

describe('Sentinel over TLS: sentinels, master and replica on TLS ports only, client certificates required', () => {
  let group: TestSentinel;

  beforeAll(async () => {
    const t0 = performance.now();
    group = await startTestSentinel({ tls: true });
    timings['TLS sentinel start'] = since(t0);
  });
  afterAll(async () => {
    await group?.stop();
  });

  it('rediss+sentinel:// with the TLS files: asks the sentinels over TLS, watches the master over TLS, follows a failover', async () => {
    const certs = group.certs!;
    const heir = group.replica;
    await group.client.set('lock:tls-sentinel:a', TOKEN, 'PX', 60_000);
    await group.nodeClient(group.master.port).call('WAIT', 1, 2000);
    const app = await startTestApp(
      `rediss+sentinel://${group.sentinelAddresses}/mymaster`,
      { REDIS_TLS_CA_FILE: certs.caCert, REDIS_TLS_CERT_FILE: certs.clientCert, REDIS_TLS_KEY_FILE: certs.clientKey },
      { configureNotifications: true },
    );
    try {
      const client = await app.connect();
      await waitFor(() => client.byKey('lock:tls-sentinel:a'), 'the lock, over TLS');
      await waitFor(() => statusOf(app).sentinel?.sentinels.every((s) => s.listening), 'every sentinel listened to, over TLS');
      await group.failover();
      await waitFor(() => statusOf(app).nodes[0]?.address === `127.0.0.1:${heir.port}` && statusOf(app).lastRestart?.lost === 0, 'the failover followed', 15_000);
      expect(statusOf(app).sentinel?.lastFailover).toMatchObject({ to: `127.0.0.1:${heir.port}` });
      expect(client.byKey('lock:tls-sentinel:a')).toMatchObject({ state: 'held' });
    } finally {
      await app.close();
    }
  });
});
