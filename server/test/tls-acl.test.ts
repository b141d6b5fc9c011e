import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReleaseResponse, SetTtlResponse } from '../../shared/admin';
import { pino } from 'pino';
import { RELEASE_LUA, SET_TTL_LUA } from '../src/admin/release-script';
import { resolveConfig } from '../src/config/config';
import { applyTlsFiles } from '../src/config/tls-files';
import { createLockscope, LockscopeOptionsError, type LockscopeOptions } from '../src/index';
import { createAclUser, type TestAclUser } from './support/acl';
import { api, auditEntries, data } from './support/admin-http';
import { startTestApp, type TestApp } from './support/app';
import { waitFor } from './support/redis';
import { startTestTlsRedis, type TestTlsRedis } from './support/tls';

const root = fileURLToPath(new URL('../..', import.meta.url));
const ADMIN_TOKEN = 'tls-acl-admin-token-0123456789';
const PASSWORD = 'acl-pw-Secret';

/**
 * The README's ACL rules, exactly as printed there (`ACL SETUSER <user> on >PASSWORD …`): what is tested is what
 * users copy.
 */
function readmeRule(user: 'lockscope' | 'lockscope-admin'): string[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const line = new RegExp(`^ACL SETUSER ${user} on >PASSWORD (.+)$`, 'm').exec(readme);
  if (!line) throw new Error(`README.md has no "ACL SETUSER ${user} on >PASSWORD …" line`);
  return line[1]!.trim().split(/\s+/);
}

/** `rediss://user:password@127.0.0.1:port` and the TLS files, as a user would configure lockscope. */
function tlsEnv(server: TestTlsRedis, user: TestAclUser): Record<string, string> {
  return {
    REDIS_URL: `rediss://${user.name}:${PASSWORD}@127.0.0.1:${server.port}`,
    REDIS_TLS_CA_FILE: server.certs.caCert,
    REDIS_TLS_CERT_FILE: server.certs.clientCert,
    REDIS_TLS_KEY_FILE: server.certs.clientKey,
  };
}

/**
 * Each command `redis.call` names in the release and set-TTL scripts, with arguments on a lock key (or a wake-up
 * channel) of the libraries', for `ACL DRYRUN`: a command added to the script and not to the README's admin rule
 * fails the test. PUBLISH and SPUBLISH are passed in by the plans (`redis.call(cmd, …)`).
 */
function releaseScriptCommands(): string[][] {
  const names = new Set<string>(['PUBLISH', 'SPUBLISH']);
  const lua = `${RELEASE_LUA}\n${SET_TTL_LUA}`;
  const named = [...lua.matchAll(/redis\.call\((?:[^(),]*? and )?'([A-Z]+)'(?: or '([A-Z]+)')?/g)];
  for (const m of named) {
    names.add(m[1]!);
    if (m[2]) names.add(m[2]);
  }
  // Any other call passes its command in `cmd` (PUBLISH or SPUBLISH): one this does not read would go unchecked.
  expect(lua.match(/redis\.call\(/g)!.length).toBe(named.length + lua.match(/redis\.call\(cmd,/g)!.length);
  const args: Record<string, string[]> = {
    PUBLISH: ['redisson_sc:{tls-semaphore}', '1'],
    SPUBLISH: ['redisson_lock__channel:{lock:x}', '0'],
    TIME: [],
    GETRANGE: ['lock:x', '0', '10'],
    HSCAN: ['lock:x', '0'],
    HEXISTS: ['lock:x', 'f'],
    HGET: ['lock:x', 'f'],
    HDEL: ['lock:x', 'f'],
    ZSCORE: ['semaphore:x', 'm'],
    ZREM: ['semaphore:x', 'm'],
    ZRANGE: ['semaphore:x', '0', '1'],
    ZREVRANGE: ['semaphore:x', '0', '1'],
    LINDEX: ['redisson_lock_queue:{lock:x}', '0'],
    LPUSH: ['lock-signal:x', '1'],
    PEXPIRE: ['lock-signal:x', '1000'],
    PEXPIREAT: ['pdf-lock', '1'],
    INCRBY: ['tls-semaphore', '1'],
  };
  return [...names].map((name) => [name, ...(args[name] ?? ['mutex:x'])]);
}

const missing = (app: TestApp) => app.node.status().missing.map((m) => m.capability).sort();

describe('TLS with client certificates, and the README\'s ACL users', () => {
  let server: TestTlsRedis;
  let admin: Redis;

  beforeAll(async () => {
    server = await startTestTlsRedis({ authClients: 'yes' });
    admin = server.client;
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('the read-only ACL user over TLS with a client certificate: lacks nothing, follows notifications, writes nothing', async () => {
    const user = await createAclUser(admin, 'lockscope', PASSWORD, readmeRule('lockscope'));
    await admin.set('lock:tls:a', 'owner-a', 'PX', 60_000);
    const app = await startTestApp('', tlsEnv(server, user), { configureNotifications: false });
    try {
      const client = await app.connect();
      await waitFor(() => client.byKey('lock:tls:a'), 'the lock, over TLS');
      expect(app.target.status()).toMatchObject({ health: 'ok', url: `rediss://lockscope:***@127.0.0.1:${server.port}` });
      expect(app.node.status()).toMatchObject({ missing: [], feed: 'notifications', feedSource: 'config', restartSignal: 'run-id' });
      const t0 = Date.now();
      await admin.set('lock:tls:b', 'owner-b', 'PX', 60_000);
      await waitFor(() => client.byKey('lock:tls:b'), 'a lock seen by notification', 2000);
      expect(Date.now() - t0).toBeLessThan(1000);
      // Not a key outside the lock patterns, not one write (the rule has no write command).
      expect(await user.dryRun('GET', 'session:42')).toMatch(/no permissions to access the 'session:42' key/);
      expect(await user.dryRun('SET', 'lock:tls:a', 'x')).toMatch(/no permissions to run the 'set' command/);
      expect(await user.dryRun('KEYS', '*')).toMatch(/no permissions/);
      // Every default pattern is readable: redis-semaphore's mutexes and any semaphore, besides names with "lock".
      for (const key of ['mutex:orders', 'semaphore:jobs', '{export-semaphore}:timeout']) expect(await user.dryRun('TYPE', key)).toBe('OK');
      expect(await user.dryRun('PSUBSCRIBE', '__keyspace@0__:mutex:*')).toBe('OK');
    } finally {
      await app.close();
      await user.remove();
    }
  });

  it('a stricter read-only user (no INFO, no CONFIG): polls, names what it lacks, and an admin action answers NOPERM without harm', async () => {
    const rule = readmeRule('lockscope').filter((r) => r !== '+info' && r !== '+config|get');
    const user = await createAclUser(admin, 'lockscope-strict', PASSWORD, rule);
    await admin.set('lock:strict:a', 'owner-a', 'PX', 60_000);
    const app = await startTestApp('', { ...tlsEnv(server, user), POLL_MS: '200', ADMIN_TOKEN }, { configureNotifications: true });
    try {
      const client = await app.connect();
      const seen = await waitFor(() => client.byKey('lock:strict:a'), 'the lock');
      // Without CONFIG the feed must be proven by test writes, and without INFO restarts told by a marker key: this
      // user may write neither, so it polls and restarts are told by client ids (the header says it is weaker).
      expect(missing(app)).toEqual(['config', 'info', 'state-write']);
      expect(app.node.status().restartSignal).toBe('client-id');
      expect(app.node.status().missing.find((m) => m.capability === 'config')?.detail).toMatch(/NOPERM/);
      expect(app.node.status().feed).toBe('polling');
      expect(app.target.status()).toMatchObject({ health: 'degraded' });
      expect(app.target.status().problem).toMatch(/lacks .*config/);
      await admin.set('lock:strict:b', 'owner-b', 'PX', 60_000);
      await waitFor(() => client.byKey('lock:strict:b'), 'a lock found by polling', 3000);

      const reply = await api<ReleaseResponse>(app.url, '/api/locks/release', {
        json: { keyBase64: seen.id, expectedOwner: 'owner-a', reason: 'try' },
        token: ADMIN_TOKEN,
      });
      expect(reply.status).toBe(503);
      expect(!reply.body.ok && reply.body.error.message).toMatch(/^Redis refused it: .*can't run this command.*Nothing was changed/);
      expect(await admin.get('lock:strict:a')).toBe('owner-a');
      expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
    } finally {
      await app.close();
      await user.remove();
    }
  });

  it('the admin ACL user: force-release, set-TTL and the audit stream work', async () => {
    const user = await createAclUser(admin, 'lockscope-admin', PASSWORD, readmeRule('lockscope-admin'));
    await admin.set('lock:admin:stuck', 'worker-7');
    await admin.set('lock:admin:forever', 'worker-8');
    const app = await startTestApp('', { ...tlsEnv(server, user), ADMIN_TOKEN }, { configureNotifications: false });
    try {
      const client = await app.connect();
      await waitFor(() => client.byKey('lock:admin:stuck') && client.byKey('lock:admin:forever'), 'both locks');
      expect(app.node.status().missing).toEqual([]);
      const released = data(
        await api<ReleaseResponse>(app.url, '/api/locks/release', { json: { key: 'lock:admin:stuck', expectedOwner: 'worker-7', reason: 'worker 7 died' }, token: ADMIN_TOKEN }),
      );
      expect(released).toMatchObject({ result: 'released' });
      expect(await admin.exists('lock:admin:stuck')).toBe(0);
      const ttl = data(
        await api<SetTtlResponse>(app.url, '/api/locks/ttl', { json: { key: 'lock:admin:forever', expectedOwner: 'worker-8', ttlMs: 30_000, reason: 'no TTL' }, token: ADMIN_TOKEN }),
      );
      expect(ttl).toMatchObject({ result: 'ttl-set', ttlMs: 30_000 });
      expect(await admin.pttl('lock:admin:forever')).toBeGreaterThan(25_000);

      // Release plans that free one holder: a redis-semaphore holder (ZREM), a Redisson permit given back to its
      // counter with the waiters told (ZREM, INCRBY, PUBLISH on a "semaphore" channel), one reader of a Redisson read
      // lock (HDEL, DEL of its timeout keys), a Symfony reader (ZREM, PEXPIREAT): every write the rule grants.
      const now = Date.now();
      await admin.zadd('semaphore:tls:jobs', now, 'holder-a', now, 'holder-b');
      await admin.pexpire('semaphore:tls:jobs', 60_000);
      await admin.set('tls-semaphore', 1);
      const [stale, alive] = [randomBytes(16), randomBytes(16)]; // Redisson permit ids: 16 random bytes
      await admin.zadd('{tls-semaphore}:timeout', now - 5000, stale, now + 60_000, alive);
      const [r1, r2] = [`${randomUUID()}:1`, `${randomUUID()}:2`];
      await admin.hset('lock:tls:rw', 'mode', 'read', r1, '1', r2, '1');
      await admin.pexpire('lock:tls:rw', 60_000);
      await admin.set(`{lock:tls:rw}:${r1}:rwlock_timeout:1`, 1, 'PX', 60_000);
      const [t1, t2] = [randomBytes(32).toString('base64'), randomBytes(32).toString('base64')];
      await admin.zadd('pdf-lock', now + 60_000, t1, now + 120_000, t2);
      await admin.pexpireat('pdf-lock', now + 120_000);
      // This server's notifications (Kg$xhe, not lockscope's to change) carry no ZADD of a key without a TTL:
      // the next reconcile scan finds it; run it now.
      await app.target.resync();
      await waitFor(
        () => ['semaphore:tls:jobs', '{tls-semaphore}:timeout', 'lock:tls:rw', 'pdf-lock'].every((k) => (client.byKey(k)?.holders?.list.length ?? 0) === 2),
        'the four locks several hold, with their holders',
      );
      const freeHolder = async (key: string, holder: string | Buffer) => {
        const owner = typeof holder === 'string' ? { expectedOwner: holder } : { expectedOwnerBase64: holder.toString('base64') };
        const json = { key, ...owner, scope: 'holder', reason: 'holder hung' };
        return data(await api<ReleaseResponse>(app.url, '/api/locks/release', { json, token: ADMIN_TOKEN }));
      };
      expect(await freeHolder('semaphore:tls:jobs', 'holder-a')).toMatchObject({ result: 'released', library: 'redis-semaphore', freed: { count: 1 } });
      expect(await admin.zrange('semaphore:tls:jobs', 0, -1)).toEqual(['holder-b']);
      expect(await freeHolder('{tls-semaphore}:timeout', stale)).toMatchObject({ result: 'released', woke: 'redisson-semaphore-channel' });
      expect(await admin.get('tls-semaphore')).toBe('2');
      expect(await freeHolder('lock:tls:rw', r1)).toMatchObject({ result: 'released', library: 'redisson-rw' });
      expect(await admin.hkeys('lock:tls:rw')).toEqual(['mode', r2]);
      expect(await admin.exists(`{lock:tls:rw}:${r1}:rwlock_timeout:1`)).toBe(0);
      expect(await freeHolder('pdf-lock', t2)).toMatchObject({ result: 'released', library: 'symfony' });
      expect(Math.abs(Number(await admin.call('PEXPIRETIME', 'pdf-lock')) - (now + 60_000))).toBeLessThan(2);

      // Every command the release script can call (and SPUBLISH, which plans use on a cluster with sharded pub/sub)
      // is allowed on the keys and channels the libraries use.
      for (const [command, ...args] of releaseScriptCommands()) expect(`${command}: ${await user.dryRun(command!, ...args)}`).toBe(`${command}: OK`);

      const entries = await auditEntries(app.url, ADMIN_TOKEN);
      expect(entries.map((e) => [e.action, e.result])).toEqual(expect.arrayContaining([['release', 'released'], ['set-ttl', 'ttl-set']]));
      expect(await admin.xlen('lockscope:audit')).toBeGreaterThanOrEqual(6);
    } finally {
      await app.close();
      await user.remove();
    }
  });

  it('without a client certificate the server refuses the handshake: the target is down and says so', async () => {
    const app = await startTestApp(server.url, { REDIS_TLS_CA_FILE: server.certs.caCert }, { configureNotifications: false });
    try {
      await waitFor(() => app.target.status().health === 'down', 'the target to be down');
      // TLS 1.3 says "certificate required" (alert 116) or just resets, depending on timing.
      expect(app.target.status().problem).toMatch(
        /^Redis is unreachable \((TLS: tlsv13 alert certificate required \(SSL alert number 116\)|.*ECONNRESET|Connection is closed\.)\): .* a client certificate it requires .*REDIS_TLS_CERT_FILE/,
      );
    } finally {
      await app.close();
    }
  });
});

describe('TLS files are checked at start-up', () => {
  let server: TestTlsRedis;

  beforeAll(async () => {
    server = await startTestTlsRedis({ authClients: 'optional' });
  });
  afterAll(async () => {
    await server?.stop();
  });

  const check = (files: Record<string, string>, now?: number) => {
    const r = resolveConfig({ REDIS_URL: server.url, ...files }, []);
    if (r.kind !== 'ok') throw new Error(JSON.stringify(r));
    const loaded = applyTlsFiles(r.config, undefined, now);
    return loaded.ok ? loaded.config : loaded.problems.join('\n');
  };

  it('puts the PEM text of good files into every TLS target', () => {
    const { certs } = server;
    const config = check({ REDIS_TLS_CA_FILE: certs.caCert, REDIS_TLS_CERT_FILE: certs.clientCert, REDIS_TLS_KEY_FILE: certs.clientKey });
    expect(typeof config !== 'string' && config.targets[0]).toMatchObject({
      kind: 'url',
      tls: { ca: readFileSync(certs.caCert, 'utf8'), cert: readFileSync(certs.clientCert, 'utf8'), key: readFileSync(certs.clientKey, 'utf8') },
    });
  });

  it('a missing file, a file that is not PEM, a key of another certificate, an expired certificate: each named by its setting', () => {
    const { certs } = server;
    const notPem = join(certs.dir, 'not-pem.txt');
    writeFileSync(notPem, 'hello\n');
    expect(check({ REDIS_TLS_CA_FILE: join(certs.dir, 'nope.crt') })).toMatch(/REDIS_TLS_CA_FILE \(--redis-tls-ca-file\): cannot read .*nope\.crt \(ENOENT\)/);
    expect(check({ REDIS_TLS_CA_FILE: notPem })).toMatch(/REDIS_TLS_CA_FILE.*not-pem\.txt holds no PEM certificate/);
    expect(check({ REDIS_TLS_CERT_FILE: certs.clientCert, REDIS_TLS_KEY_FILE: notPem })).toMatch(/REDIS_TLS_KEY_FILE.*holds no PEM private key/);
    expect(check({ REDIS_TLS_CERT_FILE: certs.clientCert, REDIS_TLS_KEY_FILE: certs.strangerKey })).toMatch(
      /REDIS_TLS_KEY_FILE.*stranger\.key is not the private key of the certificate in .*client\.crt/,
    );
    expect(check({ REDIS_TLS_CA_FILE: certs.clientKey })).toMatch(/REDIS_TLS_CA_FILE.*holds no PEM certificate/);
    const inThreeDays = Date.now() + 3 * 24 * 3600_000;
    expect(check({ REDIS_TLS_CA_FILE: certs.caCert }, inThreeDays)).toMatch(/REDIS_TLS_CA_FILE.*"CN=lockscope test CA" in .*ca\.crt expired on/);
  });

  it('createLockscope takes the same material as PEM text, for every TLS target or per target, checked the same way', async () => {
    const { certs } = server;
    const pem = (path: string) => readFileSync(path, 'utf8');
    const quiet = { clientDir: null, logger: pino({ level: 'silent' }) };
    // Without the CA the handshake fails (the test CA is private): health ok proves the option reached the connection.
    const viaOption = await createLockscope({ redis: server.url, tls: { ca: pem(certs.caCert), cert: pem(certs.clientCert), key: pem(certs.clientKey) }, ...quiet });
    const perTarget = await createLockscope({ redis: { kind: 'url', name: null, url: server.url, tls: { ca: pem(certs.caCert) } }, ...quiet });
    try {
      for (const ls of [viaOption, perTarget]) await waitFor(() => ls.status().targets[0]!.health === 'ok', 'the TLS target to be up');
    } finally {
      await viaOption.close();
      await perTarget.close();
    }
    const problems = (options: Partial<LockscopeOptions>) =>
      createLockscope({ redis: server.url, ...quiet, ...options }).then(
        () => 'started',
        (err: unknown) => (err instanceof LockscopeOptionsError ? err.problems.join('\n') : String(err)),
      );
    expect(await problems({ tls: { ca: 'hello' } })).toMatch(/^tls\.ca: the PEM text holds no PEM certificate/m);
    expect(await problems({ tls: { cert: pem(certs.clientCert), key: pem(certs.strangerKey) } })).toMatch(/^tls\.key: the key in the PEM text is not the private key of the certificate/m);
    expect(await problems({ tls: { cert: pem(certs.clientCert) } })).toMatch(/^tls: cert and key go together/m);
    expect(await problems({ redis: server.url.replace('rediss:', 'redis:'), tls: { ca: pem(certs.caCert) } })).toMatch(/^tls: no target uses TLS/m);
    expect(await problems({ redis: { kind: 'url', name: null, url: server.url, tls: { ca: 'x' } } })).toMatch(/^redis: tls\.ca: the PEM text holds no PEM certificate/m);
  });

  it('the lockscope command stops with exit code 2 and the setting\'s name when a certificate file is missing', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/src/main.ts'], {
      cwd: root,
      env: { ...process.env, REDIS_URL: server.url, REDIS_TLS_CERT_FILE: '/nonexistent/client.crt', REDIS_TLS_KEY_FILE: server.certs.clientKey },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(output).toMatch(/invalid configuration:\n {2}- REDIS_TLS_CERT_FILE \(--redis-tls-cert-file\): cannot read \/nonexistent\/client\.crt \(ENOENT\)/);
  });
});
