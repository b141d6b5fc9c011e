import { request } from 'node:http';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_STREAM, type ReleaseResponse, type SessionInfo } from '../../shared/admin';
import { isLoopbackHost, resolveAdminMode } from '../src/admin/auth/admin-mode';
import { crossOriginProblem } from '../src/admin/auth/csrf';
import { FailureLimiter } from '../src/admin/auth/failure-limiter';
import { SessionStore } from '../src/admin/auth/sessions';
import { tokenDigest, tokenMatches } from '../src/admin/auth/token';
import { api, data } from './support/admin-http';
import { startTestApp, type TestApp } from './support/app';
import { startTestRedis, waitFor, type TestRedis } from './support/redis';

describe('admin mode resolution (pure)', () => {
  const base = { readOnly: false, tokenConfigured: false, embedded: false, host: '127.0.0.1' };
  it('--read-only wins over everything', () => {
    expect(resolveAdminMode({ ...base, readOnly: true, tokenConfigured: true, embedded: true })).toMatchObject({ mode: 'read-only', reason: expect.stringContaining('--read-only') });
  });
  it('a token means log in, whatever the Redis', () => {
    expect(resolveAdminMode({ ...base, tokenConfigured: true })).toEqual({ mode: 'token' });
  });
  it('embedded Redis on loopback needs no token; on other interfaces it is read-only', () => {
    for (const host of ['127.0.0.1', 'localhost', '::1', '127.1.2.3']) expect(resolveAdminMode({ ...base, embedded: true, host }).mode).toBe('open');
    expect(resolveAdminMode({ ...base, embedded: true, host: '0.0.0.0' })).toMatchObject({ mode: 'read-only', reason: expect.stringContaining('0.0.0.0') });
  });
  it('external Redis without a token is read-only, saying why', () => {
    expect(resolveAdminMode(base)).toMatchObject({ mode: 'read-only', reason: expect.stringContaining('external Redis and no ADMIN_TOKEN') });
  });
  it('knows loopback host names', () => {
    expect(['localhost', 'app.localhost', '127.0.0.1', '[::1]', '::1'].every(isLoopbackHost)).toBe(true);
    expect(['evil.example', '0.0.0.0', '127.0.0.1.evil.example', '10.0.0.1', '128.0.0.1'].some(isLoopbackHost)).toBe(false);
  });
});

describe('token, CSRF and session primitives (pure)', () => {
  it('compares tokens by SHA-256 digest', () => {
    const digest = tokenDigest('correct horse battery staple');
    expect(tokenMatches('correct horse battery staple', digest)).toBe(true);
    expect(tokenMatches('correct horse battery stapl', digest)).toBe(false);
    expect(tokenMatches('', digest)).toBe(false);
  });
  it('flags cross-site requests and lets same-origin and non-browser ones through', () => {
    expect(crossOriginProblem({ host: 'localhost:7070' })).toBeNull();
    expect(crossOriginProblem({ host: 'localhost:7070', origin: 'http://localhost:7070', secFetchSite: 'same-origin' })).toBeNull();
    expect(crossOriginProblem({ host: 'localhost:7070', secFetchSite: 'none' })).toBeNull();
    expect(crossOriginProblem({ host: 'localhost:7070', origin: 'http://localhost:7071' })).toMatch(/localhost:7071/);
    expect(crossOriginProblem({ host: 'localhost:7070', secFetchSite: 'same-site' })).toMatch(/same-site/);
    expect(crossOriginProblem({ host: 'localhost:7070', origin: 'null' })).not.toBeNull();
    expect(crossOriginProblem({ origin: 'http://localhost:7070' })).not.toBeNull();
  });
  it('limits wrong tokens per address and window; flags only the first refusal of each window for the audit log', () => {
    let now = 1_000_000;
    const limiter = new FailureLimiter({ limit: 3, windowMs: 60_000, clock: () => now });
    for (let i = 0; i < 3; i++) {
      expect(limiter.throttled('10.0.0.1')).toBeNull();
      limiter.fail('10.0.0.1');
    }
    expect(limiter.throttled('10.0.0.1')).toMatchObject({ first: true, retryAfterS: 60 });
    now += 30_000;
    expect(limiter.throttled('10.0.0.1')).toMatchObject({ first: false, retryAfterS: 30 });
    expect(limiter.throttled('10.0.0.2')).toBeNull(); // other addresses are not affected
    now += 30_000; // the window is over
    expect(limiter.throttled('10.0.0.1')).toBeNull();
    for (let i = 0; i < 3; i++) limiter.fail('10.0.0.1');
    expect(limiter.throttled('10.0.0.1')).toMatchObject({ first: true });
  });
  it('expires sessions and never accepts malformed ids', () => {
    let now = 1_000_000;
    const store = new SessionStore({ ttlMs: 1000, clock: () => now });
    const { id } = store.create();
    expect(store.get(id)).toBeDefined();
    expect(store.get(`${id}x`)).toBeUndefined();
    expect(store.get(undefined)).toBeUndefined();
    now += 1000;
    expect(store.get(id)).toBeUndefined();
  });
});

/** A logger whose JSON lines the test can read. */
function capturedLogger() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

describe('modes against a real app', () => {
  let redis: TestRedis;
  const apps: TestApp[] = [];
  beforeAll(async () => {
    redis = await startTestRedis();
    await redis.client.set('lock:modes', 'holder', 'PX', 60_000);
  });
  afterAll(async () => {
    for (const a of apps) await a.close();
    await redis?.stop();
  });
  const start = async (...args: Parameters<typeof startTestApp> extends [string, ...infer R] ? R : never) => {
    const a = await startTestApp(redis.url, ...args);
    apps.push(a);
    await waitFor(() => a.tracker.get(Buffer.from('lock:modes').toString('base64')), 'lock:modes to be tracked');
    return a;
  };
  const release = { key: 'lock:modes', expectedOwner: 'holder', reason: 'try' };

  it('--read-only refuses every action, even with the right token, and writes nothing to Redis', async () => {
    const token = 'read-only-suite-token-123';
    const { logger, lines } = capturedLogger();
    const app = await start({ ADMIN_TOKEN: token, READ_ONLY: '1' }, { logger });
    expect(data(await api<SessionInfo>(app.url, '/api/session'))).toMatchObject({ admin: 'read-only', mode: 'read-only', reason: expect.stringContaining('read-only') });
    const reply = await api(app.url, '/api/locks/release', { json: release, token });
    expect(reply.status).toBe(403);
    expect(reply.body).toMatchObject({ ok: false, error: { code: 'read_only' } });
    expect((await api(app.url, '/api/session', { json: { token } })).status).toBe(403);
    expect(await redis.client.get('lock:modes')).toBe('holder');
    expect(await redis.client.exists(AUDIT_STREAM)).toBe(0);
    // The refusal is still audited, in the JSON log, and the token is in no log line.
    const audited = lines.map((l) => JSON.parse(l) as { audit?: { action: string; result: string; error: string } }).filter((l) => l.audit);
    expect(audited.map((l) => l.audit)).toContainEqual(expect.objectContaining({ action: 'release', result: 'refused', error: 'read_only' }));
    expect(lines.join('\n')).not.toContain(token);
  });

  it('external Redis without ADMIN_TOKEN is read-only and says why', async () => {
    const app = await start();
    expect(data(await api<SessionInfo>(app.url, '/api/session'))).toEqual({
      admin: 'read-only',
      mode: 'read-only',
      reason: 'external Redis and no ADMIN_TOKEN: set ADMIN_TOKEN to enable admin actions',
    });
    expect((await api(app.url, '/api/locks/release', { json: release })).status).toBe(403);
  });

  it('embedded Redis on loopback allows admin without a token, but not through a foreign Host name (DNS rebinding)', async () => {
    const app = await start({}, { embedded: true });
    expect(data(await api<SessionInfo>(app.url, '/api/session'))).toMatchObject({ admin: 'allowed', mode: 'open', via: 'open' });
    expect((await api(app.url, '/api/session', { json: { token: 'anything-at-all-here' } })).status).toBe(409);

    const port = new URL(app.url).port;
    const rebound = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, path: '/api/locks/release', method: 'POST', headers: { host: `evil.example:${port}`, origin: `http://evil.example:${port}`, 'content-type': 'application/json' } },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify(release));
    });
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.body)).toMatchObject({ ok: false, error: { code: 'host_not_allowed' } });
    expect(await redis.client.get('lock:modes')).toBe('holder');

    const done = data(await api<ReleaseResponse>(app.url, '/api/locks/release', { json: release }));
    expect(done.result).toBe('released');
    const entry = data(await api<{ entries: { id: string; actor: string }[] }>(app.url, '/api/audit?count=1')).entries[0];
    expect(entry).toMatchObject({ id: done.auditId, actor: 'open' });
    await redis.client.set('lock:modes', 'holder', 'PX', 60_000);
  });

  it('accepts the token given as ADMIN_TOKEN_SHA256', async () => {
    const token = 'hashed-form-token-0987654321';
    const app = await start({ ADMIN_TOKEN_SHA256: tokenDigest(token).toUpperCase() });
    expect((await api(app.url, '/api/session', { json: { token: 'not-it-not-it-not-it' } })).status).toBe(401);
    expect(data(await api<SessionInfo>(app.url, '/api/session', { json: { token } }))).toMatchObject({ admin: 'allowed', via: 'session' });
    expect(data(await api<SessionInfo>(app.url, '/api/session', { token }))).toMatchObject({ admin: 'allowed', via: 'bearer' });
  });
});
