import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_STREAM, type AuditEntry, type AuditPage, type ReleaseResponse } from '../../shared/admin';
import { AuditLog } from '../src/admin/audit/audit-log';
import { connectRedis } from '../src/redis/connect';
import { api, data } from './support/admin-http';
import { startTestApp, type TestApp } from './support/app';
import { startTestRedis, waitFor, type TestRedis } from './support/redis';

const TOKEN = 'audit-suite-token-qwertyuiop';

describe('audit log (real app, real Redis)', () => {
  let redis: TestRedis;
  let app: TestApp;
  const lines: string[] = [];

  beforeAll(async () => {
    redis = await startTestRedis();
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    app = await startTestApp(redis.url, { ADMIN_TOKEN: TOKEN }, { logger: pino({ level: 'info' }, sink) });
  });
  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  const page = (query: string, token: string | null = TOKEN) => api<AuditPage>(app.url, `/api/audit${query}`, token ? { token } : {});

  it('keeps every action in a Redis stream of its own, newest first, in pages', async () => {
    await redis.client.set('lock:audited', 'w', 'PX', 60_000);
    await waitFor(() => app.tracker.get(Buffer.from('lock:audited').toString('base64')), 'tracking');
    for (let i = 0; i < 3; i++) await api(app.url, '/api/locks/release', { json: { key: 'lock:audited', expectedOwner: 'w', reason: `refused ${i}` } });
    const released = data(await api<ReleaseResponse>(app.url, '/api/locks/release', { json: { key: 'lock:audited', expectedOwner: 'w', reason: 'for real' }, token: TOKEN }));

    expect(await redis.client.type(AUDIT_STREAM)).toBe('stream');
    const first = data(await page('?count=2'));
    expect(first.entries.map((e) => e.reason)).toEqual(['for real', 'refused 2']);
    expect(first.entries[0]).toMatchObject({ id: released.auditId, action: 'release', actor: 'bearer', result: 'released', key: { text: 'lock:audited' }, ownerSeen: { text: 'w' } });
    expect(first.entries[0]!.at).toBeGreaterThan(Date.now() - 10_000);
    const second = data(await page(`?count=2&before=${first.nextBefore}`));
    expect(second.entries.map((e) => e.reason)).toEqual(['refused 1', 'refused 0']);
    expect(second.entries.every((e: AuditEntry) => e.result === 'refused' && e.actor === 'anonymous' && e.error?.code === 'unauthorized')).toBe(true);
  });

  it('shows the audit log to admins only, and validates the query', async () => {
    expect((await page('', null)).status).toBe(401);
    expect((await page('', 'wrong-token-wrong-token')).status).toBe(401);
    const bad = await page('?count=0');
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ ok: false, error: { code: 'bad_request', message: expect.stringContaining('count') } });
    expect((await page('?before=yesterday')).status).toBe(400);
  });

  it('writes each entry to the JSON log too, never the token', async () => {
    await api(app.url, '/api/session', { json: { token: TOKEN } });
    await api(app.url, '/api/session', { json: { token: `${TOKEN}-typo` } });
    const audited = lines.map((l) => JSON.parse(l) as { audit?: Record<string, unknown> }).filter((l) => l.audit).map((l) => l.audit!);
    expect(audited).toContainEqual(expect.objectContaining({ action: 'release', result: 'released', key: 'lock:audited', ownerSeen: 'w', reason: 'for real', actor: 'bearer' }));
    expect(audited).toContainEqual(expect.objectContaining({ action: 'login', result: 'logged-in' }));
    expect(audited).toContainEqual(expect.objectContaining({ action: 'login', result: 'refused', error: 'unauthorized' }));
    expect(lines.join('\n')).not.toContain(TOKEN);
  });

  it('keeps its own stream out of the lock table (it matches the default *lock* pattern)', async () => {
    await app.target.resync();
    expect(app.tracker.get(Buffer.from(AUDIT_STREAM).toString('base64'))).toBeUndefined();
    expect(app.tracker.views().some((v) => v.type === 'stream')).toBe(false);
  });

  it('caps the stream (MAXLEN ~) so it never grows without bound', async () => {
    const log = new AuditLog(redis.client, pino({ level: 'silent' }), { store: true, stream: 'lockscope:audit-cap-test', maxEntries: 10 });
    for (let i = 0; i < 250; i++) await log.record({ action: 'release', actor: 'bearer', ip: '127.0.0.1', result: 'already-gone' });
    // Approximate trimming drops whole 100-entry nodes: far below 250, never below the cap.
    const len = await redis.client.xlen('lockscope:audit-cap-test');
    expect(len).toBeLessThanOrEqual(110);
    expect(len).toBeGreaterThanOrEqual(10);
  });

  it('still logs and broadcasts an entry when Redis cannot store it', async () => {
    const offline = connectRedis(redis.url, 'offline-test'); // never connected: commands fail at once
    const log = new AuditLog(offline, pino({ level: 'silent' }), { store: true });
    const seen: AuditEntry[] = [];
    log.on('entry', (e) => seen.push(e));
    const entry = await log.record({ action: 'set-ttl', actor: 'open', ip: '::1', result: 'failed', error: { code: 'redis_unavailable', message: 'down' } });
    expect(entry.id).toMatch(/^log-\d+-1$/);
    expect(seen).toEqual([entry]);
    offline.disconnect();
  });
});
