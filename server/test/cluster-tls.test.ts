import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReleaseResponse } from '../../shared/admin';
import { createLockscope } from '../src/index';
import { api, data } from './support/admin-http';
import { startTestApp } from './support/app';
import { startTestCluster, type ClusterNode, type TestCluster } from './support/cluster';
import { waitFor } from './support/redis';

const root = fileURLToPath(new URL('../..', import.meta.url));
const ADMIN_TOKEN = 'cluster-tls-admin-token-0123456789';
const PASSWORD = 'cluster-acl-pw-Secret';
const USER = 'lockscope-admin';

/**
 * The README's admin ACL rule with what it says a Redis Cluster needs besides (`ACL SETUSER lockscope-admin on
 * >PASSWORD …`, then "On a Redis Cluster, add `…`"): what is tested is what users copy.
 */
function readmeClusterRule(): string[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const rule = new RegExp(`^ACL SETUSER ${USER} on >PASSWORD (.+)$`, 'm').exec(readme)?.[1];
  const extra = /On a Redis Cluster, add `([^`]+)` to either rule/.exec(readme)?.[1];
  if (!rule || !extra) throw new Error('README.md lacks the admin ACL rule or what a Redis Cluster adds to it');
  return [...rule.trim().split(/\s+/), ...extra.trim().split(/\s+/)];
}

/** A key name `<prefix>:<n>` whose slot `master` serves. */
function keyOn(cluster: TestCluster, master: ClusterNode, prefix: string): string {
  for (let i = 0; ; i++) if (cluster.masterOf(`${prefix}:${i}`).id === master.id) return `${prefix}:${i}`;
}

const addressOf = (n: ClusterNode) => `127.0.0.1:${n.port}`;

/**
 * A Redis Cluster that speaks TLS only and wants client certificates, watched as the README's admin user: the TLS
 * material and the credentials must reach every connection lockscope opens — the seed's, each master's own pair,
 * and the ioredis Cluster that admin actions go through. One cluster (3 masters, no replicas) for the file.
 */
describe('a Redis Cluster over TLS with client certificates, as an ACL user', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startTestCluster({ replicasPerMaster: 0, tls: true });
    // ACL users are each node's own: a cluster does not share them.
    for (const n of cluster.nodes) await cluster.nodeClient(n.port).call('ACL', 'SETUSER', USER, 'on', `>${PASSWORD}`, ...readmeClusterRule());
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  }, 30_000);

  it('a rediss:// URL of one node and the TLS files: every master followed over TLS, admin and its wake-ups through the cluster client', async () => {
    const masters = cluster.masters();
    const keys = masters.map((m) => keyOn(cluster, m, 'lock:tls-cluster'));
    for (const key of keys) await cluster.client.set(key, `owner-${key}`, 'PX', 60_000);
    const app = await startTestApp(
      '',
      {
        REDIS_URL: `rediss://${USER}:${PASSWORD}@127.0.0.1:${masters[1]!.port}`,
        REDIS_TLS_CA_FILE: cluster.certs!.caCert,
        REDIS_TLS_CERT_FILE: cluster.certs!.clientCert,
        REDIS_TLS_KEY_FILE: cluster.certs!.clientKey,
        ADMIN_TOKEN,
      },
      { configureNotifications: false },
    );
    const shardWaiter = cluster.nodeClient(masters[0]!.port).duplicate();
    try {
      const status = app.target.status();
      expect(status).toMatchObject({ kind: 'cluster', health: 'ok', locks: 3 });
      expect(status.nodes.map((n) => n.address).sort()).toEqual(masters.map(addressOf).sort());
      for (const n of status.nodes) expect(n).toMatchObject({ connection: 'ready', missing: [], feed: 'notifications', synced: true });
      for (const [i, key] of keys.entries()) {
        expect(app.tracker.get(Buffer.from(key).toString('base64'))).toMatchObject({ state: 'held', node: addressOf(masters[i]!) });
      }

      const release = (body: object) => api<ReleaseResponse>(app.url, '/api/locks/release', { json: body, token: ADMIN_TOKEN });
      for (const key of keys) {
        expect(data(await release({ key, expectedOwner: `owner-${key}`, reason: 'tls cluster' }))).toMatchObject({ result: 'released' });
        expect(await cluster.client.exists(key)).toBe(0);
      }
      // A Redisson lock: its waiter listens on the sharded channel, which the admin rule lets lockscope SPUBLISH to.
      const redisson = keyOn(cluster, masters[0]!, 'lock:tls-redisson');
      const channel = `redisson_lock__channel:{${redisson}}`;
      const woken: string[] = [];
      shardWaiter.on('smessage', (ch: string) => woken.push(ch));
      await shardWaiter.ssubscribe(channel);
      const field = `${randomUUID()}:9`;
      await cluster.client.hset(redisson, field, '1');
      await cluster.client.pexpire(redisson, 30_000);
      await waitFor(() => app.tracker.get(Buffer.from(redisson).toString('base64')), 'the Redisson lock');
      expect(data(await release({ key: redisson, expectedOwner: field, reason: 'tls cluster' }))).toMatchObject({ result: 'released', woke: 'redisson-channel' });
      await waitFor(() => woken.includes(channel), 'the Redisson waiter to be woken');
    } finally {
      shardWaiter.disconnect();
      await app.close();
    }
  });

  it("an embedding application's own ioredis connection to one node: lockscope follows the whole cluster over connections like it, never using the application's", async () => {
    const masters = cluster.masters();
    const key = keyOn(cluster, masters[2]!, 'lock:tls-embedded');
    await cluster.client.set(key, 'embedded-owner', 'PX', 60_000);
    const host = new Redis({ host: '127.0.0.1', port: masters[0]!.port, username: USER, password: PASSWORD, tls: cluster.tls!, connectionName: 'host-app' });
    const ls = await createLockscope({ redis: host, clientDir: null, logger: pino({ level: 'silent' }) });
    try {
      await waitFor(() => ls.status().targets[0]?.locks === 1 && ls.status().targets[0]!.nodes.length === 3 && ls.status().targets[0], 'the whole cluster');
      const target = ls.status().targets[0]!;
      expect(target).toMatchObject({ kind: 'cluster', health: 'ok', url: `127.0.0.1:${masters[0]!.port}` });
      for (const n of target.nodes) expect(n).toMatchObject({ connection: 'ready', feed: 'notifications' });
      expect(target.nodes.map((n) => n.address).sort()).toEqual(masters.map(addressOf).sort());
    } finally {
      await ls.close();
    }
    // The application's connection: still a plain command connection with its own name, not closed.
    expect(await host.client('GETNAME')).toBe('host-app');
    expect(await host.ping()).toBe('PONG');
    host.disconnect();
  });
});
