import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReleaseResponse } from '../../shared/admin';
import { DEFAULT_LOCK_PATTERNS, resolveConfig } from '../src/config/config';
import { api, data } from './support/admin-http';
import { startTestApp, type LiveClient, type TestApp } from './support/app';
import { startTestRedis, type TestRedis } from './support/redis';

const TOKEN = 'test-admin-token-0123456789';

/** resolveConfig with the LOCK_FORMATS file given as JSON text. */
const withFormats = (json: unknown, env: Record<string, string> = {}) =>
  resolveConfig({ LOCK_FORMATS: './lock-formats.json', ...env }, [], (path) => {
    if (path !== './lock-formats.json') throw new Error(`ENOENT: no such file, open '${path}'`);
    return typeof json === 'string' ? json : JSON.stringify(json);
  });
const problems = (r: ReturnType<typeof resolveConfig>) => (r.kind === 'error' ? r.problems.join('\n') : `not an error: ${r.kind}`);

describe('LOCK_FORMATS: validated at start-up, every problem named by its field', () => {
  it('reads a valid file: defaults filled in, its patterns scanned whatever LOCK_PATTERNS says', () => {
    const r = withFormats({ formats: [{ label: 'billing', keyPattern: 'billing:lock:*' }] }, { LOCK_PATTERNS: 'lock:*' });
    expect(r.kind).toBe('ok');
    if (r.kind !== 'ok') return;
    expect(r.config.lockFormats).toEqual([
      { label: 'billing', keyPattern: 'billing:lock:*', type: 'string', owner: { from: 'value' }, renewal: null, forceRelease: true },
    ]);
    expect(r.config.lockPatterns).toEqual(['lock:*', 'billing:lock:*']);
    expect(r.config.lockFormatsPath).toBe('./lock-formats.json');
    const defaults = withFormats({ formats: [{ label: 'jobs', keyPattern: 'jobs:*' }] });
    expect(defaults.kind === 'ok' && defaults.config.lockPatterns).toEqual([...DEFAULT_LOCK_PATTERNS, 'jobs:*']);
  });

  it('names each bad field of each format, with the setting and the file, all at once', () => {
    const text = problems(
      withFormats({
        formats: [
          { label: '', keyPattern: 'a:*', owner: { from: 'regex', pattern: '(unclosed' } },
          { label: 'b', keyPattern: 'b:*', type: 'set', renewal: { everyMs: -1 }, forceRelease: 'yes' },
          { label: 'c', keyPattern: 'c:*', type: 'hash', owner: { from: 'value' } },
          { label: 'c', keyPattern: 'd:*', owner: { from: 'json' } },
          { label: 'e', keyPattern: 'e:*', colour: 'red' },
        ],
      }),
    );
    expect(text).toMatch(/LOCK_FORMATS \(--lock-formats\) \.\/lock-formats\.json: formats\[0\]\.label: must not be empty/);
    expect(text).toMatch(/formats\[0\]\.owner\.pattern: is not a valid regular expression/);
    expect(text).toMatch(/formats\[1\]\.type: must be "string" or "hash"/);
    expect(text).toMatch(/formats\[1\]\.renewal\.everyMs: must be at least 10 ms/);
    expect(text).toMatch(/formats\[1\]\.forceRelease: must be true or false/);
    expect(text).toMatch(/formats\[2\]\.owner\.from: a hash lock names its owner with "from": "hash-field"/);
    expect(text).toMatch(/formats\[3\]\.owner\.field: is required/);
    expect(text).toMatch(/formats\[3\]\.label: "c" is already the label of formats\[2\]/);
    expect(text).toMatch(/formats\[4\]: unknown field "colour"/);
    // A label is shown as the library's name: one that would not read as itself is refused, naming the character's escape.
    const hidden = problems(withFormats({ formats: [{ label: 'billing\u200b', keyPattern: 'b:*' }, { label: 'ops\u202e', keyPattern: 'o:*' }] }));
    expect(hidden).toContain('formats[0].label: must be plain text that shows as itself, not "billing\\u{200B}"');
    expect(hidden).toContain('formats[1].label: must be plain text that shows as itself, not "ops\\u{202E}"');
  });

  it('says when the file cannot be read or is not JSON, alongside other settings\' problems', () => {
    const unreadable = () => {
      throw new Error("ENOENT: no such file or directory, open './missing.json'");
    };
    expect(problems(resolveConfig({ LOCK_FORMATS: './missing.json' }, [], unreadable))).toMatch(/LOCK_FORMATS \(--lock-formats\) \.\/missing\.json: cannot be read \(ENOENT/);
    const both = problems(withFormats('{ "formats": [ ', { PORT: 'x' }));
    expect(both).toMatch(/PORT \(--port\) = "x": must be a number/);
    expect(both).toMatch(/lock-formats\.json: is not valid JSON/);
    expect(problems(withFormats([]))).toMatch(/lock-formats\.json: the file: must be a JSON object with a "formats" array/);
  });
});

describe('declared formats in the running app: label, owner decoding, renewal, force-release rules', () => {
  let redis: TestRedis;
  let app: TestApp;
  let client: LiveClient;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lockscope-formats-'));
    const file = join(dir, 'lock-formats.json');
    writeFileSync(
      file,
      JSON.stringify({
        formats: [
          {
            label: 'billing-locks',
            keyPattern: 'billing:*',
            owner: { from: 'regex', pattern: '^(?<host>[^/]+)/(?<pid>\\d+)/[0-9a-f]+$' },
            renewal: { everyMs: 500 },
            onRelease: { publish: { channel: 'billing-released', message: '{key}' } },
          },
          { label: 'ledger', keyPattern: 'ledger:*', owner: { from: 'json', field: 'owner', fields: ['job'] }, forceRelease: false },
          { label: 'inventory', keyPattern: 'inv:*', type: 'hash', owner: { from: 'hash-field', field: 'holder', fields: ['since'] } },
          // Declared over a built-in's keys: the declaration wins for them.
          { label: 'our-redlock', keyPattern: 'redlock:ours:*' },
        ],
      }),
    );
    redis = await startTestRedis();
    app = await startTestApp(redis.url, { ADMIN_TOKEN: TOKEN, LOCK_FORMATS: file });
    client = await app.connect();
  });
  afterAll(async () => {
    await app?.close();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const live: LiveClient['until'] = (...args) => client.until(...args);
  const release = (body: object) => api<ReleaseResponse>(app.url, '/api/locks/release', { json: body, token: TOKEN });

  it('shows its label as the library, its regex groups as decoded fields, and flags missed renewals at its cadence', async () => {
    await redis.client.set('billing:invoice-9', 'web-3/4412/9f8e7d', 'PX', 30_000);
    const held = await live('billing:invoice-9');
    expect(held.library).toBe('declared:billing-locks');
    expect(held.owner?.fields).toMatchObject({ host: 'web-3', pid: '4412' });
    expect(held.expectedRenewalMs).toBe(500);
    await live('billing:invoice-9', (v) => v.state === 'renewal-overdue', 'overdue at 1.5 × 500 ms', 4000);
  });

  it('force-release deletes owner-checked and publishes what the format declares', async () => {
    await redis.client.set('billing:invoice-10', 'web-1/7/aa', 'PX', 30_000);
    const seen = await live('billing:invoice-10');
    const waiter = new Redis(redis.url);
    try {
      const message = new Promise<[string, string]>((resolve) => waiter.on('message', (ch: string, msg: string) => resolve([ch, msg])));
      await waiter.subscribe('billing-released');
      const out = data(await release({ keyBase64: seen.id, expectedOwnerBase64: seen.owner!.base64, reason: 'hung' }));
      expect(out).toMatchObject({ result: 'released', via: 'lua', woke: 'declared-channel', library: 'declared:billing-locks' });
      expect(await message).toEqual(['billing-released', 'billing:invoice-10']);
    } finally {
      waiter.disconnect();
    }
  });

  it('a format declared "forceRelease": false is never deleted (409), its JSON owner decoded', async () => {
    const value = JSON.stringify({ owner: 'ledger-worker-2', job: 'close-month', started: 1 });
    await redis.client.set('ledger:2026-05', value, 'PX', 30_000);
    const seen = await live('ledger:2026-05');
    expect(seen.library).toBe('declared:ledger');
    expect(seen.owner?.fields).toEqual({ 'owner (owner)': 'ledger-worker-2', job: 'close-month' });
    const reply = await release({ keyBase64: seen.id, expectedOwner: value, reason: 'try' });
    expect(reply.status).toBe(409);
    expect(reply.body).toMatchObject({ ok: false, error: { code: 'release_not_allowed', message: expect.stringMatching(/"forceRelease": false/) } });
    expect(await redis.client.exists('ledger:2026-05')).toBe(1);
  });

  it('a hash format names its owner by a field\'s value: release checks that value', async () => {
    await redis.client.hset('inv:sku-1', 'holder', 'picker-12', 'since', '2026-05-01T10:00:00Z');
    await redis.client.pexpire('inv:sku-1', 30_000);
    const seen = await live('inv:sku-1');
    expect(seen).toMatchObject({ library: 'declared:inventory', owner: { text: 'picker-12', fields: { since: '2026-05-01T10:00:00Z' } } });
    const wrong = data(await release({ key: 'inv:sku-1', expectedOwner: 'picker-99', reason: 'x' }));
    expect(wrong.result === 'owner-changed' && wrong.currentOwner?.text).toBe('picker-12');
    expect(data(await release({ key: 'inv:sku-1', expectedOwner: 'picker-12', reason: 'x' })).result).toBe('released');
    expect(await redis.client.exists('inv:sku-1')).toBe(0);
  });

  it('wins over a built-in adapter for the keys it declares, and only those', async () => {
    const guid = '0b6e3c1e-52a4-4c2e-9b7e-3d1f1b2a6c4d';
    await redis.client.set('redlock:ours:orders', guid, 'PX', 30_000);
    await redis.client.set('redlock:theirs:orders', guid, 'PX', 30_000);
    expect((await live('redlock:ours:orders')).library).toBe('declared:our-redlock');
    expect((await live('redlock:theirs:orders')).library).toBe('redlock-net');
  });
});
