import { Suspense, useState } from 'react';
import { BULK_RELEASE_MAX } from '../../../../shared/admin';
import { onDemand } from '../../lib/on-demand';
import { useAdminStore } from './admin-store';
import { buttonClass } from './Dialog';

const BulkReleaseDialog = onDemand(() => import('./BulkReleaseDialog'), (m) => m.BulkReleaseDialog);

/** Shown while locks are selected for bulk release. */
export function BulkReleaseBar() {
  const bulk = useAdminStore((s) => s.bulk);
  const clear = useAdminStore((s) => s.clearBulk);
  const [open, setOpen] = useState(false);
  if (bulk.size === 0 && !open) return null;
  return (
    <div className="flex items-center gap-3 border-b border-red-200 bg-red-50 px-4 py-1.5 text-sm dark:border-red-900 dark:bg-red-950/40" role="region" aria-label="Bulk release">
      <span data-testid="bulk-count">
        {bulk.size} lock{bulk.size === 1 ? '' : 's'} selected
      </span>
      <button type="button" className={buttonClass.small} onClick={() => setOpen(true)} disabled={bulk.size > BULK_RELEASE_MAX}>
        Release selected…
      </button>
      <button type="button" className={buttonClass.small} onClick={clear}>
        Clear selection
      </button>
      {bulk.size > BULK_RELEASE_MAX && <span className="text-red-700">At most {BULK_RELEASE_MAX} at once.</span>}
      {open && (
        <Suspense>
          <BulkReleaseDialog onClose={() => setOpen(false)} />
        </Suspense>
      )}
    </div>
  );
}
