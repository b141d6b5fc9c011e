import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keySlot } from '../src/targets/node/scan';
import { startTestApp, type TestApp } from './support/app';
import { startTestRedis, waitFor, type TestRedis } from './support/redis';

describe('a Redis Cluster node (one node holding every slot)', () => {
  let dir: string;
  let redis: TestRedis;
  let app: TestApp;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lockscope-cluster-'));
    redis = await startTestRedis({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf')] });
    await redis.client.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    await waitFor(async () => /cluster_state:ok/.test((await redis.client.call('CLUSTER', 'INFO')) as string), 'the cluster to be ok', 10_000);
    app = await startTestApp(redis.url);
  }, 20_000);
  afterAll(async () => {
    await app?.close();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('computes hash slots exactly as the server does (hash tags, empty tags, binary keys)', async () => {
    const keys = [
      'lock:a',
      'bull:mail:42:lock',
      '{user1000}.following',
      'foo{}{bar}',
      'foo{{bar}}zap',
      'foo{bar}{zap}',
      '{',
      '}{',
      '',
      'redisson_lock_queue:{fair:lock}',
    ].map((k) => Buffer.from(k));
    keys.push(Buffer.from([0xff, 0x00, 0x7b, 0x80, 0x7d, 0x01]), Buffer.from([0xde, 0xad, 0xbe, 0xef]));
    for (const key of keys) expect(keySlot(key), key.toString('latin1')).toBe(await redis.client.call('CLUSTER', 'KEYSLOT', key));
  });

  it('tracks locks in many hash slots (probes grouped by slot: no CROSSSLOT), their releases and expiries', async () => {
    const client = await app.connect();
    const p = redis.client.pipeline();
    for (let i = 0; i < 300; i++) p.set(`lock:cluster:${i}`, `owner-${i}`, 'PX', 60_000);
    await p.exec();
    await app.target.resync();
    await waitFor(() => [...client.locks.values()].filter((l) => l.key.text.startsWith('lock:cluster:')).length === 300, '300 locks');
    expect(new Set([...client.locks.values()].map((l) => keySlot(Buffer.from(l.key.text)))).size).toBeGreaterThan(200);
    expect(client.byKey('lock:cluster:7')).toMatchObject({ state: 'held', owner: { text: 'owner-7' } });

    // Notifications work on a cluster node too: a release and an expiry.
    await redis.client.del('lock:cluster:7');
    await waitFor(() => client.byKey('lock:cluster:7')?.state === 'released', 'release');
    await redis.client.set('lock:cluster:short', 'x', 'PX', 400);
    const deadline = (await waitFor(() => client.byKey('lock:cluster:short'), 'short lock')).deadline!;
    await waitFor(() => client.byKey('lock:cluster:short')?.state === 'expired', 'expiry', 3000);
    expect(Date.now() - deadline).toBeLessThan(250);
  });
});
