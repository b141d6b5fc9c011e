import type { Page } from '@playwright/test';
import { Redis } from 'ioredis';
import { startEmbeddedRedis, type EmbeddedRedis } from '../server/src/redis/embedded-redis';
import { startNginx, type TestNginx } from '../server/test/support/nginx';
import { expect, test } from '@playwright/test';
import { lockId } from './support/dashboard';
import { startLockscope, type RunningLockscope } from './support/lockscope';

/**
 * Three lockscope servers (the real entry point, each its own process) against one real Redis, behind nginx
 * round-robin, two browsers: the leader is killed with SIGKILL while locks keep changing.
 */
const LEASE_MS = 2000;
const STEADY = ['lock:rep:steady:1', 'lock:rep:steady:2', 'lock:rep:steady:3'];

interface Health {
  targets: { replication: { role: string; holder: string | null; term: number | null; synced: boolean } | null }[];
}
const replicationOf = async (r: RunningLockscope) => ((await (await fetch(`${r.url}/healthz`)).json()) as Health).targets[0]!.replication!;

/** Watches a page from inside: the smallest table it showed, every state each lock showed, and socket drops. */
async function watch(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { __seen: { minCount: number; states: Record<string, string[]>; disconnected: number } };
    w.__seen = { minCount: Infinity, states: {}, disconnected: 0 };
    setInterval(() => {
      const count = Number(document.querySelector('[data-testid="lock-count"]')?.textContent?.replace(/,/g, '') ?? 'NaN');
      if (!Number.isNaN(count)) w.__seen.minCount = Math.min(w.__seen.minCount, count);
      if (document.querySelector('[data-testid="redis-state"]')?.textContent === 'server unreachable') w.__seen.disconnected++;
      for (const row of document.querySelectorAll('tbody tr[data-lock-id]')) {
        const id = row.getAttribute('data-lock-id')!;
        const state = row.getAttribute('data-state')!;
        const list = (w.__seen.states[id] ??= []);
        if (list.at(-1) !== state) list.push(state);
      }
    }, 25);
  });
}
const seen = (page: Page) =>
  page.evaluate(() => (window as unknown as { __seen: { minCount: number; states: Record<string, string[]>; disconnected: number } }).__seen);

test.describe('several replicas act as one', () => {
  test.describe.configure({ timeout: 90_000 });
  let redis: EmbeddedRedis;
  let writer: Redis;
  const replicas: RunningLockscope[] = [];
  let nginx: TestNginx;
  let churn: NodeJS.Timeout | null = null;

  test.beforeAll(async () => {
    redis = await startEmbeddedRedis();
    writer = new Redis(redis.url);
    for (const k of STEADY) await writer.set(k, `owner-of-${k}`, 'PX', 30_000);
    const env = { LEASE_MS: String(LEASE_MS), LOG_LEVEL: 'info' };
    // The first one started leads (nobody held the lease); the others follow it.
    replicas.push(await startLockscope(env, { redisUrl: redis.url }));
    replicas.push(...(await Promise.all([startLockscope(env, { redisUrl: redis.url }), startLockscope(env, { redisUrl: redis.url })])));
    nginx = await startNginx({ upstreams: replicas.map((r) => new URL(r.url).host), hostHeader: '$http_host', failTimeoutSeconds: 1 });
  });

  test.afterAll(async () => {
    if (churn) clearInterval(churn);
    await nginx?.stop();
    await Promise.allSettled(replicas.map((r) => r.stop()));
    writer?.disconnect();
    await redis?.stop();
  });

  test('SIGKILL of the leader mid-stream: a follower takes over within the lease time plus a second, browsers keep their tables, nothing is shown ended that was not', async ({ browser }) => {
    const roles = await Promise.all(replicas.map(replicationOf));
    expect(roles.map((r) => r.role).sort()).toEqual(['follower', 'follower', 'leader']);
    const leader = replicas[roles.findIndex((r) => r.role === 'leader')]!;

    // Changes keep coming: steady locks renewed, short-lived ones taken and released, one that expires in the gap.
    let n = 0;
    churn = setInterval(() => {
      const p = writer.pipeline();
      for (const k of STEADY) p.pexpire(k, 30_000);
      p.set(`lock:rep:churn:${n % 5}`, `churner-${n}`, 'PX', 10_000);
      p.del(`lock:rep:churn:${(n + 3) % 5}`);
      void p.exec();
      n++;
    }, 100);

    // Two browsers through the load balancer: one lands on the leader, one on a follower (reload until so).
    const onLeader = await browser.newPage();
    const onFollower = await browser.newPage();
    const land = async (page: Page, role: string) => {
      for (let i = 0; i < 12; i++) {
        await page.goto(nginx.url);
        const shown = page.getByTestId('replica-role');
        await expect(shown).toHaveText(/leader|follower/);
        if ((await shown.textContent()) === role) return;
        // Round-robin: a page load makes the same number of requests each time (assets cached), so its socket could
        // land on the same upstream every time; one request more moves the next load's socket on by one.
        await page.request.get(`${nginx.url}/healthz`);
      }
      throw new Error(`no page landed on a ${role}`);
    };
    await land(onLeader, 'leader');
    await land(onFollower, 'follower');
    for (const page of [onLeader, onFollower]) {
      await expect(page.getByTestId('lock-count')).not.toHaveText('0');
      for (const k of STEADY) await expect(page.locator(`tr[data-lock-id="${lockId(k)}"]`)).toHaveAttribute('data-state', 'held');
    }
    // The same table on both, within a second of a change.
    await writer.set('lock:rep:same', 'owner-same', 'PX', 60_000);
    for (const page of [onLeader, onFollower]) {
      await expect(page.locator(`tr[data-lock-id="${lockId('lock:rep:same')}"]`)).toContainText('owner-same', { timeout: 1000 });
    }
    // The lease, as kubectl get lease would show it, on the follower's page.
    await onFollower.getByTestId('replica').locator('summary').click();
    const card = onFollower.getByTestId('lease-card');
    await expect(card.locator('[data-lease="holder"]')).toHaveText(roles.find((r) => r.role === 'leader')!.holder!);
    await expect(card.locator('[data-lease="term"]')).toHaveText(String(roles[0]!.term));
    await onFollower.getByTestId('replica').locator('summary').click();

    await writer.set('lock:rep:expires', 'runs-out', 'PX', 1500); // ends during the gap: truly expired
    await watch(onLeader);
    await watch(onFollower);
    const killedAt = Date.now();
    await leader.killServer();

    const survivors = replicas.filter((r) => r !== leader);
    const next = await expect
      .poll(async () => (await Promise.all(survivors.map(replicationOf))).find((r) => r.role === 'leader'), { timeout: LEASE_MS + 4000, intervals: [100] })
      .toBeTruthy()
      .then(async () => (await Promise.all(survivors.map(replicationOf))).find((r) => r.role === 'leader')!);
    // Redis granted the new term within the lease time plus a second of the kill (Redis's clock: same machine).
    const lease = (await writer.keys('lockscope:state:{default.*}:lease'))[0]!;
    const acquiredAt = Number(await writer.hget(lease, 'acquired_at'));
    expect(acquiredAt - killedAt).toBeLessThan(LEASE_MS + 1000);
    expect(next.term).toBe(roles[0]!.term! + 1);

    // The browser on the dead replica reconnects through nginx and resumes; the other never lost its connection.
    await expect(onLeader.getByTestId('redis-state')).toHaveText('ready', { timeout: 10_000 });
    await writer.set('lock:rep:after', 'owner-after', 'PX', 60_000);
    for (const page of [onLeader, onFollower]) {
      await expect(page.locator(`tr[data-lock-id="${lockId('lock:rep:after')}"]`)).toContainText('owner-after', { timeout: 3000 });
      await expect(page.locator(`tr[data-lock-id="${lockId('lock:rep:expires')}"]`)).toHaveAttribute('data-state', 'expired');
      await expect(page.getByTestId('replica-role')).toHaveText(/leader|follower/);
    }
    const follower = await seen(onFollower);
    const dead = await seen(onLeader);
    test.info().annotations.push({ type: 'takeover', description: `new term granted ${acquiredAt - killedAt} ms after SIGKILL (lease ${LEASE_MS} ms)` });
    expect(follower.disconnected).toBe(0);
    expect(follower.minCount).toBeGreaterThan(0);
    expect(dead.minCount).toBeGreaterThan(0);
    // Locks that stayed held all along were never shown released, expired or lost, on either page.
    for (const k of STEADY) {
      expect(follower.states[lockId(k)]).toEqual(['held']);
      expect(dead.states[lockId(k)] ?? ['held']).toEqual(['held']);
    }
    expect(follower.states[lockId('lock:rep:expires')]).toEqual(expect.arrayContaining(['expired']));
    expect(follower.states[lockId('lock:rep:expires')]).not.toContain('released');
  });
});
