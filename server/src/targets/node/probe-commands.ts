import type { ChainableCommander, Redis } from 'ioredis';
import type { RedisKeyType } from '../../../../shared/locks';
import type { HashField, ProbedKey, ProbeResult } from '../../model/probe-result';
import { clockOffset, MAX_HASH_FIELDS, MAX_VALUE_BYTES, PROBE_BATCH } from './probe';
import { refusalOf } from './refusal';

/** A hash value is read only up to this size (longer ones are cut without being copied), as in the script. */
const READ_LIMIT = MAX_VALUE_BYTES * 32;

export interface CommandProbeOptions {
  /** The server has PEXPIRETIME (Redis ≥ 7): deadlines exact on Redis's clock, as in the script. */
  hasExpireTime: boolean;
  /** The server has HSCAN … NOVALUES (Redis ≥ 7.4), for hashes over MAX_HASH_FIELDS fields. */
  hasNoValues: boolean;
}

export interface CommandProbe {
  probed: ProbedKey[];
  /** Keys that changed type between two reads of the batch: probe them again. */
  changed: Buffer[];
  /** Keys the user may not read (ACL key permissions). */
  refused: Buffer[];
}

interface Pending {
  key: Buffer;
  type: RedisKeyType | 'none';
  pttlMs: number;
  size: number;
  value: Buffer | null;
  names: Buffer[];
  fields: HashField[] | null;
  sampled: boolean;
  changed: boolean;
}

const TYPES: Record<string, RedisKeyType> = { string: 'string', hash: 'hash', list: 'list', set: 'set', zset: 'zset', stream: 'stream' };

/**
 * The probe without scripting (a user refused EVAL): the same reads, bounded the same way, as pipelined commands
 * in a few round trips per batch — TIME, TYPE and the deadline; then each key's size and value by its type (a
 * sorted set's first members by score with their scores); for hashes, their field names, then sizes, then the
 * small values. Same `ProbeResult` shape.
 *
 * What is lost against the script: a batch is not one atomic read, so a key may change between two round trips
 * (a key found of another type is reported in `changed`, to be probed again; an owner replaced between the TTL
 * and the value reads is seen as such at the next probe). The clock is Redis's `TIME` read with the deadlines, so
 * deadlines stay exact (PEXPIRETIME) or within a round trip (PTTL, Redis < 7). A hash field *name* longer than
 * MAX_VALUE_BYTES is copied whole before it is cut (the script cuts it inside Redis).
 */
export async function probeKeysByCommands(
  redis: Redis,
  keys: Buffer[],
  options: CommandProbeOptions,
  now: () => number = Date.now,
): Promise<CommandProbe> {
  const out: CommandProbe = { probed: [], changed: [], refused: [] };
  for (let i = 0; i < keys.length; i += PROBE_BATCH) {
    const part = await probeBatch(redis, keys.slice(i, i + PROBE_BATCH), options, now);
    out.probed.push(...part.probed);
    out.changed.push(...part.changed);
    out.refused.push(...part.refused);
  }
  return out;
}

async function probeBatch(redis: Redis, keys: Buffer[], options: CommandProbeOptions, now: () => number): Promise<CommandProbe> {
  const sentAt = now();
  const first = redis.pipeline().call('TIME');
  for (const k of keys) {
    first.type(k);
    if (options.hasExpireTime) first.call('PEXPIRETIME', k);
    else first.pttl(k);
  }
  const r1 = await execSettled(first);
  const receivedAt = now();
  if (r1[0] instanceof Error) throw r1[0];
  const [sec, micro] = r1[0] as [string, string];
  const redisAt = Number(sec) * 1000 + Math.floor(Number(micro) / 1000);
  const offset = clockOffset(redis);
  offset.add(sentAt, receivedAt, redisAt);
  const observedAt = Math.round(redisAt + offset.estimate(receivedAt)!);

  const refused: Buffer[] = [];
  const pending: Pending[] = [];
  keys.forEach((key, j) => {
    const typeReply = r1[1 + j * 2];
    const ttlReply = r1[2 + j * 2];
    const err = typeReply instanceof Error ? typeReply : ttlReply instanceof Error ? ttlReply : null;
    if (err) {
      // A key this user may not read is reported; any other error fails the batch, as the script's would.
      if (refusalOf(err) === 'key') refused.push(key);
      else throw err;
      return;
    }
    const type = String(typeReply);
    let pttl = Number(ttlReply);
    if (options.hasExpireTime && pttl >= 0) pttl = Math.max(0, pttl - redisAt);
    const known = pttl === -2 || type === 'none' ? 'none' : (TYPES[type] ?? 'other');
    pending.push({ key, type: known, pttlMs: pttl, size: 0, value: null, names: [], fields: null, sampled: false, changed: false });
  });

  // Sizes and values by type.
  const second = redis.pipeline();
  const reads: [Pending, 'string' | 'size' | 'hlen' | 'zset'][] = [];
  for (const p of pending) {
    if (p.type === 'string') {
      second.getrangeBuffer(p.key, 0, MAX_VALUE_BYTES - 1).strlen(p.key);
      reads.push([p, 'string']);
    } else if (p.type === 'hash') {
      second.hlen(p.key);
      reads.push([p, 'hlen']);
    } else if (p.type === 'zset') {
      second.callBuffer('ZRANGE', p.key, 0, MAX_HASH_FIELDS - 1, 'WITHSCORES').zcard(p.key);
      reads.push([p, 'zset']);
    } else if (p.type !== 'none' && p.type !== 'other') {
      const size = { list: 'LLEN', set: 'SCARD', stream: 'XLEN' }[p.type];
      second.call(size, p.key);
      reads.push([p, 'size']);
    }
  }
  if (reads.length) {
    const r2 = await execSettled(second);
    let at = 0;
    for (const [p, kind] of reads) {
      if (kind === 'string') {
        const [value, len] = [r2[at++], r2[at++]];
        if (value instanceof Error || len instanceof Error) p.changed = true;
        else {
          p.value = value as Buffer;
          p.size = Number(len);
        }
      } else if (kind === 'zset') {
        const [page, card] = [r2[at++], r2[at++]];
        if (page instanceof Error || card instanceof Error) p.changed = true;
        else {
          p.fields = zsetMembers(page as Buffer[]);
          p.size = Number(card);
        }
      } else {
        const size = r2[at++];
        if (size instanceof Error) p.changed = true;
        else p.size = Number(size);
      }
    }
  }

  // Hash field names: all of a small hash; a bounded part of a big one (its `mode` checked apart).
  const hashes = pending.filter((p) => p.type === 'hash' && !p.changed);
  if (hashes.length) {
    const third = redis.pipeline();
    for (const p of hashes) {
      if (p.size <= MAX_HASH_FIELDS) third.hkeysBuffer(p.key);
      else if (options.hasNoValues) third.callBuffer('HSCAN', p.key, 0, 'COUNT', MAX_HASH_FIELDS, 'NOVALUES');
      else {
        // Without NOVALUES an HSCAN page carries values of any size: sample names instead, as the script does for
        // a big hash of big values.
        third.hrandfieldBuffer(p.key, MAX_HASH_FIELDS);
        p.sampled = true;
      }
      third.hexists(p.key, 'mode');
    }
    const r3 = await execSettled(third);
    hashes.forEach((p, i) => {
      const names = r3[i * 2];
      const hasMode = r3[i * 2 + 1];
      if (names instanceof Error || hasMode instanceof Error) {
        p.changed = true;
        return;
      }
      const page = (p.size > MAX_HASH_FIELDS && options.hasNoValues ? (names as [Buffer, Buffer[]])[1] : names) as Buffer[];
      const list = page.slice(0, MAX_HASH_FIELDS);
      if (p.sampled) list.sort(Buffer.compare);
      if (Number(hasMode) === 1 && !list.some((n) => n.toString('latin1') === 'mode')) list.push(Buffer.from('mode'));
      p.names = list;
    });
    await readHashValues(redis, hashes.filter((p) => !p.changed));
  }

  const out: CommandProbe = { probed: [], changed: [], refused };
  for (const p of pending) {
    if (p.changed) out.changed.push(p.key);
    else out.probed.push({ key: p.key, result: resultOf(p), observedAt, redisAt });
  }
  return out;
}

/** Each field's size, then the values small enough to read (≤ READ_LIMIT), each cut to MAX_VALUE_BYTES. */
async function readHashValues(redis: Redis, hashes: Pending[]): Promise<void> {
  type Read = { p: Pending; name: Buffer; len: number; value: Buffer | null };
  // A name too long to be any library's holder is not worth reading the value of (cut 3, as in the script).
  const perHash = hashes.map((p) => p.names.map((name): Read | null => (name.length > MAX_VALUE_BYTES ? null : { p, name, len: 0, value: null })));
  const reads = perHash.flat().filter((r): r is Read => r !== null);
  if (reads.length) {
    const lengths = await execSettled(reads.reduce((pl, r) => pl.hstrlen(r.p.key, r.name), redis.pipeline()));
    reads.forEach((r, i) => {
      const len = lengths[i];
      if (len instanceof Error) r.p.changed = true;
      else r.len = Number(len);
    });
    const small = reads.filter((r) => !r.p.changed && r.len <= READ_LIMIT);
    const values = small.length ? await execSettled(small.reduce((pl, r) => pl.hgetBuffer(r.p.key, r.name), redis.pipeline())) : [];
    small.forEach((r, i) => {
      const v = values[i];
      if (v instanceof Error) r.p.changed = true;
      else if (Buffer.isBuffer(v)) r.value = v.length > MAX_VALUE_BYTES ? v.subarray(0, MAX_VALUE_BYTES) : v;
    });
  }
  hashes.forEach((p, h) => {
    if (p.changed) return;
    p.fields = p.names.map((name, i): HashField => {
      const r = perHash[h]![i];
      if (!r) return [name.subarray(0, MAX_VALUE_BYTES), Buffer.alloc(0), 3];
      const value = r.value ?? Buffer.alloc(0);
      return r.len > MAX_VALUE_BYTES ? [name, value, 2] : [name, value];
    });
  });
}

/** Member-score pairs of a ZRANGE … WITHSCORES page as the script's fields: a member too long for any holder cut (3). */
function zsetMembers(page: Buffer[]): HashField[] {
  const fields: HashField[] = [];
  for (let i = 0; i + 1 < page.length; i += 2) {
    const [member, score] = [page[i]!, page[i + 1]!];
    fields.push(member.length > MAX_VALUE_BYTES ? [member.subarray(0, MAX_VALUE_BYTES), Buffer.alloc(0), 3] : [member, score]);
  }
  return fields;
}

function resultOf(p: Pending): ProbeResult {
  if (p.type === 'none') return { exists: false };
  if (p.type === 'string') return { exists: true, type: 'string', pttlMs: p.pttlMs, size: p.size, value: p.value, fields: null };
  if (p.type === 'hash') {
    const r: ProbeResult = { exists: true, type: 'hash', pttlMs: p.pttlMs, size: p.size, value: null, fields: p.fields ?? [] };
    return p.sampled ? { ...r, sampled: true } : r;
  }
  if (p.type === 'zset') return { exists: true, type: 'zset', pttlMs: p.pttlMs, size: p.size, value: null, fields: p.fields ?? [] };
  return { exists: true, type: p.type, pttlMs: p.pttlMs, size: p.size, value: null, fields: null };
}

/** Replies of a pipeline, an error in place of each command that failed (a key that changed type meanwhile). */
async function execSettled(pipeline: ChainableCommander): Promise<unknown[]> {
  const replies = (await pipeline.exec()) ?? [];
  return replies.map(([err, reply]) => err ?? reply);
}
