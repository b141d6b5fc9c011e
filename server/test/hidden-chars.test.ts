import { describe, expect, it } from 'vitest';
import { AUDIT_STREAM, type ReleaseResponse } from '../../shared/admin';
import { api, auditEntries, b64, data } from './support/admin-http';
import { liveApp } from './support/app';
import { waitFor } from './support/redis';

const TOKEN = 'hidden-chars-suite-token-abcdef';

describe('keys, owners, decoded fields and reasons with hidden characters (real app, real Redis)', () => {
  const suite = liveApp({ ADMIN_TOKEN: TOKEN });

  const byId = (key: string) => waitFor(() => suite.client.locks.get(b64(key)), key);

  it('confusable keys and owners arrive escaped and distinct, with their exact bytes', async () => {
    await suite.redis.client.set('lock:orders:42', 'worker-1', 'PX', 60_000);
    await suite.redis.client.set('lock:orders:4\u200b2', 'worker-1', 'PX', 60_000);
    await suite.redis.client.set('lock:orders:\u202e24', 'owner-\u202etxt.exe', 'PX', 60_000);
    const plain = await byId('lock:orders:42');
    const zwsp = await byId('lock:orders:4\u200b2');
    const rlo = await byId('lock:orders:\u202e24');
    expect(plain.key).toEqual({ text: 'lock:orders:42', base64: b64('lock:orders:42'), binary: false, escaped: false });
    expect(zwsp.key).toEqual({ text: 'lock:orders:4\\u{200B}2', base64: b64('lock:orders:4\u200b2'), binary: false, escaped: true });
    expect(rlo.key).toEqual({ text: 'lock:orders:\\u{202E}24', base64: b64('lock:orders:\u202e24'), binary: false, escaped: true });
    expect(rlo.owner).toMatchObject({ text: 'owner-\\u{202E}txt.exe', base64: b64('owner-\u202etxt.exe'), binary: false, escaped: true });
    expect(plain.owner).toMatchObject({ text: 'worker-1', escaped: false });

    // The history's owner texts are the shown ones too.
    const history = await suite.client.socket.emitWithAck('lock:history', rlo.id);
    expect(history.ok && history.data.events[0]?.owner).toBe('owner-\\u{202E}txt.exe');
  });

  it('decoded owner fields are escaped', async () => {
    await suite.redis.client.set('job-lock:default:report', 'ADDED:2026-01-02T03:04:05.678Z@host-\u202e1.internal', 'PX', 60_000);
    const shed = await byId('job-lock:default:report');
    expect(shed.library).toBe('shedlock');
    expect(shed.owner?.fields.host).toBe('host-\\u{202E}1.internal');
  });

  it('fields decoded from a key name read as its UTF-8 text, escaped', async () => {
    // RedLock.net: `redlock:<resource>` holding a version-4 UUID; the resource is a field.
    await suite.redis.client.set('redlock:orders:\u202e24:café', '3b241101-e2bb-4255-8caf-4136c566a962', 'PX', 60_000);
    const v = await byId('redlock:orders:\u202e24:café');
    expect(v.library).toBe('redlock-net');
    expect(v.owner?.fields.resource).toBe('orders:\\u{202E}24:café');
  });

  it("a semaphore's holders: tokens and their decoded fields escaped, told apart by their bytes, one freed by its exact bytes", async () => {
    // redis-semaphore: members are `<uuid>-<suffix>`, scored with each holder's Date.now().
    const id = '2f9d3c1e-6a7b-4c8d-9e0f-1a2b3c4d5e6f';
    const hidden = `${id}-worker\u200b1`;
    const plain = `${id}-worker1`;
    await suite.redis.client.zadd('semaphore:exports', Date.now(), hidden, Date.now(), plain);
    await suite.redis.client.pexpire('semaphore:exports', 60_000);
    const v = await waitFor(() => {
      const l = suite.client.locks.get(b64('semaphore:exports'));
      return l?.holders?.list.length === 2 ? l : undefined;
    }, 'two holders');
    expect(v.library).toBe('redis-semaphore');
    const byToken = new Map(v.holders!.list.map((h) => [h.token.base64, h]));
    expect(byToken.get(b64(hidden))).toMatchObject({ token: { text: `${id}-worker\\u{200B}1`, binary: false, escaped: true }, fields: { suffix: 'worker\\u{200B}1' } });
    expect(byToken.get(b64(plain))).toMatchObject({ token: { text: plain, binary: false, escaped: false }, fields: { suffix: 'worker1' } });

    const freed = data(
      await api<ReleaseResponse>(suite.app.url, '/api/locks/release', {
        token: TOKEN,
        json: { keyBase64: v.id, expectedOwnerBase64: b64(hidden), scope: 'holder', reason: 'stuck worker' },
      }),
    );
    expect(freed).toMatchObject({ result: 'released', freed: { count: 1, holders: [{ text: `${id}-worker\\u{200B}1`, escaped: true }] } });
    expect(await suite.redis.client.zrange('semaphore:exports', 0, -1)).toEqual([plain]);
    const [entry] = await auditEntries(suite.app.url, TOKEN, 1);
    expect(entry).toMatchObject({ ownerSeen: { text: `${id}-worker\\u{200B}1`, base64: b64(hidden), escaped: true } });
    const history = await suite.client.socket.emitWithAck('lock:history', v.id);
    expect(history.ok && history.data.events.find((e) => e.kind === 'holder-force-released')?.holder).toBe(`${id}-worker\\u{200B}1`);
  });

  it('an admin release by exact bytes works, and the audit log shows key, owner and reason escaped (stored as written)', async () => {
    const key = 'lock:orders:\u202e24';
    const reason = 'INC-7 \u202egnp.exe';
    const released = data(
      await api<ReleaseResponse>(suite.app.url, '/api/locks/release', {
        token: TOKEN,
        json: { keyBase64: b64(key), expectedOwnerBase64: b64('owner-\u202etxt.exe'), reason },
      }),
    );
    expect(released).toMatchObject({ result: 'released', key: { text: 'lock:orders:\\u{202E}24', escaped: true } });
    expect(await suite.redis.client.exists(key)).toBe(0);
    const [entry] = await auditEntries(suite.app.url, TOKEN, 1);
    expect(entry).toMatchObject({
      key: { text: 'lock:orders:\\u{202E}24', base64: b64(key) },
      ownerSeen: { text: 'owner-\\u{202E}txt.exe' },
      reason: 'INC-7 \\u{202E}gnp.exe',
    });
    // The stream keeps the reason exactly as it was given.
    const fields = (await suite.redis.client.xrevrange(AUDIT_STREAM, '+', '-', 'COUNT', 1))[0]![1];
    expect(fields[fields.indexOf('reason') + 1]).toBe(reason);
  });

  it('names the caller made up are escaped in error messages', async () => {
    const reply = await api(suite.app.url, '/api/locks/release', {
      token: TOKEN,
      json: { key: 'lock:orders:42', expectedOwner: 'worker-1', reason: 'x', '\u202edleif': 1 },
    });
    expect(reply.status).toBe(400);
    expect(!reply.body.ok && reply.body.error.message).toContain('unknown field "\\u{202E}dleif"');
  });
});
