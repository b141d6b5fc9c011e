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
