import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Result } from '../../shared/result';
import { startTestApp, type TestApp } from './support/app';
import { fakeClientBuild } from './support/client-build';
import { startTestRedis, type TestRedis } from './support/redis';

const TOKEN = 'api-errors-suite-token-abcdef';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** One raw HTTP request (any method, a body on any of them, the path sent exactly as given). */
function send(base: string, method: string, path: string, init: { body?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const length = init.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(init.body)) };
    const req = request({ host: url.hostname, port: url.port, method, path, headers: { ...length, ...init.headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** The reply is the API's JSON error shape with this code. */
function expectError(reply: Reply, status: number, code: string): string {
  expect(reply.status).toBe(status);
  expect(reply.headers['content-type']).toMatch(/^application\/json/);
  const body = JSON.parse(reply.text) as Result<unknown>;
  expect(body.ok).toBe(false);
  if (body.ok) throw new Error('not an error');
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(10);
  return body.error.message;
}

/**
 * `path` leads to the dashboard: index.html, or (a page deeper than the dashboard's directory) a redirect up to it,
 * relative to the path, so that the page's relative URLs resolve (static-client.ts).
 */
async function dashboard(base: string, path: string): Promise<boolean> {
  let page = await send(base, 'GET', path);
  if (page.status === 302) page = await send(base, 'GET', new URL(String(page.headers.location), new URL(path, base)).pathname);
  return page.status === 200 && /^text\/html/.test(String(page.headers['content-type']));
}

describe('every /api answer is a JSON Result (real app, real HTTP)', () => {
  let redis: TestRedis;
  let app: TestApp;
  let client: ReturnType<typeof fakeClientBuild>;
  let based: TestApp;
  const bearer = { authorization: `Bearer ${TOKEN}` };

  beforeAll(async () => {
    redis = await startTestRedis();
    client = fakeClientBuild();
    app = await startTestApp(redis.url, { ADMIN_TOKEN: TOKEN }, { app: { clientDir: client.dir } });
    based = await startTestApp(redis.url, { ADMIN_TOKEN: TOKEN, BASE_PATH: '/ops/locks' }, { app: { clientDir: client.dir } });
  });
  afterAll(async () => {
    await based?.close();
    await app?.close();
    await redis?.stop();
    client?.remove();
  });

  it('unknown paths are 404 not_found, naming the routes there are; the dashboard still serves its own paths', async () => {
    for (const path of ['/api/nope', '/api', '/api/', '/api/locks', '/api/session/extra', '/api/%E0%A4%A', '/api/..%2f..%2fetc/passwd']) {
      const message = expectError(await send(app.url, 'GET', path), 404, 'not_found');
      expect(message).toContain('POST /api/locks/release');
    }
    expectError(await send(app.url, 'POST', '/api/nope', { body: '{"a":1}', headers: { 'content-type': 'application/json', ...bearer } }), 404, 'not_found');
    for (const path of ['/', '/locks/lock:orders:42', '/audit']) expect(await dashboard(app.url, path)).toBe(true);
    expect((await send(app.url, 'GET', '/healthz')).status).toBe(200);
  });

  it('a wrong method on a known path is 405 method_not_allowed with an Allow header', async () => {
    const put = await send(app.url, 'PUT', '/api/locks/release', { body: '{}', headers: { 'content-type': 'application/json', ...bearer } });
    expect(expectError(put, 405, 'method_not_allowed')).toContain('use POST');
    expect(put.headers.allow).toBe('POST');
    const get = await send(app.url, 'GET', '/api/locks/ttl');
    expectError(get, 405, 'method_not_allowed');
    expect(get.headers.allow).toBe('POST');
    const patch = await send(app.url, 'PATCH', '/api/session');
    expectError(patch, 405, 'method_not_allowed');
    expect(patch.headers.allow!.toString().split(', ').sort()).toEqual(['DELETE', 'GET', 'HEAD', 'POST']);
    // Nothing was released by any of them, and nothing crashed: the API still answers.
    expect((await send(app.url, 'GET', '/api/session')).status).toBe(200);
  });

  it('HEAD answers as GET without a body, or with the error status; OPTIONS lists the methods', async () => {
    const head = await send(app.url, 'HEAD', '/api/session');
    expect(head.status).toBe(200);
    expect(head.headers['content-type']).toMatch(/^application\/json/);
    expect(head.text).toBe('');
    const headPost = await send(app.url, 'HEAD', '/api/locks/release');
    expect(headPost.status).toBe(405);
    expect(headPost.headers.allow).toBe('POST');
    expect(headPost.headers['content-type']).toMatch(/^application\/json/);
    const headNone = await send(app.url, 'HEAD', '/api/nope');
    expect(headNone.status).toBe(404);
    expect(headNone.headers['content-type']).toMatch(/^application\/json/);

    const options = await send(app.url, 'OPTIONS', '/api/locks/release');
    expect(options.status).toBe(204);
    expect(options.headers.allow).toBe('POST, OPTIONS');
    expect(options.text).toBe('');
    expectError(await send(app.url, 'OPTIONS', '/api/nope'), 404, 'not_found');
  });

  it('covers the OpenAPI document\'s path like every other', async () => {
    const doc = await send(app.url, 'GET', '/api/openapi.json');
    expect(doc.status).toBe(200);
    expect((JSON.parse(doc.text) as { openapi: string }).openapi).toMatch(/^3\./);
    const post = await send(app.url, 'POST', '/api/openapi.json', { body: '{}', headers: { 'content-type': 'application/json' } });
    expect(expectError(post, 405, 'method_not_allowed')).toContain('use GET');
    expect(post.headers.allow!.toString().split(', ').sort()).toEqual(['GET', 'HEAD']);
    const options = await send(app.url, 'OPTIONS', '/api/openapi.json');
    expect(options.status).toBe(204);
    expect(options.headers.allow!.toString().split(', ').sort()).toEqual(['GET', 'HEAD', 'OPTIONS']);
    expectError(await send(app.url, 'GET', '/api/openapi.json/x'), 404, 'not_found');
  });

  it('under a base path: the same JSON answers, naming the routes where they are; the dashboard and /healthz beside them', async () => {
    for (const path of ['/ops/locks/api', '/ops/locks/api/', '/ops/locks/api/nope', '/ops/locks/api/%E0%A4%A']) {
      const message = expectError(await send(based.url, 'GET', path), 404, 'not_found');
      expect(message).toContain('POST /ops/locks/api/locks/release');
      expect(message).toContain('GET /ops/locks/api/openapi.json');
    }
    const put = await send(based.url, 'PUT', '/ops/locks/api/openapi.json');
    expectError(put, 405, 'method_not_allowed');
    const options = await send(based.url, 'OPTIONS', '/ops/locks/api/locks/release');
    expect(options.status).toBe(204);
    expect(options.headers.allow).toBe('POST, OPTIONS');
    expect((await send(based.url, 'GET', '/ops/locks/api/session')).status).toBe(200);
    expect((await send(based.url, 'GET', '/ops/locks/api/openapi.json')).status).toBe(200);
    for (const path of ['/ops/locks/', '/ops/locks/audit', '/ops/locks/locks/lock:orders:42']) expect(await dashboard(based.url, path)).toBe(true);
    expect((await send(based.url, 'GET', '/ops/locks/healthz')).status).toBe(200);
    // Outside the base path, /api is not lockscope's: no JSON error from it there.
    expect((await send(based.url, 'GET', '/api/nope')).headers['content-type'] ?? '').not.toMatch(/^application\/json/);
  });

  it('malformed query strings are 400 bad_request naming the parameter; a body on a GET is ignored', async () => {
    for (const query of ['count=%zz', 'count=1&count=2', 'count=-1', 'before=1;DROP', 'count[a]=1', 'cnt=5']) {
      const message = expectError(await send(app.url, 'GET', `/api/audit?${query}`, { headers: bearer }), 400, 'bad_request');
      expect(message).toMatch(/^Invalid query: (count|before|query): /);
    }
    expect(expectError(await send(app.url, 'GET', '/api/audit?cnt=5', { headers: bearer }), 400, 'bad_request')).toContain('unknown parameter "cnt"');
    const ok = await send(app.url, 'GET', '/api/audit?count=5', { headers: bearer });
    expect(ok.status).toBe(200);
    expect((JSON.parse(ok.text) as Result<unknown>).ok).toBe(true);

    // A GET's body has no meaning: it is not read, and the answer is the GET's.
    const withBody = await send(app.url, 'GET', '/api/session', { body: '{"token":', headers: { 'content-type': 'application/json' } });
    expect(withBody.status).toBe(200);
    expect((JSON.parse(withBody.text) as Result<unknown>).ok).toBe(true);
    const bodyOnDelete = await send(app.url, 'DELETE', '/api/session', { body: 'x'.repeat(100_000), headers: { 'content-type': 'text/plain' } });
    expect(bodyOnDelete.headers['content-type']).toMatch(/^application\/json/);
  });
});
