import { register as globalRegistry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app';
import { startTestRedis, waitFor, type TestRedis } from './support/redis';

const TOKEN = 'c1e2c3d4e5f60718293a4b5c6d7e8f92';

/** `name{labels} value` lines of the Prometheus text format → a lookup by the line's left-hand side. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    out.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return out;
}

describe('GET /metrics (Prometheus, real app, real Redis)', () => {
  let redis: TestRedis;
  let app: TestApp;
  const scrape = async () => {
    const res = await fetch(`${app.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return parse(await res.text());
  };

  beforeAll(async () => {
    redis = await startTestRedis();
    await redis.client.set('lock:m:stuck', 'crashed-worker');
    app = await startTestApp(redis.url);
  });
  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it('counts locks by library and state, stuck locks, oldest age, feed mode and scans', async () => {
    await redis.client.set('lock:m:held', TOKEN, 'PX', 60_000);
    await waitFor(() => app.tracker.size >= 2, 'locks tracked');
    await new Promise((r) => setTimeout(r, 20));
    const m = await scrape();
    const node = `node="${new URL(redis.url).host}"`;
    expect(m.get('lockscope_locks{target="default",library="redlock",state="held"}')).toBe(1);
    expect(m.get('lockscope_locks{target="default",library="generic",state="no-ttl"}')).toBe(1);
    expect(m.get('lockscope_stuck_locks{target="default"}')).toBe(1);
    expect(m.get('lockscope_oldest_lock_age_seconds{target="default"}')).toBeGreaterThan(0);
    expect(m.get(`lockscope_change_feed_mode{target="default",${node},mode="notifications"}`)).toBe(1);
    expect(m.get(`lockscope_change_feed_mode{target="default",${node},mode="polling"}`)).toBe(0);
    expect(m.get(`lockscope_scan_duration_seconds_count{target="default",${node}}`)).toBeGreaterThanOrEqual(1);
    expect(m.get(`lockscope_scan_keys{target="default",${node}}`)).toBeGreaterThanOrEqual(1);
    // What lockscope can see: connected, nothing missing, not blind, restarts told by run_id.
    expect(m.get(`lockscope_redis_up{target="default",${node}}`)).toBe(1);
    expect(m.get('lockscope_blind{target="default"}')).toBe(0);
    expect(m.get(`lockscope_capability_missing{target="default",${node},capability="scan"}`)).toBe(0);
    expect(m.get(`lockscope_restart_signal{target="default",${node},signal="run-id"}`)).toBe(1);
  });

  it('counts renewals, releases, expiries and force-releases as they happen', async () => {
    const before = await scrape();
    const at = (m: Map<string, number>, name: string, library: string) => m.get(`${name}{target="default",library="${library}"}`) ?? 0;
    await redis.client.set('lock:m:r', TOKEN, 'PX', 2_000);
    const client = await app.connect();
    await waitFor(() => client.byKey('lock:m:r'), 'lock');
    await redis.client.pexpire('lock:m:r', 5_000);
    await waitFor(() => client.byKey('lock:m:r')?.renewals === 1, 'renewal');
    await redis.client.del('lock:m:r');
    await redis.client.set('lock:m:e', TOKEN, 'PX', 200);
    await waitFor(() => client.byKey('lock:m:r')?.state === 'released' && client.byKey('lock:m:e')?.state === 'expired', 'end of both');
    await redis.client.set('lock:m:f', TOKEN, 'PX', 20_000);
    const f = await waitFor(() => client.byKey('lock:m:f'), 'lock to force-release');
    await redis.client.del('lock:m:f');
    app.tracker.note(f.id, 'force-released', -2);
    await waitFor(() => client.byKey('lock:m:f')?.state === 'released', 'force-release');

    const after = await scrape();
    expect(at(after, 'lockscope_lock_renewals_total', 'redlock') - at(before, 'lockscope_lock_renewals_total', 'redlock')).toBe(1);
    // lock:m:r and lock:m:f, whichever of the probe and the admin's note saw lock:m:f go first.
    expect(at(after, 'lockscope_lock_releases_total', 'redlock') - at(before, 'lockscope_lock_releases_total', 'redlock')).toBe(2);
    expect(at(after, 'lockscope_lock_expiries_total', 'redlock') - at(before, 'lockscope_lock_expiries_total', 'redlock')).toBe(1);
    expect(at(after, 'lockscope_lock_force_releases_total', 'redlock')).toBe(1);
    expect(at(after, 'lockscope_lock_acquisitions_total', 'redlock') - at(before, 'lockscope_lock_acquisitions_total', 'redlock')).toBe(3);
  });

  it('keeps a registry per app: a second app in the same process works, the global registry stays empty', async () => {
    const other = await startTestApp(redis.url);
    try {
      const res = await fetch(`${other.url}/metrics`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('lockscope_locks');
      expect(other.app.metrics.registry).not.toBe(app.app.metrics.registry);
      expect(globalRegistry.getMetricsAsArray()).toHaveLength(0);
    } finally {
      await other.close();
    }
  });
});
