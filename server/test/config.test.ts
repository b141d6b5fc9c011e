import { describe, expect, it } from 'vitest';
import { DEFAULT_LOCK_PATTERNS, maskRedisUrl, resolveConfig } from '../src/config/config';
import { describeTarget } from '../src/targets/target-set';

describe('resolveConfig', () => {
  it('uses the documented defaults with an empty environment', () => {
    const r = resolveConfig({}, []);
    expect(r.kind).toBe('ok');
    if (r.kind !== 'ok') return;
    expect(r.config).toMatchObject({ port: 7070, host: '127.0.0.1', scanCount: 500, pollMs: 1000, lockPatterns: DEFAULT_LOCK_PATTERNS });
    expect(r.config.targets).toEqual([]);
  });

  it('lets a flag win over its environment variable', () => {
    const r = resolveConfig({ PORT: '8000' }, ['--port', '9000']);
    expect(r.kind === 'ok' && r.config.port).toBe(9000);
  });

  it('splits, trims and de-duplicates lock patterns', () => {
    const r = resolveConfig({ LOCK_PATTERNS: ' lock:* , bull:*:lock,lock:* ,' }, []);
    expect(r.kind === 'ok' && r.config.lockPatterns).toEqual(['lock:*', 'bull:*:lock']);
  });

  it('reports every bad setting at once, each by name', () => {
    const r = resolveConfig({ PORT: 'abc', POLL_MS: '5', REDIS_URL: 'http://nope' }, []);
    expect(r.kind).toBe('error');
    const text = r.kind === 'error' ? r.problems.join('\n') : '';
    expect(text).toMatch(/PORT \(--port\) = "abc": must be a number/);
    expect(text).toMatch(/POLL_MS \(--poll-ms\) = "5": must be at least 50/);
    expect(text).toMatch(/REDIS_URL \(--redis-url\): must start with redis:\/\//);
  });

  it('reads boolean settings from words and refuses anything else, naming the setting', () => {
    const on = resolveConfig({ READ_ONLY: 'yes', SIMULATOR: 'on', CONFIGURE_NOTIFICATIONS: 'true' }, []);
    expect(on.kind === 'ok' && [on.config.readOnly, on.config.simulator, on.config.configureNotifications]).toEqual([true, true, true]);
    const bad = resolveConfig({ READ_ONLY: 'maybe' }, []);
    expect(bad.kind === 'error' && bad.problems.join('\n')).toMatch(/READ_ONLY \(--read-only\).*must be 1\/true or 0\/false/);
  });

  it('reads TRUST_PROXY as a hop count or a list of proxies, and refuses "trust everyone" and junk, naming the setting', () => {
    const value = (v: string | undefined, argv: string[] = []) => {
      const r = resolveConfig(v === undefined ? {} : { TRUST_PROXY: v }, argv);
      return r.kind === 'ok' ? r.config.trustProxy : r.kind === 'error' ? r.problems.join('\n') : r.kind;
    };
    expect(value(undefined)).toBe(false);
    expect(value('off')).toBe(false);
    expect(value('1')).toBe(1);
    expect(value('Loopback')).toEqual(['loopback']);
    expect(value(' loopback, 10.0.0.0/8 ,::1, fd00::/8,192.168.1.10')).toEqual(['loopback', '10.0.0.0/8', '::1', 'fd00::/8', '192.168.1.10']);
    expect(value(undefined, ['--trust-proxy', 'uniquelocal'])).toEqual(['uniquelocal']);
    expect(value('true')).toMatch(/TRUST_PROXY \(--trust-proxy\) = "true": trusting every hop/);
    expect(value('0.0.0.0/99')).toMatch(/TRUST_PROXY.*"0\.0\.0\.0\/99" is not loopback, linklocal, uniquelocal, an IP address or a CIDR/);
    expect(value('my-proxy.internal')).toMatch(/"my-proxy\.internal" is not/);
    expect(value('50')).toMatch(/hop count must be 1 to 10/);
    const help = resolveConfig({}, ['--help']);
    expect(help.kind === 'help' && help.text).toContain('--trust-proxy');
  });

  it('reads BASE_PATH as the root or a normalised path, and refuses what is not one, naming the setting', () => {
    const value = (v: string | undefined, argv: string[] = []) => {
      const r = resolveConfig(v === undefined ? {} : { BASE_PATH: v }, argv);
      return r.kind === 'ok' ? r.config.basePath : r.kind === 'error' ? r.problems.join('\n') : r.kind;
    };
    expect(value(undefined)).toBe('');
    expect(value('/')).toBe('');
    expect(value('/ops/locks')).toBe('/ops/locks');
    expect(value(' /ops/locks/ ')).toBe('/ops/locks');
    expect(value(undefined, ['--base-path', '/locks'])).toBe('/locks');
    expect(value('ops/locks')).toMatch(/^BASE_PATH \(--base-path\) = "ops\/locks": must start with \//);
    expect(value('/ops//locks')).toMatch(/must not contain \/\/, \/\.\/ or \/\.\.\//);
    expect(value('/ops/../locks')).toMatch(/must not contain/);
    expect(value('/ops/lo%20cks')).toMatch(/"lo%20cks" may only use letters, digits/);
    expect(value('/ops/locks?x=1')).toMatch(/may only use/);
  });

  it('reads REDIS_URL as one unnamed target, or as named targets (commas inside a password do not split)', () => {
    const targets = (v: string) => {
      const r = resolveConfig({ REDIS_URL: v }, []);
      return r.kind === 'ok' ? r.config.targets : r.kind === 'error' ? r.problems.join('\n') : r.kind;
    };
    expect(targets('redis://:pw@cache:6380/2')).toEqual([{ kind: 'url', name: null, url: 'redis://:pw@cache:6380/2' }]);
    expect(targets('prod=rediss://:a,b@p.internal:6380, staging=redis://s.internal')).toEqual([
      { kind: 'url', name: 'prod', url: 'rediss://:a,b@p.internal:6380' },
      { kind: 'url', name: 'staging', url: 'redis://s.internal' },
    ]);
    expect(targets('eu-1=redis://a')).toEqual([{ kind: 'url', name: 'eu-1', url: 'redis://a' }]);
  });

  it('refuses bad target lists, every problem at once, never echoing a URL', () => {
    const r = resolveConfig({ REDIS_URL: 'prod=redis://:s3cr3t@a,prod=redis://:s3cr3t@b,redis://:s3cr3t@c,bad name=redis://x,x=http://y' }, []);
    expect(r.kind).toBe('error');
    const text = r.kind === 'error' ? r.problems.join('\n') : '';
    expect(text).toMatch(/REDIS_URL \(--redis-url\): entry 2: "prod": the name is used twice/);
    expect(text).toMatch(/entry 3: give each of several targets a name/);
    expect(text).toMatch(/entry 4: the name "bad name" must be 1-32 letters/);
    expect(text).toMatch(/entry 5: must start with redis:\/\/ or rediss:\/\//);
    expect(text).not.toContain('s3cr3t');
  });

  it('never echoes a Redis URL (it may carry a password) in errors', () => {
    const r = resolveConfig({ REDIS_URL: 'rediss://:s3cr3t@' }, []);
    expect(r.kind === 'error' && r.problems.join(' ')).not.toContain('s3cr3t');
  });

  it('rejects unknown flags and stray arguments with a pointer to --help', () => {
    const r = resolveConfig({}, ['--prot', '1']);
    expect(r.kind === 'error' && r.problems[0]).toMatch(/--prot/);
    expect(resolveConfig({}, ['oops']).kind).toBe('error');
  });

  it('answers --help with every setting', () => {
    const r = resolveConfig({}, ['--help']);
    expect(r.kind).toBe('help');
    const text = r.kind === 'help' ? r.text : '';
    for (const name of ['PORT', 'HOST', 'REDIS_URL', 'LOCK_PATTERNS', 'SCAN_COUNT', 'POLL_MS']) expect(text).toContain(name);
  });
});

describe('maskRedisUrl', () => {
  it('hides the password and keeps the rest', () => {
    expect(maskRedisUrl('redis://app:hunter2@cache.internal:6380/3')).toBe('redis://app:***@cache.internal:6380/3');
    expect(maskRedisUrl('redis://localhost:6379')).toBe('redis://localhost:6379');
  });
});

describe('Sentinel and TLS settings', () => {
  const resolve = (env: Record<string, string>, argv: string[] = []) => {
    const r = resolveConfig(env, argv);
    return r.kind === 'ok' ? r.config : r.kind === 'error' ? r.problems.join('\n') : r.kind;
  };

  it('reads REDIS_SENTINELS + REDIS_SENTINEL_MASTER (and their flags) as one Sentinel target, with every credential', () => {
    const config = resolve(
      {
        REDIS_SENTINELS: 's1.internal:26380, s2.internal,[::1]:26381',
        REDIS_SENTINEL_MASTER: 'mymaster',
        REDIS_SENTINEL_PASSWORD: 'sentinel-pw',
        REDIS_USERNAME: 'lockscope',
        REDIS_PASSWORD: 'master-pw',
      },
      ['--redis-sentinel-username', 'watcher', '--redis-sentinel-tls'],
    );
    expect(typeof config !== 'string' && config.targets).toEqual([
      {
        kind: 'sentinel',
        name: null,
        sentinels: [
          { host: 's1.internal', port: 26380 },
          { host: 's2.internal', port: 26379 },
          { host: '::1', port: 26381 },
        ],
        masterName: 'mymaster',
        db: 0,
        username: 'lockscope',
        password: 'master-pw',
        sentinelUsername: 'watcher',
        sentinelPassword: 'sentinel-pw',
        tls: {},
      },
    ]);
  });

  it('reads redis+sentinel:// URLs among named targets; REDIS_SENTINEL_PASSWORD fills in where a URL names none', () => {
    const config = resolve({
      REDIS_URL: 'prod=rediss+sentinel://app:p%40ss,w@10.0.0.1:26379,10.0.0.2/orders/2?sentinelPassword=own,staging=redis+sentinel://10.1.0.1/mymaster,cache=redis://c:6379',
      REDIS_SENTINEL_PASSWORD: 'shared',
    });
    expect(typeof config !== 'string' && config.targets).toEqual([
      {
        kind: 'sentinel',
        name: 'prod',
        sentinels: [
          { host: '10.0.0.1', port: 26379 },
          { host: '10.0.0.2', port: 26379 },
        ],
        masterName: 'orders',
        db: 2,
        username: 'app',
        password: 'p@ss,w',
        sentinelPassword: 'own',
        tls: {},
      },
      { kind: 'sentinel', name: 'staging', sentinels: [{ host: '10.1.0.1', port: 26379 }], masterName: 'mymaster', db: 0, sentinelPassword: 'shared' },
      { kind: 'url', name: 'cache', url: 'redis://c:6379' },
    ]);
    const targets = typeof config !== 'string' ? config.targets : [];
    expect(targets.map(describeTarget)).toEqual([
      'rediss+sentinel://app:***@10.0.0.1:26379,10.0.0.2:26379/orders/2',
      'redis+sentinel://10.1.0.1:26379/mymaster',
      'redis://c:6379',
    ]);
  });

  it('refuses incomplete or contradictory Sentinel settings, every problem by setting, never a password', () => {
    const text = resolve({
      REDIS_URL: 'a=redis+sentinel://h1:0,h2:x/,b=redis+sentinel://h/m/1/2?pw=1,c=redis://x',
      REDIS_SENTINELS: 'h1:26379',
      REDIS_SENTINEL_PASSWORD: 'sentinel-s3cret',
    });
    expect(text).toMatch(/REDIS_URL \(--redis-url\): entry 1: "a": "h1:0" is not host:port/);
    expect(text).toMatch(/entry 1: "a": "h2:x" is not host:port/);
    expect(text).toMatch(/entry 1: "a": names no master/);
    expect(text).toMatch(/entry 2: "b": the path must be \/<master name> or \/<master name>\/<db number>/);
    expect(text).toMatch(/entry 2: "b": unknown parameter "pw"/);
    expect(resolve({ REDIS_URL: 'redis://x', REDIS_SENTINELS: 'h1:26379', REDIS_SENTINEL_MASTER: 'm' })).toMatch(/REDIS_SENTINELS \(--redis-sentinels\): set either REDIS_URL or REDIS_SENTINELS/);
    expect(resolve({ REDIS_SENTINELS: 'h1:26379' })).toMatch(/REDIS_SENTINEL_MASTER \(--redis-sentinel-master\): is required with REDIS_SENTINELS/);
    const stray = resolve({ REDIS_URL: 'redis://x', REDIS_PASSWORD: 'master-s3cret', REDIS_SENTINEL_PASSWORD: 'sentinel-s3cret', REDIS_SENTINEL_TLS: '1' });
    expect(stray).toMatch(/REDIS_PASSWORD \(--redis-password\): applies only with REDIS_SENTINELS/);
    expect(stray).toMatch(/REDIS_SENTINEL_PASSWORD \(--redis-sentinel-password\): applies only to Sentinel targets/);
    expect(stray).toMatch(/REDIS_SENTINEL_TLS \(--redis-sentinel-tls\): applies only with REDIS_SENTINELS/);
    expect(`${text}\n${stray}`).not.toMatch(/s3cret/);
  });

  it('takes TLS files only where a target uses TLS, and a client certificate only with its key', () => {
    expect(resolve({ REDIS_URL: 'redis://x', REDIS_TLS_CA_FILE: '/etc/ca.pem' })).toMatch(/REDIS_TLS_CA_FILE \(--redis-tls-ca-file\): no target uses TLS/);
    expect(resolve({ REDIS_URL: 'rediss://x', REDIS_TLS_CERT_FILE: '/c.pem' })).toMatch(/REDIS_TLS_KEY_FILE \(--redis-tls-key-file\): is required with REDIS_TLS_CERT_FILE/);
    const ok = resolve({ REDIS_URL: 'a=rediss://x,b=redis://y', REDIS_TLS_CA_FILE: '/ca.pem', REDIS_TLS_CERT_FILE: '/c.pem', REDIS_TLS_KEY_FILE: '/k.pem' });
    expect(typeof ok !== 'string' && ok.tlsFiles).toEqual({ ca: '/ca.pem', cert: '/c.pem', key: '/k.pem' });
  });

  it('--help lists the Sentinel and TLS settings', () => {
    const r = resolveConfig({}, ['--help']);
    const help = r.kind === 'help' ? r.text : '';
    for (const name of ['REDIS_SENTINELS', 'REDIS_SENTINEL_MASTER', 'REDIS_SENTINEL_PASSWORD', 'REDIS_USERNAME', 'REDIS_TLS_CA_FILE', 'REDIS_TLS_CERT_FILE', 'REDIS_TLS_KEY_FILE']) {
      expect(help).toContain(name);
    }
  });
});
