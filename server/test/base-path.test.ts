import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../shared/admin';
import { auditEntries } from './support/admin-http';
import { LiveClient, startTestApp, type TestApp } from './support/app';
import { nginxProxyConfig, startNginx, type NginxProxyOptions, type TestNginx } from './support/nginx';
import { fakeClientBuild, FAKE_INDEX_HTML } from './support/client-build';
import { startTestRedis, waitFor, type TestRedis } from './support/redis';

const root = fileURLToPath(new URL('../..', import.meta.url));
const TOKEN = 'base-path-test-token-0123';

/** The options of the nginx config the README shows (`listen 443 ssl` with a certificate, lockscope on :7070). */
const README_PROXY: NginxProxyOptions & { listen: string } = {
  listen: '443',
  upstreams: ['127.0.0.1:7070'],
  locations: [{ path: '/ops/locks/' }],
  tls: { cert: '/etc/ssl/certs/ops.example.com.pem', key: '/etc/ssl/private/ops.example.com.key' },
};

describe('the reverse-proxy config in the README', () => {
  it('is the one the tests run (nginxProxyConfig), block for block', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const block = /```nginx\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block?.trimEnd()).toBe(nginxProxyConfig(README_PROXY));
  });
});

/**
 * lockscope under BASE_PATH behind a real nginx (HTTP level; e2e/base-path.spec.ts does it in a browser over TLS).
 * One nginx, three locations: `/ops/locks/` → lockscope with BASE_PATH=/ops/locks trusting nginx, `/other/locks/` →
 * one with BASE_PATH=/other/locks that does not, `/strip/` → one at its root behind a prefix-stripping location.
 * nginx connects from 127.0.0.2 (proxy_bind), the test's requests come from 127.0.0.1.
 */
describe('BASE_PATH behind nginx', () => {
  let redis: TestRedis;
  let client: ReturnType<typeof fakeClientBuild>;
  let trusted: TestApp;
  let untrusted: TestApp;
  let stripped: TestApp;
  let nginx: TestNginx;

  beforeAll(async () => {
    redis = await startTestRedis();
    client = fakeClientBuild();
    const app = { clientDir: client.dir };
    [trusted, untrusted, stripped] = await Promise.all([
      startTestApp(redis.url, { BASE_PATH: '/ops/locks/', TRUST_PROXY: '127.0.0.2', ADMIN_TOKEN: TOKEN }, { app }),
      startTestApp(redis.url, { BASE_PATH: '/other/locks', ADMIN_TOKEN: TOKEN }, { app }),
      startTestApp(redis.url, { ADMIN_TOKEN: TOKEN }, { app }),
    ]);
    const hostOf = (a: TestApp) => new URL(a.url).host;
    nginx = await startNginx({
      upstreams: [hostOf(trusted)],
      locations: [
        { path: '/ops/locks/' },
        { path: '/other/locks/', upstreams: [hostOf(untrusted)] },
        { path: '/strip/', upstreams: [hostOf(stripped)], stripPrefix: true },
      ],
      proxyBind: '127.0.0.2',
    });
  }, 30_000);
  afterAll(async () => {
    await nginx?.stop();
    for (const a of [trusted, untrusted, stripped]) await a?.close();
    await redis?.stop();
    client?.remove();
  });

  /** What a browser's same-origin fetch to the proxy carries. */
  const browser = () => ({ origin: nginx.url, 'sec-fetch-site': 'same-origin' });

  it('serves every route under the base path, and only there', async () => {
    expect(trusted.config.basePath).toBe('/ops/locks');
    expect((await fetch(`${nginx.url}/ops/locks`, { redirect: 'manual' })).headers.get('location')).toMatch(/\/ops\/locks\/$/);
    expect(await (await fetch(`${nginx.url}/ops/locks/`)).text()).toBe(FAKE_INDEX_HTML);
    expect((await fetch(`${nginx.url}/ops/locks/assets/index-Ab12Cd34.js`)).status).toBe(200);
    expect((await fetch(`${nginx.url}/ops/locks/healthz`)).status).toBe(200);
    expect(await (await fetch(`${nginx.url}/ops/locks/metrics`)).text()).toContain('lockscope_redis_up{');
    expect(await (await fetch(`${nginx.url}/ops/locks/api/session`)).json()).toMatchObject({ ok: true, data: { mode: 'token' } });
    // lockscope's own server: the base path's bare form redirects too, its root leads to the dashboard, nothing else.
    expect((await fetch(`${trusted.url}/ops/locks?q=x`, { redirect: 'manual' })).headers.get('location')).toBe('/ops/locks/?q=x');
    expect((await fetch(`${trusted.url}/`, { redirect: 'manual' })).headers.get('location')).toBe('/ops/locks/');
    for (const path of ['/healthz', '/metrics', '/api/session', '/assets/index-Ab12Cd34.js', '/socket.io/?EIO=4&transport=polling']) {
      expect((await fetch(`${trusted.url}${path}`)).status, path).toBe(404);
    }
  });

  it('upgrades Socket.IO to a WebSocket through the proxy under the base path; a cross-site handshake is refused', async () => {
    await redis.client.set('lock:base-path:a', 'owner-a', 'PX', 60_000);
    // As a browser sends a WebSocket handshake: Origin, no Sec-Fetch-Site. nginx sends `Host: 127.0.0.1` (no port):
    // the trusted proxy's X-Forwarded-Host (with the port) is what Origin is compared with.
    const live = await LiveClient.connect(nginx.url, { path: '/ops/locks/socket.io', extraHeaders: { origin: nginx.url } });
    expect(live.byKey('lock:base-path:a')?.owner?.text).toBe('owner-a');
    live.socket.disconnect();
    // nginx logs a WebSocket when it closes.
    const upgraded = /"GET \/ops\/locks\/socket\.io\/\?EIO=4&transport=websocket HTTP\/1\.1" 101 /;
    await waitFor(() => upgraded.test(nginx.accessLog()), 'the WebSocket in nginx’s access log');
    const evil = LiveClient.open(nginx.url, { path: '/ops/locks/socket.io', extraHeaders: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } });
    const refused = await new Promise<string>((resolve) => {
      evil.socket.once('connect', () => resolve('connected'));
      evil.socket.once('connect_error', (err) => resolve(`refused: ${err.message}`));
    });
    evil.socket.disconnect();
    expect(refused).toMatch(/^refused/);
    // Behind a proxy it does not trust, lockscope has only `Host` to go by, which lacks the port: refused, and audited.
    const lost = LiveClient.open(nginx.url, { path: '/other/locks/socket.io', extraHeaders: { origin: nginx.url } });
    const outcome = await new Promise<string>((resolve) => {
      lost.socket.once('connect', () => resolve('connected'));
      lost.socket.once('connect_error', (err) => resolve(`refused: ${err.message}`));
    });
    lost.socket.disconnect();
    expect(outcome).toMatch(/^refused/);
    const entry = await waitFor(
      async () => (await auditEntries(untrusted.url + untrusted.config.basePath, TOKEN)).find((e: AuditEntry) => e.action === 'connect'),
      'the refused handshake in the audit log',
    );
    expect(entry).toMatchObject({ result: 'refused', ip: '127.0.0.2', error: { code: 'cross_origin' } });
  });

  it('with TRUST_PROXY the audit log has the client’s address, without it nginx’s; the session cookie is scoped to the base path', async () => {
    const login = async (base: string) => {
      const res = await fetch(`${nginx.url}${base}/api/session`, {
        method: 'POST',
        headers: { ...browser(), 'content-type': 'application/json' },
        body: JSON.stringify({ token: TOKEN }),
      });
      expect(await res.json()).toMatchObject({ ok: true, data: { admin: 'allowed' } });
      return res.headers.get('set-cookie') ?? '';
    };
    const lastLogin = async (app: TestApp) =>
      waitFor(async () => (await auditEntries(app.url + app.config.basePath, TOKEN)).find((e: AuditEntry) => e.action === 'login'), 'the login entry');
    // Over plain http nginx says X-Forwarded-Proto: http, so no Secure (e2e/base-path.spec.ts: https → Secure).
    expect(await login('/ops/locks')).toMatch(/; Path=\/ops\/locks; HttpOnly; SameSite=Strict$/);
    expect((await lastLogin(trusted)).ip).toBe('127.0.0.1');
    expect(await login('/other/locks')).toMatch(/; Path=\/other\/locks; HttpOnly; SameSite=Strict$/);
    expect((await lastLogin(untrusted)).ip).toBe('127.0.0.2');
  });

  it('works behind a proxy that strips the prefix, lockscope at its root: the page’s URLs are all relative', async () => {
    expect(await (await fetch(`${nginx.url}/strip/`)).text()).toBe(FAKE_INDEX_HTML);
    expect((await fetch(`${nginx.url}/strip/assets/index-Ab12Cd34.js`)).status).toBe(200);
    expect(await (await fetch(`${nginx.url}/strip/api/session`)).json()).toMatchObject({ ok: true });
    const live = await LiveClient.connect(nginx.url, { path: '/strip/socket.io' });
    expect(live.socket.connected).toBe(true);
    live.socket.disconnect();
  });
});
