import { io as connectClient } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry, ReleaseResponse, SessionInfo } from '../../shared/admin';
import { api, auditEntries, data } from './support/admin-http';
import { startTestApp, type LiveClient, type TestApp, type TestSocket } from './support/app';
import { startTestRedis, waitFor, type TestRedis } from './support/redis';

const TOKEN = 'auth-suite-token-abcdefghijkl';

describe('admin auth, CSRF and input checks (real app, real Redis, real HTTP)', () => {
  let redis: TestRedis;
  let app: TestApp;
  let client: LiveClient;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    redis = await startTestRedis();
    app = await startTestApp(redis.url, { ADMIN_TOKEN: TOKEN });
    client = await app.connect();
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await app?.close();
    await redis?.stop();
  });

  /** A held lock lockscope shows, to attack. */
  async function victim(key: string, owner = 'rightful-owner'): Promise<void> {
    await redis.client.set(key, owner, 'PX', 60_000);
    await waitFor(() => client.byKey(key), `lockscope to show ${key}`);
  }

  /** The newest audit entry (read with the bearer token). */
  const lastEntry = async (): Promise<AuditEntry> => (await auditEntries(app.url, TOKEN, 1))[0]!;

  const body = (key: string) => ({ key, expectedOwner: 'rightful-owner', reason: 'attack' });

  it('tells the UI a login is needed, with security headers and no caching', async () => {
    const reply = await api<SessionInfo>(app.url, '/api/session');
    expect(data(reply)).toMatchObject({ admin: 'login-required', mode: 'token' });
    expect(reply.headers.get('cache-control')).toBe('no-store');
    expect(reply.headers.get('x-content-type-options')).toBe('nosniff');
    expect(reply.headers.get('content-security-policy')).toContain("default-src 'self'");
  });

  it('no token or a wrong one: 401, nothing deleted, and both attempts audited', async () => {
    await victim('lock:auth:1');
    const none = await api(app.url, '/api/locks/release', { json: body('lock:auth:1') });
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ ok: false, error: { code: 'unauthorized' } });
    expect(await lastEntry()).toMatchObject({ action: 'release', actor: 'anonymous', result: 'refused', error: { code: 'unauthorized' }, key: { text: 'lock:auth:1' }, reason: 'attack' });

    const wrong = await api(app.url, '/api/locks/release', { json: body('lock:auth:1'), token: 'not-the-token-at-all' });
    expect(wrong.status).toBe(401);
    expect(await redis.client.get('lock:auth:1')).toBe('rightful-owner');
    expect(await lastEntry()).toMatchObject({ result: 'refused', error: { code: 'unauthorized' } });

    const wrongLogin = await api(app.url, '/api/session', { json: { token: 'guess-guess-guess' } });
    expect(wrongLogin.status).toBe(401);
    expect(wrongLogin.headers.get('set-cookie')).toBeNull();
    expect(await lastEntry()).toMatchObject({ action: 'login', result: 'refused', error: { code: 'unauthorized' } });
  });

  it('logs in once with the token into an HttpOnly SameSite=Strict cookie session, and logs out', async () => {
    const login = await api<SessionInfo>(app.url, '/api/session', { json: { token: TOKEN } });
    expect(data(login)).toMatchObject({ admin: 'allowed', via: 'session' });
    const setCookie = login.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^lockscope_session=[A-Za-z0-9_-]{43}; Max-Age=43200; Path=\/; HttpOnly; SameSite=Strict$/);
    expect(setCookie).not.toContain('Secure'); // plain http here; Secure is added when served over https
    const cookie = setCookie.split(';')[0]!;

    const session = data(await api<SessionInfo>(app.url, '/api/session', { cookie }));
    expect(session).toMatchObject({ admin: 'allowed', via: 'session' });
    expect(session.expiresAt! - Date.now()).toBeGreaterThan(11 * 3600 * 1000);

    await victim('lock:auth:cookie');
    const released = data(await api<ReleaseResponse>(app.url, '/api/locks/release', { json: body('lock:auth:cookie'), cookie }));
    expect(released.result).toBe('released');
    const entry = (await auditEntries(app.url, TOKEN, 5)).find((e) => e.id === released.auditId)!;
    expect(entry.actor).toMatch(/^session:[0-9a-f]{8}$/);
    expect(entry.actor).not.toContain(cookie.split('=')[1]!.slice(0, 8));

    const logout = await api<SessionInfo>(app.url, '/api/session', { method: 'DELETE', cookie });
    expect(data(logout).admin).toBe('login-required');
    expect(logout.headers.get('set-cookie')).toMatch(/^lockscope_session=; Max-Age=0; Path=\/; HttpOnly; SameSite=Strict/);
    expect(await lastEntry()).toMatchObject({ action: 'logout', result: 'logged-out', actor: entry.actor });

    await victim('lock:auth:after-logout');
    const after = await api(app.url, '/api/locks/release', { json: body('lock:auth:after-logout'), cookie });
    expect(after.status).toBe(401);
    expect(await redis.client.exists('lock:auth:after-logout')).toBe(1);
  });

  it('refuses cross-site POSTs (Origin or Sec-Fetch-Site) even with a valid token, and audits them', async () => {
    await victim('lock:auth:csrf');
    const evil = await api(app.url, '/api/locks/release', { json: body('lock:auth:csrf'), token: TOKEN, headers: { origin: 'http://evil.example' } });
    expect(evil.status).toBe(403);
    expect(evil.body).toMatchObject({ ok: false, error: { code: 'cross_origin' } });
    expect(await lastEntry()).toMatchObject({ result: 'refused', error: { code: 'cross_origin' }, key: { text: 'lock:auth:csrf' } });

    const site = await api(app.url, '/api/locks/release', { json: body('lock:auth:csrf'), token: TOKEN, headers: { 'sec-fetch-site': 'cross-site' } });
    expect(site.status).toBe(403);
    const nullOrigin = await api(app.url, '/api/session', { json: { token: TOKEN }, headers: { origin: 'null' } });
    expect(nullOrigin.status).toBe(403);
    expect(nullOrigin.headers.get('set-cookie')).toBeNull();
    expect(await redis.client.get('lock:auth:csrf')).toBe('rightful-owner');

    // The dashboard's own page: same origin, same-origin fetch metadata.
    const own = await api<ReleaseResponse>(app.url, '/api/locks/release', {
      json: body('lock:auth:csrf'),
      token: TOKEN,
      headers: { origin: app.url, 'sec-fetch-site': 'same-origin' },
    });
    expect(data(own).result).toBe('released');
  });

  it('answers malformed, incomplete, oversized and non-JSON bodies with a clear 4xx, deleting nothing, each audited', async () => {
    await victim('lock:auth:input');
    const cases: { init: Parameters<typeof api>[2]; status: number; code: string; mentions?: string[] }[] = [
      { init: { raw: '{"key": "lock:auth:input", ', token: TOKEN }, status: 400, code: 'bad_json' },
      { init: { json: { key: 'lock:auth:input' }, token: TOKEN }, status: 400, code: 'bad_request', mentions: ['reason: is required', 'expectedOwner: is required'] },
      { init: { json: { ...body('lock:auth:input'), owner: 'x' }, token: TOKEN }, status: 400, code: 'bad_request', mentions: ['unknown field "owner"'] },
      { init: { json: { keyBase64: 'not base64!', expectedOwner: 'x', reason: 'r' }, token: TOKEN }, status: 400, code: 'bad_request', mentions: ['keyBase64'] },
      { init: { json: { ...body('lock:auth:input'), reason: 'x'.repeat(20_000) }, token: TOKEN }, status: 413, code: 'body_too_large' },
      { init: { raw: JSON.stringify(body('lock:auth:input')), contentType: 'text/plain', token: TOKEN }, status: 415, code: 'unsupported_media_type' },
      // An empty owner names nobody: refused, never compared (a key holding "" would otherwise match it).
      { init: { json: { ...body('lock:auth:input'), expectedOwner: '' }, token: TOKEN }, status: 400, code: 'bad_request', mentions: ['expectedOwner: must not be empty'] },
      { init: { json: { key: 'lock:auth:input', expectedOwnerBase64: '', reason: 'r' }, token: TOKEN }, status: 400, code: 'bad_request', mentions: ['expectedOwnerBase64: must not be empty'] },
    ];
    for (const { init, status, code, mentions } of cases) {
      const reply = await api(app.url, '/api/locks/release', init);
      expect(reply.status, JSON.stringify(reply.body)).toBe(status);
      expect(reply.body).toMatchObject({ ok: false, error: { code } });
      const message = reply.body.ok ? '' : reply.body.error.message;
      for (const m of mentions ?? []) expect(message).toContain(m);
      expect(await lastEntry()).toMatchObject({ action: 'release', result: 'refused', error: { code } });
    }
    expect(await redis.client.get('lock:auth:input')).toBe('rightful-owner');
    // Unknown routes under /api are not swallowed by the admin router.
    expect((await fetch(`${app.url}/api/nope`)).status).toBe(404);
  });

  it('refuses a cross-origin Socket.IO handshake and a wrong handshake token, and audits both', async () => {
    const attempt = (opts: Parameters<typeof connectClient>[1]) =>
      new Promise<string>((resolve) => {
        const s: TestSocket = connectClient(app.url, { transports: ['websocket'], reconnection: false, ...opts });
        sockets.push(s);
        s.on('connect', () => resolve('connected'));
        s.on('connect_error', (err) => resolve(`refused: ${err.message}`));
      });
    const connectEntries = async () => (await auditEntries(app.url, TOKEN, 100)).filter((e) => e.action === 'connect');

    expect(await attempt({ extraHeaders: { origin: 'http://evil.example' } })).toMatch(/^refused/);
    const crossSite = await waitFor(async () => (await connectEntries()).find((e) => e.error?.code === 'cross_origin'), 'the cross-site handshake audit entry');
    expect(crossSite).toMatchObject({ actor: 'anonymous', result: 'refused', ip: expect.stringMatching(/127\.0\.0\.1/) });
    expect(crossSite.error!.message).toContain('http://evil.example');

    expect(await attempt({ auth: { token: 'wrong-token-wrong-token' } })).toBe('refused: unauthorized');
    expect(await lastEntry()).toMatchObject({ action: 'connect', actor: 'anonymous', result: 'refused', error: { code: 'unauthorized' } });
    expect(await attempt({ extraHeaders: { origin: app.url } })).toBe('connected');

    // Engine.io asks again on every retry: cross-site refusals are audited once per address and window, not each.
    expect(await attempt({ extraHeaders: { origin: 'http://evil.example' } })).toMatch(/^refused/);
    expect(await attempt({ extraHeaders: { origin: 'http://other.example' } })).toMatch(/^refused/);
    await new Promise((r) => setTimeout(r, 100));
    expect((await connectEntries()).filter((e) => e.error?.code === 'cross_origin')).toHaveLength(1);
  });

  it('streams audit entries live to admin sockets only (cookie or token at the handshake)', async () => {
    const login = await api(app.url, '/api/session', { json: { token: TOKEN } });
    const sessionCookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const open = (opts: Parameters<typeof connectClient>[1]) =>
      new Promise<{ socket: TestSocket; seen: AuditEntry[] }>((resolve, reject) => {
        const socket: TestSocket = connectClient(app.url, { transports: ['websocket'], reconnection: false, ...opts });
        sockets.push(socket);
        const seen: AuditEntry[] = [];
        socket.on('admin:audit', (e) => seen.push(e));
        socket.once('lock:snapshot', () => resolve({ socket, seen }));
        socket.once('connect_error', reject);
      });
    const byCookie = await open({ extraHeaders: { cookie: sessionCookie } });
    const byToken = await open({ auth: { token: TOKEN } });
    const viewer = await open({});

    await victim('lock:auth:live');
    const released = data(await api<ReleaseResponse>(app.url, '/api/locks/release', { json: body('lock:auth:live'), token: TOKEN }));
    await waitFor(() => byCookie.seen.some((e) => e.id === released.auditId), 'the cookie socket to get the entry');
    await waitFor(() => byToken.seen.some((e) => e.id === released.auditId), 'the token socket to get the entry');
    expect(byCookie.seen.find((e) => e.id === released.auditId)).toMatchObject({ result: 'released', key: { text: 'lock:auth:live' } });

    // After logout the cookie socket no longer receives entries.
    await api(app.url, '/api/session', { method: 'DELETE', cookie: sessionCookie });
    const before = byCookie.seen.length;
    const refused = await api(app.url, '/api/locks/release', { json: body('lock:auth:live') });
    expect(refused.status).toBe(401);
    await waitFor(() => byToken.seen.length >= 3, 'the token socket to see the logout and the refusal');
    expect(byCookie.seen.length).toBe(before);
    expect(viewer.seen).toEqual([]);
  });
});

describe('admin rate limits', () => {
  // Each scenario gets its own Redis and app: the failed-login limit is per address, and every request here comes
  // from 127.0.0.1 (or from a forwarded address the app was told to believe).
  const running: { app: TestApp; redis: TestRedis }[] = [];
  const sockets: TestSocket[] = [];
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    for (const r of running) {
      await r.app.close();
      await r.redis.stop();
    }
  });
  const fresh = async (env: Record<string, string> = {}) => {
    const redis = await startTestRedis();
    const app = await startTestApp(redis.url, { ADMIN_TOKEN: TOKEN, ...env });
    running.push({ app, redis });
    return app;
  };
  /** The audit log read in-process: over the limit, this address could not read it over HTTP with the token. */
  const entries = async (app: TestApp) => (await app.app.admin.audit.list(200)).entries;
  const handshake = (app: TestApp, opts: Parameters<typeof connectClient>[1]) =>
    new Promise<string>((resolve) => {
      const s: TestSocket = connectClient(app.url, { transports: ['websocket'], reconnection: false, ...opts });
      sockets.push(s);
      s.on('connect', () => resolve('connected'));
      s.on('connect_error', (err) => resolve(`refused: ${err.message}`));
    });

  it('stops password guessing after 10 failed logins, auditing the first refusal only', async () => {
    const app = await fresh();
    for (let i = 0; i < 10; i++) expect((await api(app.url, '/api/session', { json: { token: `guess-${i}` } })).status).toBe(401);
    const limited = await api(app.url, '/api/session', { json: { token: TOKEN } });
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ ok: false, error: { code: 'rate_limited' } });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await api(app.url, '/api/session', { json: { token: TOKEN } })).status).toBe(429);
    const all = await entries(app);
    expect(all.filter((e) => e.error?.code === 'rate_limited')).toHaveLength(1);
    expect(all.filter((e) => e.error?.code === 'unauthorized')).toHaveLength(10);
  });

  it('counts a wrong bearer token on any route against the same limit: after guesses on GET /api/session the right token is refused everywhere', async () => {
    const app = await fresh();
    for (let i = 0; i < 6; i++) {
      const reply = await api<SessionInfo>(app.url, '/api/session', { token: `bearer-guess-${i}` });
      expect(data(reply)).toMatchObject({ admin: 'login-required', reason: 'The bearer token is wrong.' });
    }
    for (let i = 0; i < 4; i++) expect((await api(app.url, '/api/audit', { token: `audit-guess-${i}` })).status).toBe(401);

    // Over the limit: the right token is refused on every route and transport from this address.
    const audit = await api(app.url, '/api/audit', { token: TOKEN });
    expect(audit.status).toBe(429);
    expect(audit.body).toMatchObject({ ok: false, error: { code: 'rate_limited' } });
    expect((await api(app.url, '/api/session', { token: TOKEN })).status).toBe(429);
    expect((await api(app.url, '/api/locks/release', { json: { key: 'lock:x', expectedOwner: 'o', reason: 'r' }, token: TOKEN })).status).toBe(429);
    expect((await api(app.url, '/api/session', { json: { token: TOKEN } })).status).toBe(429);
    expect(await handshake(app, { auth: { token: TOKEN } })).toBe('refused: rate_limited');
    // A caller sending no token is not guessing: the dashboard still loads for viewers.
    expect(data(await api<SessionInfo>(app.url, '/api/session'))).toMatchObject({ admin: 'login-required' });

    const all = await entries(app);
    const guesses = all.filter((e) => e.action === 'auth' && e.error?.code === 'unauthorized');
    expect(guesses).toHaveLength(10);
    expect(guesses.filter((e) => e.error!.message.startsWith('GET /api/session:'))).toHaveLength(6);
    expect(guesses.filter((e) => e.error!.message.startsWith('GET /api/audit:'))).toHaveLength(4);
    // Five refusals, one entry: a flood of 429s cannot push real history out of the capped stream.
    expect(all.filter((e) => e.error?.code === 'rate_limited')).toEqual([expect.objectContaining({ action: 'auth', actor: 'anonymous', result: 'refused' })]);
  });

  it('throttles Socket.IO handshake token guesses the same way, auditing each wrong token and the first refusal', async () => {
    const app = await fresh();
    const started = Date.now();
    for (let i = 0; i < 10; i++) expect(await handshake(app, { auth: { token: `socket-guess-${i}` } })).toBe('refused: unauthorized');
    expect(await handshake(app, { auth: { token: TOKEN } })).toBe('refused: rate_limited');
    for (let i = 0; i < 20; i++) expect(await handshake(app, { auth: { token: `socket-guess-more-${i}` } })).toBe('refused: rate_limited');
    expect(Date.now() - started).toBeLessThan(10_000);
    // HTTP from the same address is over the same limit.
    expect((await api(app.url, '/api/audit', { token: TOKEN })).status).toBe(429);
    // A socket without a token still connects as a viewer.
    expect(await handshake(app, {})).toBe('connected');

    const all = (await entries(app)).filter((e) => e.action === 'connect');
    expect(all.filter((e) => e.error?.code === 'unauthorized')).toHaveLength(10);
    expect(all.filter((e) => e.error?.code === 'rate_limited')).toHaveLength(1);
    expect(all[0]).toMatchObject({ actor: 'anonymous', result: 'refused', ip: expect.stringMatching(/127\.0\.0\.1/) });
  });

  it('limits admin actions to 60 a minute per address, whatever their outcome', async () => {
    const app = await fresh();
    const attempt = () => api(app.url, '/api/locks/release', { json: { key: 'lock:nope', expectedOwner: 'x', reason: 'flood' }, token: TOKEN });
    for (let i = 0; i < 60; i++) expect((await attempt()).status).toBe(404);
    const limited = await attempt();
    expect(limited.status).toBe(429);
    expect(limited.headers.get('ratelimit-policy')).toContain('60');
  });

  it('with TRUST_PROXY=loopback, believes the proxy: Secure cookie behind TLS, the forwarded client address in the audit log and the limits', async () => {
    const app = await fresh({ TRUST_PROXY: 'loopback' });
    const viaProxy = (client: string) => ({ 'x-forwarded-proto': 'https', 'x-forwarded-for': client });
    const login = await api(app.url, '/api/session', { json: { token: TOKEN }, headers: viaProxy('203.0.113.7') });
    expect(login.status).toBe(200);
    expect(login.headers.get('set-cookie')).toMatch(/; Secure/);
    expect((await entries(app))[0]).toMatchObject({ action: 'login', result: 'logged-in', ip: '203.0.113.7' });

    // One client guessing does not lock out the others behind the same proxy.
    for (let i = 0; i < 10; i++) await api(app.url, '/api/session', { json: { token: `guess-${i}` }, headers: viaProxy('203.0.113.66') });
    expect((await api(app.url, '/api/session', { json: { token: TOKEN }, headers: viaProxy('203.0.113.66') })).status).toBe(429);
    expect((await api(app.url, '/api/session', { json: { token: TOKEN }, headers: viaProxy('203.0.113.8') })).status).toBe(200);

    // Socket.IO handshakes get the same address.
    expect(await handshake(app, { auth: { token: 'wrong-wrong-wrong' }, extraHeaders: { 'x-forwarded-for': '198.51.100.9' } })).toBe('refused: unauthorized');
    expect((await entries(app))[0]).toMatchObject({ action: 'connect', ip: '198.51.100.9' });
  });

  it('without TRUST_PROXY, ignores X-Forwarded-*: no Secure cookie over plain http, and the peer address is audited', async () => {
    const app = await fresh();
    const login = await api(app.url, '/api/session', {
      json: { token: TOKEN },
      headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7' },
    });
    expect(login.status).toBe(200);
    expect(login.headers.get('set-cookie')).not.toMatch(/Secure/);
    const entry = (await entries(app))[0]!;
    expect(entry).toMatchObject({ action: 'login', result: 'logged-in' });
    expect(entry.ip).toMatch(/127\.0\.0\.1/);
  });
});
