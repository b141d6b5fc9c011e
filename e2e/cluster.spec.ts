import { Semaphore } from 'redis-semaphore';
import { startTestCluster, type ClusterNode, type TestCluster } from '../server/test/support/cluster';
import { expect, test } from './support/fixtures';
import { shots } from './support/shots';
import { startLockscope, type RunningLockscope } from './support/lockscope';

/** A key name `<prefix>:<n>` whose slot `master` serves. */
function keyOn(cluster: TestCluster, master: ClusterNode, prefix: string): string {
  for (let i = 0; ; i++) if (cluster.masterOf(`${prefix}:${i}`).id === master.id) return `${prefix}:${i}`;
}

test.describe('a Redis Cluster', () => {
  let cluster: TestCluster;
  let own: RunningLockscope;

  test.beforeAll(async () => {
    // Three masters without replicas: a killed one stays down (and its slots uncovered) for as long as the test looks.
    // Without full coverage required, the other masters go on serving their slots meanwhile (else, once the kill is
    // noticed, every node answers CLUSTERDOWN: on a loaded machine before the test's semaphore is taken).
    cluster = await startTestCluster({ replicasPerMaster: 0, args: ['--cluster-require-full-coverage', 'no'] });
    own = await startLockscope({}, { redisUrl: cluster.masters()[1]!.url });
  });
  test.afterAll(async () => {
    await own?.stop();
    await cluster?.stop();
  });

  test('locks on every master, each with its node and slot; a master killed shows down and its locks are not shown released', async ({ page, locks }) => {
    const masters = cluster.masters();
    const keys = masters.map((m, i) => keyOn(cluster, m, `lock:e2e-cluster:${['orders', 'billing', 'mail'][i]}`));
    for (const [i, key] of keys.entries()) await cluster.client.set(key, `worker-${i}@host-${i}`, 'PX', 120_000);
    const address = (m: ClusterNode) => `127.0.0.1:${m.port}`;

    await page.goto(own.url);
    const header = page.getByRole('list', { name: 'Redis nodes' });
    for (const [i, key] of keys.entries()) {
      const row = locks.row(key);
      await expect(row).toBeVisible();
      await expect(row.getByRole('cell', { name: address(masters[i]!), exact: true })).toBeVisible();
      const node = header.locator(`[data-node="${address(masters[i]!)}"]`);
      await expect(node).toContainText('ready');
      await expect(node).toContainText(`slots ${masters[i]!.slots.map(([a, b]) => `${a}-${b}`).join(', ')}`);
    }
    await expect(page.getByTestId('lock-count')).toHaveText('3');
    await expect(page.getByRole('searchbox', { name: 'Filter by key, owner or node' })).toBeVisible();

    // The details say where the lock lives.
    await locks.row(keys[0]!).getByRole('cell', { name: keys[0]!, exact: true }).click();
    const slot = Number(await cluster.client.call('CLUSTER', 'KEYSLOT', keys[0]!));
    await expect(page.getByRole('complementary', { name: 'Lock details' }).getByTestId('lock-node')).toHaveText(address(masters[0]!));
    await expect(page.getByRole('complementary', { name: 'Lock details' })).toContainText(`(hash slot ${slot})`);
    await shots(page, 'cluster-detail');
    await page.keyboard.press('Escape');
    await shots(page, 'cluster');

    // Filtering by a node's address shows its locks only.
    await page.getByRole('searchbox', { name: 'Filter by key, owner or node' }).fill(address(masters[2]!));
    await expect(locks.row(keys[2]!)).toBeVisible();
    await expect(locks.row(keys[0]!)).toHaveCount(0);
    await page.getByRole('searchbox', { name: 'Filter by key, owner or node' }).fill('');

    // One master killed: its node shows down, its lock stays as it was (nobody can say it went), the others go on.
    const victim = masters[2]!;
    await cluster.kill(victim.port);
    await expect(header.locator(`[data-node="${address(victim)}"]`)).toContainText(/reconnecting|down/);
    await expect(page.getByTestId('redis-state')).toHaveText(/^1 of 3 (reconnecting|down)$/);
    await expect(page.getByTestId('redis-kind')).toHaveText('· cluster of 3 masters');
    await cluster.nodeClient(masters[0]!.port).call('CLUSTER', 'INFO'); // the others still answer
    await expect(header.locator(`[data-node="${address(victim)}"]`)).toContainText('down', { timeout: 10_000 });
    await expect(locks.row(keys[2]!)).toHaveAttribute('data-state', 'held');

    // A semaphore taken on a master still up (redis-semaphore, straight to the master its key hashes to): one row
    // with its holders, and its node.
    const pool = keyOn(cluster, masters[1]!, 'semaphore:e2e-cluster-pool');
    const sems = [0, 1, 2].map(() => new Semaphore(cluster.nodeClient(masters[1]!.port), pool.slice('semaphore:'.length), 5, { lockTimeout: 20_000, onLockLost: () => {} }));
    try {
      for (const s of sems) await s.acquire();
      const row = locks.row(pool);
      await expect(row.getByTestId('holders-summary')).toHaveText('3 holders');
      await expect(row.getByRole('cell', { name: address(masters[1]!), exact: true })).toBeVisible();
      await shots(page, 'cluster-node-down');
    } finally {
      for (const s of sems) await s.release();
    }
  });
});
