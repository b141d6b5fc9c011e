import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { staticClient } from '../src/http/static-client';

const SCRIPT = `console.log(${JSON.stringify('lockscope '.repeat(500))});`;
const HTML = '<!doctype html><title>lockscope</title><script type="module" src="/assets/index-Ab12Cd34.js"></script>';

/** A raw GET (fetch would decode the body and hide Content-Encoding): status, headers and the bytes as sent. */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    })
      .on('error', reject)
      .end();
  });
}

describe('static client: precompressed files, caching (real HTTP)', () => {
  let dir: string;
  let server: Server;
  let url: string;

  beforeAll(async () => {
    // A build as Vite leaves it: hashed assets with .br and .gz copies, index.html with its own.
    dir = mkdtempSync(join(tmpdir(), 'lockscope-static-'));
    mkdirSync(join(dir, 'assets'));
    for (const [name, text] of [
      ['index.html', HTML],
      ['assets/index-Ab12Cd34.js', SCRIPT],
    ] as const) {
      writeFileSync(join(dir, name), text);
      writeFileSync(join(dir, `${name}.br`), brotliCompressSync(text));
      writeFileSync(join(dir, `${name}.gz`), gzipSync(text));
    }
    writeFileSync(join(dir, 'assets', 'tiny-Zz99.css'), 'a{}');
    const app = express();
    app.get('/api/thing', (_req, res) => void res.json({ ok: true }));
    app.use(staticClient(dir));
    server = createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends brotli to a browser that accepts it, gzip to one that only accepts gzip, plain otherwise', async () => {
    const br = await get(`${url}/assets/index-Ab12Cd34.js`, { 'accept-encoding': 'gzip, deflate, br, zstd' });
    expect(br.status).toBe(200);
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers['content-type']).toMatch(/^(text|application)\/javascript; charset=utf-8$/i);
    expect(br.headers.vary).toMatch(/Accept-Encoding/i);
    expect(brotliDecompressSync(br.body).toString()).toBe(SCRIPT);
    expect(br.body.length).toBeLessThan(SCRIPT.length / 10);

    const gz = await get(`${url}/assets/index-Ab12Cd34.js`, { 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).toString()).toBe(SCRIPT);

    const plain = await get(`${url}/assets/index-Ab12Cd34.js`);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString()).toBe(SCRIPT);
    expect(plain.headers.vary).toMatch(/Accept-Encoding/i);
  });

  it('caches hashed assets for a year (immutable) and makes browsers revalidate index.html', async () => {
    const asset = await get(`${url}/assets/index-Ab12Cd34.js`, { 'accept-encoding': 'br' });
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const tiny = await get(`${url}/assets/tiny-Zz99.css`);
    expect(tiny.headers['cache-control']).toBe('public, max-age=31536000, immutable');

    for (const path of ['/', '/index.html', '/audit?lock=abc']) {
      const page = await get(`${url}${path}`, { 'accept-encoding': 'br' });
      expect(page.status, path).toBe(200);
      expect(page.headers['cache-control'], path).toBe('no-cache');
      expect(page.headers['content-encoding'], path).toBe('br');
      expect(page.headers['content-type'], path).toMatch(/^text\/html; charset=utf-8$/i);
      expect(brotliDecompressSync(page.body).toString()).toBe(HTML);
      // Revalidation: the ETag answers 304 without a body.
      const again = await get(`${url}${path}`, { 'accept-encoding': 'br', 'if-none-match': String(page.headers.etag) });
      expect(again.status, path).toBe(304);
    }
  });

  it('sends a page deeper than the dashboard back up to it (relative URLs resolve against the page), query kept', async () => {
    const deep = await get(`${url}/some/client/route?lock=abc`);
    expect(deep.status).toBe(302);
    expect(deep.headers.location).toBe('../../?lock=abc');
    expect(new URL(deep.headers.location!, `${url}/some/client/route`).href).toBe(`${url}/?lock=abc`);
    expect((await get(`${url}/one/`)).headers.location).toBe('../');
  });

  it('leaves API routes and unknown assets alone', async () => {
    expect((await get(`${url}/api/thing`)).body.toString()).toBe('{"ok":true}');
    const missing = await get(`${url}/assets/index-0ld.js`, { 'accept-encoding': 'br' });
    expect(missing.status).toBe(404);
    expect(missing.headers['cache-control'] ?? '').not.toMatch(/immutable/);
  });
});
