import { useState } from 'react';
import type { LockView } from '../../../../shared/locks';
import { useAdminStore } from './admin-store';
import { buttonClass } from './Dialog';
import { LockActionDialog, type LockAction } from './LockActionDialog';

/**
 * The admin buttons for one lock (table row or detail panel). Rendered only when this browser may act;
 * otherwise the header says why admin actions are absent.
 */
export function LockActions({ lock, compact = false }: { lock: LockView; compact?: boolean }) {
  const allowed = useAdminStore((s) => s.session?.admin === 'allowed');
  const picked = useAdminStore((s) => s.bulk.has(lock.id));
  const toggleBulk = useAdminStore((s) => s.toggleBulk);
  const [action, setAction] = useState<LockAction | null>(null);
  if (!allowed) return null;
  // The dialog outlives the lock it acted on: its outcome ("Released.") is shown after the lock has ended.
  const actionable = lock.endedAt === null && lock.owner !== null && !lock.owner.truncated;
  if (lock.endedAt === null && lock.owner?.truncated && !action) {
    // Only a prefix of the owner was read: lockscope could not name the whole owner, so the owner check would fail.
    return compact ? null : (
      <p className="text-xs text-slate-600 dark:text-slate-300">
        No admin actions: the owner is larger than lockscope reads ({lock.owner.sizeBytes} bytes), so it cannot be checked.
      </p>
    );
  }
  if (!actionable && !action) return null;
  const cls = compact ? buttonClass.small : buttonClass.secondary;
  return (
    <span className="inline-flex items-center gap-1.5" onClick={(e) => e.stopPropagation()} onKeyDown={(e) => e.stopPropagation()}>
      {compact && (actionable || picked) && (
        <input
          type="checkbox"
          checked={picked}
          onChange={() => toggleBulk(lock)}
          aria-label={`Select ${lock.key.text} for bulk release`}
          className="h-3.5 w-3.5 accent-red-600"
        />
      )}
      {actionable && <button type="button" className={`${cls} text-red-700 dark:text-red-300`} onClick={() => setAction('release')} aria-label={`Force release ${lock.key.text}`}>
        Force release
      </button>}
      {actionable && lock.deadline === null && (
        <button type="button" className={cls} onClick={() => setAction('set-ttl')} aria-label={`Set TTL on ${lock.key.text}`}>
          Set TTL
        </button>
      )}
      {action && <LockActionDialog lock={lock} action={action} onClose={() => setAction(null)} />}
    </span>
  );
}
