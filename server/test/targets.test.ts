import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReleaseResponse } from '../../shared/admin';
import type { LockSnapshot } from '../../shared/locks';
import type { ServerStatus } from '../../shared/status';
import { freePort } from '../src/redis/embedded-redis';
import { api, auditEntries, b64, data } from './support/admin-http';
import { LiveClient, startTestApp, type TestApp } from './support/app';
import { startTestRedis, waitFor, type TestRedis } from './support/redis';

const TOKEN = 'e5f2c3d4e5f60718293a4b5c6d7e8f94';
const ADMIN = 'targets-test-admin-token-0123456789';

describe('several targets in one lockscope: each on its own, one down disturbs none', () => {
  let prod: TestRedis;
  let staging: TestRedis;
  let deadPort: number;
  let app: TestApp;

  beforeAll(async () => {
    [prod, staging] = await Promise.all([startTestRedis(), startTestRedis()]);
    deadPort = await freePort();
    await prod.client.set('lock:prod:orders', TOKEN, 'PX', 60_000);
    await staging.client.set('lock:staging:orders', 'staging-owner', 'PX', 60_000);
    const started = Date.now();
    app = await startTestApp(`prod=${prod.url},down=redis://:hunter2@127.0.0.1:${deadPort},staging=${staging.url}`, { ADMIN_TOKEN: ADMIN });
    // A target that cannot connect does not hold the others' start-up.
    expect(Date.now() - started).toBeLessThan(5000);
  });
  afterAll(async () => {
    await app?.close();
    await prod?.stop();
    await staging?.stop();
  });

  it('reports every target: the down one with its error (password masked), the others ok with their lock counts', async () => {
    const current = () => app.app.targets.list.map((t) => t.status());
    await waitFor(() => current().every((t) => t.health === (t.id === 'down' ? 'down' : 'ok')), 'the targets to settle');
    const status = current();
    expect(status.map((t) => [t.id, t.name, t.health, t.locks])).toEqual([
      ['prod', 'prod', 'ok', 1],
      ['down', 'down', 'down', 0],
      ['staging', 'staging', 'ok', 1],
    ]);
    const down = status[1]!;
    expect(down.url).toBe(`redis://:***@127.0.0.1:${deadPort}`);
    expect(down.problem).toMatch(/unreachable.*ECONNREFUSED/);
    expect(down.nodes[0]).toMatchObject({
      address: `127.0.0.1:${deadPort}`,
      connection: expect.stringMatching(/^(connecting|down)$/),
      lastError: expect.stringMatching(/ECONNREFUSED/),
    });
    expect(JSON.stringify(status)).not.toContain('hunter2');
  });

  it('a socket views the first target by default, another by handshake or lock:view, each switch a fresh snapshot', async () => {
    const client = await app.connect();
    expect(client.byKey('lock:prod:orders')).toBeDefined();
    expect(client.byKey('lock:staging:orders')).toBeUndefined();

    const targetOf: string[] = [];
    client.socket.on('lock:snapshot', (s: LockSnapshot) => targetOf.push(s.target));
    const done = client.snapshots;
    const reply = await client.socket.emitWithAck('lock:view', 'staging');
    expect(reply).toEqual({ ok: true, data: { target: 'staging' } });
    await waitFor(() => client.snapshots > done, 'the staging snapshot');
    expect(targetOf).toEqual(['staging']);
    expect(client.byKey('lock:staging:orders')?.owner?.text).toBe('staging-owner');
    expect(client.byKey('lock:prod:orders')).toBeUndefined();
    // Only staging's changes reach it now.
    const seen: string[] = [];
    client.socket.on('lock:changes', (c) => seen.push(c.target));
    await prod.client.set('lock:prod:other', 'x', 'PX', 60_000);
    await staging.client.set('lock:staging:new', 'y', 'PX', 60_000);
    await waitFor(() => client.byKey('lock:staging:new'), 'a staging change');
    expect(client.byKey('lock:prod:other')).toBeUndefined();
    expect(new Set(seen)).toEqual(new Set(['staging']));

    expect(await client.socket.emitWithAck('lock:view', 'nope')).toMatchObject({ ok: false, error: { code: 'not_found' } });
    expect(await client.socket.emitWithAck('lock:view', 42 as unknown as string)).toMatchObject({ ok: false, error: { code: 'bad_request' } });

    // The down target: an empty table, and a status that says why.
    await client.socket.emitWithAck('lock:view', 'down');
    await waitFor(() => targetOf.at(-1) === 'down' && client.locks.size === 0, 'the down target\'s (empty) snapshot');

    // Chosen at the handshake.
    const direct = LiveClient.open(app.url);
    direct.socket.auth = { target: 'staging' };
    direct.socket.disconnect().connect();
    await waitFor(() => direct.snapshots === 1, 'a snapshot chosen at the handshake');
    expect(direct.byKey('lock:staging:orders')).toBeDefined();
    direct.socket.disconnect();
  });

  it('history requests read the viewed target', async () => {
    const client = await app.connect();
    const id = b64('lock:staging:orders');
    expect(await client.socket.emitWithAck('lock:history', id)).toMatchObject({ ok: false, error: { code: 'not_found' } });
    await client.socket.emitWithAck('lock:view', 'staging');
    await waitFor(() => client.byKey('lock:staging:orders'), 'the staging table');
    expect(await client.socket.emitWithAck('lock:history', id)).toMatchObject({ ok: true, data: { id } });
  });

  it("browsers asking for a target's table together share one snapshot of it, and each gets its own target's only", async () => {
    /** `lock:snapshot` packets Socket.IO encoded, by target. */
    const encoded = new Map<string, number>();
    const encoder = app.app.io.encoder;
    const encode = encoder.encode;
    encoder.encode = (packet) => {
      const [event, payload] = Array.isArray(packet.data) ? (packet.data as [unknown, { target: string }]) : [];
      if (event === 'lock:snapshot') encoded.set(payload!.target, (encoded.get(payload!.target) ?? 0) + 1);
      return encode.call(encoder, packet);
    };
    const viewers = (target: string) =>
      Array.from({ length: 6 }, () => {
        const c = LiveClient.open(app.url, { auth: { target } });
        const parts: string[] = [];
        c.socket.on('lock:snapshot', (s) => parts.push(s.target));
        return { c, parts };
      });
    const prodViewers = viewers('prod');
    const stagingViewers = viewers('staging');
    // One more asks for prod and switches to staging as soon as it is connected, before or after its train left.
    const switcher = LiveClient.open(app.url, { auth: { target: 'prod' } });
    switcher.socket.once('connect', () => void switcher.socket.emitWithAck('lock:view', 'staging'));
    const all = [...prodViewers, ...stagingViewers];
    try {
      await waitFor(() => all.every((v) => v.c.snapshots === 1), 'every viewer to have its table', 15_000);
      await waitFor(() => switcher.byKey('lock:staging:orders'), "the switcher to have staging's table", 15_000);
      for (const { c, parts } of prodViewers) {
        expect(new Set(parts)).toEqual(new Set(['prod']));
        expect(c.byKey('lock:prod:orders')).toBeDefined();
        expect(c.byKey('lock:staging:orders')).toBeUndefined();
      }
      for (const { c, parts } of stagingViewers) {
        expect(new Set(parts)).toEqual(new Set(['staging']));
        expect(c.byKey('lock:staging:orders')).toBeDefined();
        expect(c.byKey('lock:prod:orders')).toBeUndefined();
      }
      expect(switcher.byKey('lock:prod:orders')).toBeUndefined();
      // Each table is a single part: one encoding per train, not per browser (6 each). Handshakes more than 50 ms
      // apart on a loaded machine may split a target's viewers over two or three trains.
      expect(encoded.get('prod')).toBeLessThanOrEqual(4);
      expect(encoded.get('staging')).toBeLessThanOrEqual(4);
      // Change sets reach each target's viewers only.
      const seen = new Map<LiveClient, Set<string>>(all.map(({ c }) => [c, new Set()]));
      for (const [c, targets] of seen) c.socket.on('lock:changes', (ch) => targets.add(ch.target));
      await staging.client.set('lock:staging:together', 'z', 'PX', 60_000);
      await waitFor(() => stagingViewers.every(({ c }) => c.byKey('lock:staging:together')) && switcher.byKey('lock:staging:together'), 'the staging change');
      for (const { c } of prodViewers) expect(c.byKey('lock:staging:together')).toBeUndefined();
      for (const { c } of prodViewers) expect(seen.get(c)!.has('staging')).toBe(false);
    } finally {
      encoder.encode = encode;
      for (const { c } of all) c.socket.disconnect();
      switcher.socket.disconnect();
    }
  });

  it('/healthz: 503 while one target is down, 200 for a healthy one asked by name; /metrics labels every series', async () => {
    const all = await fetch(`${app.url}/healthz`);
    expect(all.status).toBe(503);
    const body = (await all.json()) as { targets: { id: string; health: string }[] };
    expect(body.targets.map((t) => [t.id, t.health])).toEqual([
      ['prod', 'ok'],
      ['down', 'down'],
      ['staging', 'ok'],
    ]);
    expect((await fetch(`${app.url}/healthz?target=prod`)).status).toBe(200);
    expect((await fetch(`${app.url}/healthz?target=down`)).status).toBe(503);
    expect((await fetch(`${app.url}/healthz?target=nope`)).status).toBe(404);
    const text = await (await fetch(`${app.url}/metrics`)).text();
    expect(text).toMatch(new RegExp(`lockscope_redis_up\\{target="down",node="127.0.0.1:${deadPort}"\\} 0`));
    expect(text).toMatch(/lockscope_redis_up\{target="prod",node="[^"]+"\} 1/);
    expect(text).toMatch(/lockscope_locks\{target="staging",library="generic",state="held"\} \d/);
    expect(text).not.toContain('hunter2');
  });

  it('admin actions name their target (default: the first), the audit log too; an unknown or down target is refused', async () => {
    const staged = await api<ReleaseResponse>(app.url, '/api/locks/release', {
      token: ADMIN,
      json: { target: 'staging', key: 'lock:staging:orders', expectedOwner: 'staging-owner', reason: 'targets test' },
    });
    expect(data(staged)).toMatchObject({ result: 'released', target: 'staging' });
    expect(await staging.client.exists('lock:staging:orders')).toBe(0);
    await prod.client.set('lock:prod:release', TOKEN, 'PX', 60_000);
    await waitFor(() => app.tracker.get(b64('lock:prod:release')), 'the prod lock');
    const byDefault = await api<ReleaseResponse>(app.url, '/api/locks/release', {
      token: ADMIN,
      json: { key: 'lock:prod:release', expectedOwner: TOKEN, reason: 'default target' },
    });
    expect(data(byDefault)).toMatchObject({ result: 'released', target: 'prod' });
    const unknown = await api(app.url, '/api/locks/release', {
      token: ADMIN,
      json: { target: 'nope', key: 'lock:x', expectedOwner: 'y', reason: 'unknown target' },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ ok: false, error: { code: 'unknown_target' } });
    const down = await api(app.url, '/api/locks/release', {
      token: ADMIN,
      json: { target: 'down', key: 'lock:x', expectedOwner: 'y', reason: 'down target' },
    });
    expect(down.status).toBeGreaterThanOrEqual(400);
    const entries = await auditEntries(app.url, ADMIN);
    expect(entries.slice(0, 4).map((e) => [e.target, e.result])).toEqual([
      ['down', down.status === 503 ? 'failed' : 'refused'],
      ['nope', 'refused'],
      ['prod', 'released'],
      ['staging', 'released'],
    ]);
  });

  it('a holder is freed on the target named, read there first: the same semaphore key on another target is untouched', async () => {
    const now = Date.now();
    for (const r of [prod, staging]) {
      await r.client.zadd('semaphore:shared-name', now, 'holder-a', now, 'holder-b');
      await r.client.pexpire('semaphore:shared-name', 60_000);
    }
    // Neither tracker has seen it yet (ZADD raises no event they follow before a scan): admin reads Redis first.
    const freed = await api<ReleaseResponse>(app.url, '/api/locks/release', {
      token: ADMIN,
      json: { target: 'staging', key: 'semaphore:shared-name', expectedOwner: 'holder-a', reason: 'one holder on staging', scope: 'holder' },
    });
    expect(data(freed)).toMatchObject({ result: 'released', target: 'staging', library: 'redis-semaphore', freed: { count: 1, holders: [{ text: 'holder-a' }] } });
    expect(await staging.client.zrange('semaphore:shared-name', 0, -1)).toEqual(['holder-b']);
    expect((await prod.client.zrange('semaphore:shared-name', 0, -1)).sort()).toEqual(['holder-a', 'holder-b']);
    const stagingTracker = app.app.targets.get('staging')!.tracker;
    await waitFor(() => stagingTracker.get(b64('semaphore:shared-name'))?.holders?.list.length === 1, 'staging to show one holder left');
    expect(app.tracker.get(b64('semaphore:shared-name'))?.holders?.list.length ?? 2).toBe(2);
    const [entry] = await auditEntries(app.url, ADMIN);
    expect(entry).toMatchObject({ target: 'staging', result: 'released', detail: 'one holder: freed 1' });
  });

  it('a target that comes up later is followed from then on; a restart of one target leaves the others untouched', async () => {
    const late = await startTestRedis({ port: deadPort });
    try {
      await late.client.set('lock:late:one', 'late-owner', 'PX', 60_000);
      const target = app.app.targets.get('down')!;
      await waitFor(() => target.status().health === 'ok' && target.tracker.get(b64('lock:late:one')), 'the late target to sync', 15_000);
      // Restart staging: its locks are lost, prod's never blink.
      await staging.client.set('lock:staging:wiped', 'x', 'PX', 60_000);
      const stagingTarget = app.app.targets.get('staging')!;
      await waitFor(() => stagingTarget.tracker.get(b64('lock:staging:wiped')), 'the staging lock');
      const prodHeld = app.tracker.heldKeys().length;
      const stagingHeld = stagingTarget.tracker.heldKeys().length;
      const port = staging.port;
      await staging.stop();
      staging = await startTestRedis({ port });
      await waitFor(() => stagingTarget.tracker.get(b64('lock:staging:wiped'))?.state === 'lost', 'the staging lock to end lost', 10_000);
      expect(app.target.lastRestart).toBeNull();
      expect(app.tracker.heldKeys().length).toBe(prodHeld);
      const status = await new Promise<ServerStatus>((resolve) => {
        const c = LiveClient.open(app.url);
        c.socket.once('server:status', (s) => {
          c.socket.disconnect();
          resolve(s);
        });
      });
      expect(status.targets.find((t) => t.id === 'staging')!.lastRestart).toMatchObject({ lost: stagingHeld, node: `127.0.0.1:${port}` });
      expect(status.targets.find((t) => t.id === 'prod')!.lastRestart).toBeNull();
    } finally {
      await late.stop();
    }
  });
});
