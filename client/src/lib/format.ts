import { libraryLabel } from '../../../shared/libraries';
import type { LibraryId, LockEventKind, LockState } from '../../../shared/locks';

/** `12.3 s`, `4 m 05 s`, `2 h 10 m`: precise when short, calm when long. */
export function formatDuration(ms: number): string {
  if (ms < 0) ms = 0;
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} m ${String(s % 60).padStart(2, '0')} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${String(m % 60).padStart(2, '0')} m`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/**
 * `9.8s`, `42s`, `11m 13s`, `2h 10m`, `3d 4h`: the same units as `formatDuration`, without the spaces inside a
 * value, for narrow table columns (at most 7 characters below 100 days). `trim` drops a zero second unit
 * (`10m` rather than `10m 00s`), for chart axes; countdowns keep it so their width stays put.
 */
export function formatDurationShort(ms: number, trim = false): string {
  if (ms < 0) ms = 0;
  if (ms < 10_000) return `${trim ? Number((ms / 1000).toFixed(1)) : (ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const two = (big: number, bigUnit: string, small: number, smallUnit: string, pad = true) =>
    trim && small === 0 ? `${big}${bigUnit}` : `${big}${bigUnit} ${pad ? String(small).padStart(2, '0') : small}${smallUnit}`;
  const m = Math.floor(s / 60);
  if (m < 60) return two(m, 'm', s % 60, 's');
  const h = Math.floor(m / 60);
  if (h < 48) return two(h, 'h', m % 60, 'm');
  return two(Math.floor(h / 24), 'd', h % 24, 'h', false);
}

export const STATE_LABEL: Record<LockState, string> = {
  held: 'held',
  expiring: 'expiring soon',
  'renewal-overdue': 'renewal overdue',
  'no-ttl': 'no TTL (stuck)',
  'held-too-long': 'held too long',
  released: 'released',
  expired: 'expired',
  lost: 'lost in Redis restart',
  'unexpected-type': 'unexpected type',
  'holder-stuck': 'holder stuck',
};

/** A library's name (the built-in name, or the label a LOCK_FORMATS format declares). */
export { libraryLabel };

/** Names too long for the table's library column (the full name is the cell's title). */
const LIBRARY_SHORT: Partial<Record<LibraryId, string>> = {
  'sidekiq-unique': 'sidekiq-unique',
  'redisson-semaphore': 'Redisson sem.',
};

/** A library's name as the table's narrow column shows it. */
export function libraryShort(id: LibraryId): string {
  return LIBRARY_SHORT[id] ?? libraryLabel(id);
}

export const EVENT_LABEL: Record<LockEventKind, string> = {
  acquired: 'Acquired',
  renewed: 'Renewed',
  released: 'Released',
  expired: 'Expired',
  lost: 'Lost in a Redis restart or failover',
  'owner-changed': 'Taken over by another owner',
  'ttl-removed': 'TTL removed',
  'ttl-set': 'TTL set',
  'force-released': 'Force-released (lockscope)',
  'holder-joined': 'Holder joined',
  'holder-left': 'Holder left',
  'holder-expired': 'Holder expired (stopped renewing)',
  'holder-force-released': 'Holder force-released (lockscope)',
};

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** `14:03:07.412`: a moment within the last day, to the millisecond, local time. */
export function formatClock(epochMs: number): string {
  const d = new Date(epochMs);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** `2026-05-02 14:03:07`: an absolute local time, sortable and unambiguous. */
export function formatDateTime(epochMs: number): string {
  const d = new Date(epochMs);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Same local calendar day. */
function sameDay(a: number, b: number): boolean {
  const x = new Date(a);
  const y = new Date(b);
  return x.getFullYear() === y.getFullYear() && x.getMonth() === y.getMonth() && x.getDate() === y.getDate();
}

/** `14:03:07` today, `2026-05-02 14:03:07` on any other day: local time, 24-hour clock. */
export function formatTimestamp(epochMs: number, now: number = Date.now()): string {
  return sameDay(epochMs, now) ? formatDateTime(epochMs).slice(11) : formatDateTime(epochMs);
}

/** `12 s ago` / `in 4.1 s`, relative to `now`. */
export function formatRelative(epochMs: number, now: number): string {
  const d = epochMs - now;
  return d >= 0 ? `in ${formatDuration(d)}` : `${formatDuration(-d)} ago`;
}

/** `redis://:***@host:6379/0`: never show a password, even if the server forgot to mask one. */
export function maskRedisTarget(target: string): string {
  return target.replace(/(\/\/[^:/@\s]*:)(?!\*+@)[^@/\s]+@/, '$1***@');
}
