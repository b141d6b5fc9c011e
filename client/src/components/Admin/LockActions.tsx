import { Suspense, useState, type KeyboardEvent } from 'react';
import type { HolderView, LockView } from '../../../../shared/locks';
import { onDemand } from '../../lib/on-demand';
import { useViewStore } from '../../store/view-store';
import { useAdminStore } from './admin-store';
import { buttonClass } from './Dialog';
import type { LockAction } from './LockActionDialog';

const LockActionDialog = onDemand(() => import('./LockActionDialog'), (m) => m.LockActionDialog);

/**
 * Where the actions are shown: the detail panel (full buttons), a table row (bulk-select box and small buttons),
 * or a table row with only the bulk-select box (while the detail panel is open or the table is narrow).
 */
export type LockActionsVariant = 'panel' | 'row' | 'select';

/** Enter and Space belong to the focused control; every other key (↑/↓, `/`, Esc) still reaches the page. */
function keepActivationKeys(e: KeyboardEvent) {
  if (e.key === 'Enter' || e.key === ' ') e.stopPropagation();
}

/**
 * The admin buttons for one lock (table row or detail panel). Rendered only when this browser may act;
 * otherwise the header says why admin actions are absent. In the table only the current row's controls are in
 * the Tab order (`tabbable`), so Tab does not walk through every row's buttons.
 */
export function LockActions({ lock, variant = 'panel', tabbable = true }: { lock: LockView; variant?: LockActionsVariant; tabbable?: boolean }) {
  const allowed = useAdminStore((s) => s.session?.admin === 'allowed');
  const picked = useAdminStore((s) => s.bulk.has(lock.id));
  const toggleBulk = useAdminStore((s) => s.toggleBulk);
  const select = useViewStore((s) => s.select);
  const [action, setAction] = useState<LockAction | null>(null);
  if (!allowed) return null;
  // Its code is a chunk of its own (see on-demand.ts), usually fetched by then.
  const dialog = action && (
    <Suspense>
      <LockActionDialog lock={lock} action={action} onClose={() => setAction(null)} />
    </Suspense>
  );
  // Several hold it at once: releasing it whole would take it from all of them. The row leads to the holders
  // (the detail panel frees one, or all where the library allows); the panel offers "all" here.
  const holders = lock.holders;
  // A bare permit counter records no holder: there is nothing lockscope could free.
  if (holders && holders.list.length === 0) return null;
  if (holders && (holders.count ?? holders.list.length) !== 1 && lock.endedAt === null) {
    const many = holders.list.length > 1;
    if (variant === 'select') return null;
    return (
      <span className="inline-flex items-center gap-1.5" onClick={(e) => e.stopPropagation()} onKeyDown={keepActivationKeys}>
        {variant === 'row' && (
          <button type="button" tabIndex={tabbable ? 0 : -1} className={buttonClass.small} onClick={() => select(lock.id, true)} aria-label={`Show the holders of ${lock.key.text}`}>
            Holders…
          </button>
        )}
        {variant === 'panel' && many && holders.releaseAll && lock.owner && (
          <button type="button" className={`${buttonClass.secondary} text-red-700 dark:text-red-300`} onClick={() => setAction('release-all')}>
            Release all {holders.count ?? holders.list.length} holders…
          </button>
        )}
        {dialog}
      </span>
    );
  }
  const inRow = variant !== 'panel';
  const tabIndex = tabbable ? 0 : -1;
  // The dialog outlives the lock it acted on: its outcome ("Released.") is shown after the lock has ended.
  const actionable = lock.endedAt === null && lock.owner !== null && !lock.owner.truncated;
  if (lock.endedAt === null && lock.owner?.truncated && !action) {
    // Only a prefix of the owner was read: lockscope could not name the whole owner, so the owner check would fail.
    return inRow ? null : (
      <p className="text-xs text-slate-600 dark:text-slate-300">
        No admin actions: the owner is larger than lockscope reads ({lock.owner.sizeBytes} bytes), so it cannot be checked.
      </p>
    );
  }
  if (!actionable && !action && !picked) return null;
  const cls = inRow ? buttonClass.small : buttonClass.secondary;
  return (
    <span className="inline-flex items-center gap-1.5" onClick={(e) => e.stopPropagation()} onKeyDown={keepActivationKeys}>
      {inRow && (actionable || picked) && (
        <input
          type="checkbox"
          tabIndex={tabIndex}
          checked={picked}
          onChange={() => toggleBulk(lock)}
          aria-label={`Select ${lock.key.text} for bulk release`}
          title="Select for bulk release"
          className="h-3.5 w-3.5 accent-red-600"
        />
      )}
      {actionable && variant !== 'select' && (
        <button type="button" tabIndex={tabIndex} className={`${cls} text-red-700 dark:text-red-300`} onClick={() => setAction('release')} aria-label={`Force release ${lock.key.text}`}>
          Force release
        </button>
      )}
      {actionable && variant !== 'select' && lock.deadline === null && (
        <button type="button" tabIndex={tabIndex} className={cls} onClick={() => setAction('set-ttl')} aria-label={`Set TTL on ${lock.key.text}`}>
          Set TTL
        </button>
      )}
      {dialog}
    </span>
  );
}

/** Frees one holder of a lock several hold at once (detail panel), when this browser may act. */
export function HolderRelease({ lock, holder }: { lock: LockView; holder: HolderView }) {
  const allowed = useAdminStore((s) => s.session?.admin === 'allowed');
  const open = useAdminStore((s) => s.setHolderRelease);
  if (!allowed) return null;
  return (
    <button
      type="button"
      className={`${buttonClass.small} shrink-0 text-red-700 dark:text-red-300`}
      onClick={() => open({ lock, holder })}
      aria-label={`Release holder ${holder.token.text}`}
    >
      Release
    </button>
  );
}

/** The open holder-release dialog, wherever its holder's row has gone (mount once, beside the detail panel). */
export function HolderReleaseDialog() {
  const target = useAdminStore((s) => s.holderRelease);
  const close = useAdminStore((s) => s.setHolderRelease);
  if (!target) return null;
  return (
    <Suspense>
      <LockActionDialog key={target.holder.token.base64} lock={target.lock} action="release-holder" holder={target.holder} onClose={() => close(null)} />
    </Suspense>
  );
}
