import type { LockView } from '../../../../shared/locks';
import { useCountdownNow } from '../../hooks/useNow';
import { formatDurationShort } from '../../lib/format';

/** Remaining TTL counted down locally from the deadline, corrected for the server's clock. */
export function TtlCell({ lock, clockOffsetMs }: { lock: LockView; clockOffsetMs: number }) {
  const deadline = lock.endedAt === null ? lock.deadline : null;
  const now = useCountdownNow((t) => (deadline === null ? Infinity : deadline - (t + clockOffsetMs)));
  if (lock.endedAt !== null) return <span className="text-slate-400">—</span>;
  // A key without TTL whose holders expire on their own (a permit semaphore), or a bare permit counter, is not stuck.
  if (lock.deadline === null && lock.holders && lock.state !== 'no-ttl') {
    return (
      <span className="text-xs text-slate-500 dark:text-slate-400" title="The key has no TTL by design: each holder has its own expiry (see the details)">
        {lock.holders.list.length ? 'per holder' : '—'}
      </span>
    );
  }
  if (lock.deadline === null) {
    return (
      <span className="rounded bg-red-600 px-1.5 py-0.5 text-xs font-bold text-white uppercase" title="PTTL = -1: this lock never expires by itself">
        no TTL
      </span>
    );
  }
  // Between ticks `now` lags by up to one tick; the TTL can never be more than Redis last reported.
  const remaining = Math.min(lock.deadline - (now + clockOffsetMs), lock.pttlMs);
  return (
    <span className={`font-mono tabular-nums ${remaining < 3000 ? 'text-amber-600 dark:text-amber-400' : ''}`} data-ttl-ms={Math.max(0, Math.round(remaining))}>
      {formatDurationShort(remaining)}
    </span>
  );
}

/** Time since the current owner took the lock. */
export function HeldForCell({ lock, clockOffsetMs }: { lock: LockView; clockOffsetMs: number }) {
  const ended = lock.endedAt !== null;
  const now = useCountdownNow((t) => (ended ? Infinity : t + clockOffsetMs - lock.acquiredAt));
  const end = lock.endedAt ?? now + clockOffsetMs;
  return <span className="font-mono tabular-nums">{formatDurationShort(end - lock.acquiredAt)}</span>;
}
