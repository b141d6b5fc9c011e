/** Helpers every adapter uses: token shapes, owned strings, the base recognition. */
import type { LibraryId } from '../../../shared/libraries';
import { isPlainText, visibleText } from '../model/bytes';
import type { Recognition } from './adapter';

export const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
/** `UUID.randomUUID().toString()` (Java), `crypto.randomUUID()` (Node), `SecureRandom.uuid` (Ruby), `Guid.NewGuid()` (.NET): lower-case, version 4, RFC 4122 variant. */
export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
export const HEX32 = /^[0-9a-f]{32}$/;

export const YEAR_2000_MS = 946_684_800_000;
export const YEAR_2100_MS = 4_102_444_800_000;

/** An epoch-ms time of this century (a score or value that is a timestamp, not a counter). */
export function isEpochMs(ms: number): boolean {
  return Number.isFinite(ms) && ms > YEAR_2000_MS && ms < YEAR_2100_MS;
}

/**
 * A copy of a substring that does not keep its parent alive: V8 represents `slice()`s of 13+ characters as views
 * into the parent string, and fields are kept for as long as the lock is tracked (see bench/inspector-heap.ts).
 */
export function own(s: string): string {
  return s.length < 13 ? s : Buffer.from(s, 'utf8').toString('utf8');
}

/**
 * Field values as owned strings, as they may be shown (hidden characters escaped: `visibleText`). Applied once to
 * every recognition's fields and its holders' fields by the registry (registry.ts), never by an adapter.
 */
export function owned(fields: Record<string, string>): Record<string, string> {
  for (const k of Object.keys(fields)) fields[k] = own(visibleText(fields[k]!));
  return fields;
}

// eslint-disable-next-line no-control-regex
const ASCII = /^[\x00-\x7f]*$/;

/**
 * A part of a key name or value as adapters match them (latin1: one character per byte, so patterns see the exact
 * bytes) as the UTF-8 text it spells, for a decoded field: `lock:café` is named `café`, not `cafÃ©`.
 */
export function utf8Of(latin1: string): string {
  return ASCII.test(latin1) ? latin1 : Buffer.from(latin1, 'latin1').toString('utf8');
}

/** A recognition with nothing decoded yet. */
export function lockOf(library: LibraryId, owner: Buffer | null): Recognition {
  return { library, role: 'lock', owner, ownerCut: false, shared: false, fields: {}, reentryCount: null, acquiredAt: null, renewal: null, group: null };
}

/** A helper key's recognition: it never shows as a lock. */
export function helperKey(library: LibraryId): Recognition {
  return { ...lockOf(library, null), role: 'side-key' };
}

export function isPlainAscii(buf: Buffer): boolean {
  for (const b of buf) if (b < 0x20 || b > 0x7e) return false;
  return isPlainText(buf);
}

/** A score as the probe returns it (Redis formats scores as text), as a number. */
export function scoreOf(score: Buffer): number {
  return Number(score.toString('latin1'));
}

/** An ISO time for display, or the number as text when it is not a valid time. */
export function isoTime(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

/**
 * The holder that stands for a lock several hold: the one it was shown by while that one stays (so holders coming
 * and going change no owner), else the first in byte order (stable across probes whatever order Redis replies in).
 */
export function standIn<T extends { token: Buffer }>(holders: T[], current?: { ownedBy(owner: Buffer | null): boolean }): T | undefined {
  return (current && holders.find((h) => current.ownedBy(h.token))) ?? holders.reduce<T | undefined>((a, b) => (a === undefined || Buffer.compare(b.token, a.token) < 0 ? b : a), undefined);
}

/**
 * Named top-level members of a JSON object. A value cut short by the probe's bound is no longer JSON: then each
 * member that is there in full (a string, number, boolean or null) is picked out on its own.
 */
export function jsonFields(text: string, names: string[]): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    const out: Record<string, unknown> = {};
    for (const name of names) {
      const m = new RegExp(`"${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"\\s*:\\s*("(?:[^"\\\\]|\\\\.)*"|-?\\d+(?:\\.\\d+)?(?:[eE][-+]?\\d+)?|true|false|null)`).exec(text);
      if (m) {
        try {
          out[name] = JSON.parse(m[1]!);
        } catch {
          // not a whole value
        }
      }
    }
    return out;
  }
}
