import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { Router } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LockView } from '../../shared/locks';
import type { OpenApiDocument } from '../src/admin/http/openapi';
import { api, b64, type ApiInit } from './support/admin-http';
import { startTestApp, type LiveClient, type TestApp } from './support/app';
import { startTestRedis, waitFor, type TestRedis } from './support/redis';

const TOKEN = 'openapi-test-token-0123456789';
const DOC_ID = 'https://lockscope.test/openapi.json';

/**
 * The OpenAPI document at /api/openapi.json against the real thing: every route the admin router serves is in it,
 * and every reply the real app gives (real HTTP, real Redis) validates against the schema documented for its
 * route and status; a status the document does not list fails.
 */
describe('OpenAPI document of the admin API (real app, real Redis, real HTTP)', () => {
  let redis: TestRedis;
  let app: TestApp;
  let client: LiveClient;
  let doc: OpenApiDocument;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  /** `METHOD /api/path status` of every reply seen, for the coverage check. */
  const seen = new Set<string>();
  const problems: string[] = [];
  // Declared formats, so that replies name a `declared:<label>` library and a format may refuse force-release.
  const formatsDir = mkdtempSync(join(tmpdir(), 'lockscope-openapi-'));
  const formatsFile = join(formatsDir, 'lock-formats.json');
  writeFileSync(
    formatsFile,
    JSON.stringify({
      formats: [
        { label: 'billing', keyPattern: 'billing:oa:*' },
        { label: 'frozen', keyPattern: 'frozen:oa:*', forceRelease: false },
      ],
    }),
  );

  beforeAll(async () => {
    redis = await startTestRedis();
    app = await startTestApp(redis.url, { ADMIN_TOKEN: TOKEN, LOCK_FORMATS: formatsFile });
    client = await app.connect();
    const res = await fetch(`${app.url}/api/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    doc = (await res.json()) as OpenApiDocument;
    ajv.addSchema({ ...doc, $id: DOC_ID });
  });
  afterAll(async () => {
    await app?.close();
    await redis?.stop();
    rmSync(formatsDir, { recursive: true, force: true });
  });

  /** A real request; its reply is checked against the document (problems are collected and asserted per test). */
  async function call(method: string, path: string, init: ApiInit = {}, baseUrl = app.url) {
    const reply = await api(baseUrl, path, { ...init, method });
    const route = path.split('?')[0]!;
    const key = `${method} ${route} ${reply.status}`;
    seen.add(key);
    const responses = (doc.paths[route]?.[method.toLowerCase()] as { responses?: Record<string, unknown> } | undefined)?.responses;
    if (!responses) problems.push(`${method} ${route}: not documented`);
    else if (!responses[reply.status]) problems.push(`${key}: status not documented (body ${JSON.stringify(reply.body)})`);
    else {
      const pointer = `#/paths/${route.replace(/~/g, '~0').replace(/\//g, '~1')}/${method.toLowerCase()}/responses/${reply.status}/content/application~1json/schema`;
      const validate = ajv.getSchema(`${DOC_ID}${pointer}`);
      if (!validate) problems.push(`${key}: no schema at ${pointer}`);
      else if (!validate(reply.body)) problems.push(`${key}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(reply.body).slice(0, 400)}`);
    }
    return reply;
  }
  const expectNoProblems = () => expect(problems.splice(0)).toEqual([]);

  const row = (key: string, ok: (l: LockView) => boolean = (l) => l.endedAt === null) =>
    waitFor(() => {
      const l = client.byKey(key);
      return l && ok(l) ? l : undefined;
    }, `lockscope to show ${key}`);

  it('is a valid OpenAPI 3.1 document whose request schemas accept what the server accepts', async () => {
    const checked = await new Validator().validate(doc);
    expect(checked.errors ?? []).toEqual([]);
    expect(checked.valid).toBe(true);
    expect(doc.openapi).toBe('3.1.0');
    const body = (id: string) => ajv.getSchema(`${DOC_ID}#/components/schemas/${id}`)!;
    expect(body('ReleaseRequest')({ key: 'lock:a', expectedOwner: 'me', reason: 'r' })).toBe(true);
    expect(body('ReleaseRequest')({ keyBase64: b64('lock:a'), expectedOwnerBase64: b64('me'), reason: 'r' })).toBe(true);
    // What zod's refinement refuses, the document says too: exactly one of each pair.
    expect(body('ReleaseRequest')({ key: 'lock:a', keyBase64: b64('lock:a'), expectedOwner: 'me', reason: 'r' })).toBe(false);
    expect(body('ReleaseRequest')({ expectedOwner: 'me', reason: 'r' })).toBe(false);
    expect(body('SetTtlRequest')({ key: 'lock:a', expectedOwner: 'me', ttlMs: 50, reason: 'r' })).toBe(false);
    expect(body('BulkReleaseRequest')({ locks: [{ key: 'a', expectedOwner: 'b' }], reason: 'r' })).toBe(true);
  });

  it('documents every route the admin router serves, and nothing it does not', () => {
    const served = routesOf(app.app.admin.router).map(({ method, path }) => `${method} /api${path}`);
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));
    expect(served.length).toBeGreaterThanOrEqual(8);
    expect(documented.sort()).toEqual(served.sort());
  });

  it('session replies match: anonymous, bearer, login (right, wrong, malformed, too big, not JSON), logout', async () => {
    await call('GET', '/api/session');
    await call('GET', '/api/session', { token: TOKEN });
    await call('POST', '/api/session', { json: { token: 'wrong-token-wrong-token' } });
    await call('POST', '/api/session', { json: { token: 42 } });
    await call('POST', '/api/session', { raw: '{"token":' });
    await call('POST', '/api/session', { raw: JSON.stringify({ token: 'x'.repeat(20_000) }) });
    await call('POST', '/api/session', { raw: 'token=x', contentType: 'application/x-www-form-urlencoded' });
    const login = await call('POST', '/api/session', { json: { token: TOKEN } });
    expect(login.status).toBe(200);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    await call('GET', '/api/session', { cookie });
    await call('DELETE', '/api/session', { cookie });
    await call('DELETE', '/api/session', { cookie, headers: { origin: 'http://evil.example' } });
    expectNoProblems();
  });

  it('release and set-TTL replies match for every outcome and refusal', async () => {
    await redis.client.set('lock:oa:released', 'owner-1', 'PX', 60_000);
    await redis.client.set('lock:oa:taken', 'owner-new', 'PX', 60_000);
    await redis.client.set('lock:oa:gone', 'owner-g', 'PX', 60_000);
    await redis.client.set('lock:oa:stuck', 'owner-s');
    await redis.client.hset('lock:oa:shared', 'mode', 'read', 'reader-a:1', '1', 'reader-b:2', '1');
    await redis.client.pexpire('lock:oa:shared', 60_000);
    await redis.client.rpush('lock:oa:list', 'x');
    // A redis-semaphore pool of three holders, and locks of the declared formats.
    const now = Date.now();
    await redis.client.zadd('semaphore:oa', now, 'holder-a', now, 'holder-b', now, 'holder-c');
    await redis.client.pexpire('semaphore:oa', 60_000);
    await redis.client.set('billing:oa:1', 'invoice-run-7', 'PX', 60_000);
    await redis.client.set('frozen:oa:1', 'ledger-close', 'PX', 60_000);
    for (const k of ['lock:oa:released', 'lock:oa:taken', 'lock:oa:gone', 'lock:oa:stuck', 'lock:oa:shared', 'semaphore:oa', 'billing:oa:1']) await row(k);
    await redis.client.del('lock:oa:gone');
    await app.target.resync();
    await row('lock:oa:list', () => true);

    const release = (json: object, init: ApiInit = {}) => call('POST', '/api/locks/release', { token: TOKEN, json, ...init });
    expect((await release({ key: 'lock:oa:released', expectedOwner: 'owner-1', reason: 'r' })).status).toBe(200);
    await release({ key: 'lock:oa:taken', expectedOwner: 'owner-old', reason: 'r' });
    await release({ key: 'lock:oa:gone', expectedOwner: 'owner-g', reason: 'r' });
    await release({ key: 'lock:oa:shared', expectedOwner: 'reader-a:1', reason: 'r' });
    await release({ key: 'lock:oa:never', expectedOwner: 'x', reason: 'r' });
    await release({ key: 'lock:oa:list', expectedOwner: 'x', reason: 'r' });
    await release({ key: 'lock:oa:taken', reason: 'r' });
    await release({ key: 'lock:oa:taken', expectedOwner: 'x', reason: 'r' }, { token: undefined });
    await release({ key: 'lock:oa:taken', expectedOwner: 'x', reason: 'r' }, { headers: { origin: 'http://evil.example' } });
    // Holders: one freed alone, the lock refused whole while others hold it, then every holder; scopes that do not fit.
    const one = await release({ key: 'semaphore:oa', expectedOwner: 'holder-a', reason: 'r', scope: 'holder' });
    expect(one.body).toMatchObject({ ok: true, data: { result: 'released', library: 'redis-semaphore', freed: { count: 1 } } });
    expect(((await release({ key: 'semaphore:oa', expectedOwner: 'holder-b', reason: 'r' })).body as { data: { result: string } }).data.result).toBe('shared');
    const all = await release({ key: 'semaphore:oa', expectedOwner: 'holder-b', reason: 'r', scope: 'all' });
    expect(all.body).toMatchObject({ ok: true, data: { result: 'released', freed: { count: 2 } } });
    expect((await release({ key: 'lock:oa:taken', expectedOwner: 'owner-new', reason: 'r', scope: 'holder' })).body).toMatchObject({ error: { code: 'release_not_allowed' } });
    expect((await release({ key: 'frozen:oa:1', expectedOwner: 'ledger-close', reason: 'r' })).body).toMatchObject({ error: { code: 'release_not_allowed' } });
    await release({ key: 'lock:oa:taken', expectedOwner: 'owner-new', reason: 'r', scope: 'some' });
    const declared = await release({ key: 'billing:oa:1', expectedOwner: 'invoice-run-7', reason: 'r' });
    expect(declared.body).toMatchObject({ ok: true, data: { result: 'released', library: 'declared:billing' } });

    const ttl = (json: object) => call('POST', '/api/locks/ttl', { token: TOKEN, json });
    expect((await ttl({ key: 'lock:oa:stuck', expectedOwner: 'owner-s', ttlMs: 60_000, reason: 'r' })).status).toBe(200);
    await ttl({ key: 'lock:oa:stuck', expectedOwner: 'owner-s', ttlMs: 60_000, reason: 'r' });
    await ttl({ key: 'lock:oa:taken', expectedOwner: 'owner-old', ttlMs: 60_000, reason: 'r' });
    await ttl({ key: 'lock:oa:gone', expectedOwner: 'owner-g', ttlMs: 60_000, reason: 'r' });
    await ttl({ key: 'lock:oa:stuck', expectedOwner: 'owner-s', ttlMs: 1, reason: 'r' });

    const bulk = await call('POST', '/api/locks/release-bulk', {
      token: TOKEN,
      json: {
        locks: [
          { key: 'lock:oa:taken', expectedOwner: 'owner-old' },
          { key: 'lock:oa:shared', expectedOwner: 'reader-b:2' },
          { keyBase64: b64('lock:oa:gone'), expectedOwnerBase64: b64('owner-g') },
          { key: 'lock:oa:never', expectedOwner: 'x' },
          { key: 'lock:oa:list', expectedOwner: 'x' },
        ],
        reason: 'cleanup',
      },
    });
    expect(bulk.status).toBe(200);
    await call('POST', '/api/locks/release-bulk', { token: TOKEN, json: { locks: [], reason: 'r' } });
    expectNoProblems();
  });

  it('audit log replies match: a page with every kind of entry so far, a bad query, no credentials', async () => {
    const page = await call('GET', '/api/audit?count=1000', { token: TOKEN });
    expect(page.status).toBe(200);
    await call('GET', '/api/audit?count=0', { token: TOKEN });
    await call('GET', '/api/audit');
    expectNoProblems();
  });

  it('read-only, open mode, rate limits and Redis down give documented replies', async () => {
    const readOnly = await startTestApp(redis.url, { READ_ONLY: '1' });
    const open = await startTestApp(redis.url, {}, { embedded: true });
    // Its own failed-login limiter, so the wrong tokens below leave the main app's alone.
    const limited = await startTestApp(redis.url, { ADMIN_TOKEN: TOKEN });
    try {
      await call('POST', '/api/session', { json: { token: TOKEN } }, readOnly.url);
      await call('GET', '/api/audit', {}, readOnly.url);
      await call('POST', '/api/locks/release', { json: { key: 'lock:x', expectedOwner: 'x', reason: 'r' } }, readOnly.url);
      await call('POST', '/api/session', { json: { token: TOKEN } }, open.url);
      await call('GET', '/api/session', {}, open.url);
      // Wrong tokens until the failed-login limit answers 429 (this app's limiter only).
      for (let i = 0; i < 11; i++) await call('GET', '/api/session', { token: `wrong-${i}-0123456789abcdef` }, limited.url);
      expect(seen.has('GET /api/session 429')).toBe(true);
      await call('POST', '/api/locks/release', { token: TOKEN, json: { key: 'lock:x', expectedOwner: 'x', reason: 'r' } }, limited.url);
    } finally {
      await readOnly.close();
      await open.close();
      await limited.close();
    }
    await redis.client.set('lock:oa:late', 'owner-l', 'PX', 60_000);
    await row('lock:oa:late');
    const port = redis.port;
    await redis.stop();
    try {
      await waitFor(async () => (await fetch(`${app.url}/healthz`)).status === 503, 'lockscope to notice Redis is gone');
      await call('POST', '/api/locks/release', { token: TOKEN, json: { key: 'lock:oa:late', expectedOwner: 'owner-l', reason: 'r' } });
      await call('GET', '/api/audit', { token: TOKEN });
    } finally {
      redis = await startTestRedis({ port });
    }
    expectNoProblems();
  });

  it('every operation was seen succeeding, and every documented error status was produced by a real request', () => {
    const ops = Object.entries(doc.paths).flatMap(([path, o]) =>
      Object.entries(o).map(([m, op]) => ({ method: m.toUpperCase(), path, statuses: Object.keys((op as { responses: object }).responses) })),
    );
    const missing200 = ops.filter((o) => !seen.has(`${o.method} ${o.path} 200`) && o.path !== '/api/openapi.json').map((o) => `${o.method} ${o.path}`);
    expect(missing200).toEqual([]);
    const errorStatuses = new Set([...seen].map((s) => s.split(' ')[2]!).filter((s) => s !== '200'));
    expect([...errorStatuses].sort()).toEqual(['400', '401', '403', '404', '409', '413', '415', '429', '503']);
  });
});

/** `{ method, path }` of every route an Express router serves (its own route layers). */
function routesOf(router: Router): { method: string; path: string }[] {
  const stack = (router as unknown as { stack: { route?: { path: string; methods: Record<string, boolean> } }[] }).stack;
  return stack.flatMap((layer) =>
    layer.route ? Object.keys(layer.route.methods).filter((m) => m !== '_all').map((method) => ({ method, path: layer.route!.path })) : [],
  );
}
