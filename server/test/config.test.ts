import { describe, expect, it } from 'vitest';
import { DEFAULT_LOCK_PATTERNS, maskRedisUrl, resolveConfig } from '../src/config/config';

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
