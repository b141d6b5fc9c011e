import { randomBytes } from 'node:crypto';
import type { ProbeResult } from '../../src/targets/node/probe';

type Present = Extract<ProbeResult, { exists: true }>;

/** A string key as the probe reads it. */
export function stringResult(value: Buffer | string, pttlMs = 30_000): Present {
  const v = Buffer.isBuffer(value) ? value : Buffer.from(value);
  return { exists: true, type: 'string', pttlMs, size: v.length, value: v, fields: null };
}

/** A hash as the probe reads it: `mode` and holder fields → values. */
export function hashResult(fields: [string, string][], pttlMs = 30_000): Present {
  return { exists: true, type: 'hash', pttlMs, size: fields.length, value: null, fields: fields.map(([f, v]) => [Buffer.from(f), Buffer.from(v)]) };
}

/** A sorted set as the probe reads it: members with their scores (as text). */
export function zsetResult(members: [string | Buffer, number][], pttlMs = 30_000): Present {
  return {
    exists: true,
    type: 'zset',
    pttlMs,
    size: members.length,
    value: null,
    fields: members.map(([m, score]) => [Buffer.isBuffer(m) ? m : Buffer.from(m), Buffer.from(String(score))]),
  };
}

/** Python's `uuid.uuid1().hex` for a given time: 60-bit 100 ns ticks since 1582-10-15, version 1, RFC 4122 variant, node id. */
export function uuid1Hex(ms = Date.now()): string {
  const ticks = BigInt(ms + 12_219_292_800_000) * 10_000n;
  const low = (ticks & 0xffffffffn).toString(16).padStart(8, '0');
  const mid = ((ticks >> 32n) & 0xffffn).toString(16).padStart(4, '0');
  const hi = (((ticks >> 48n) & 0x0fffn) | 0x1000n).toString(16).padStart(4, '0');
  const seq = ((randomBytes(2).readUInt16BE() & 0x3fff) | 0x8000).toString(16).padStart(4, '0');
  return low + mid + hi + seq + randomBytes(6).toString('hex');
}
