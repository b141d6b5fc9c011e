import { useState, type FormEvent } from 'react';
import { REASON_MAX_CHARS, type BulkReleaseResponse, type ReleaseResponse } from '../../../../shared/admin';
import { ShownBytes } from '../ShownText';
import { adminApi } from './admin-api';
import { useAdminStore } from './admin-store';
import { buttonClass, Dialog } from './Dialog';

/** Each selected lock is released only if it still has the owner it had when it was selected. */
export function BulkReleaseDialog({ onClose }: { onClose: () => void }) {
  const [picks] = useState(() => [...useAdminStore.getState().bulk.values()]);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<BulkReleaseResponse | null>(null);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    const r = await adminApi.releaseBulk({
      locks: picks.map((p) => ({ keyBase64: p.id, expectedOwnerBase64: p.ownerBase64 })),
      reason: reason.trim(),
    });
    setBusy(false);
    if (!r.ok) return setError(r.error.message);
    setDone(r.data);
    useAdminStore.getState().clearBulk();
  };

  return (
    <Dialog title={`Force release ${picks.length} lock${picks.length === 1 ? '' : 's'}`} onClose={onClose}>
      <form onSubmit={submit} className="space-y-3 text-sm">
        <ul className="max-h-40 overflow-auto rounded border border-slate-200 px-2 py-1 font-mono text-xs dark:border-slate-700">
          {picks.map((p) => (
            <li key={p.id} className="truncate">{p.keyText}</li>
          ))}
        </ul>
        <p className="text-slate-600 dark:text-slate-300">
          Each lock is checked on its own: it is deleted only if the owner it had when you selected it still holds it.
        </p>
        <label className="block">
          <span className="text-slate-600 dark:text-slate-300">Reason (kept in the audit log)</span>
          <textarea
            required
            rows={2}
            maxLength={REASON_MAX_CHARS}
            value={reason}
            onChange={(e) => setReason(e.target.value)}
            disabled={busy || done !== null}
            className="mt-1 block w-full rounded border border-slate-300 bg-white px-2 py-1 dark:border-slate-600 dark:bg-slate-800"
          />
        </label>
        {error && <p role="alert" className="rounded bg-red-100 px-3 py-2 text-red-900 dark:bg-red-900/50 dark:text-red-100">Refused: {error}</p>}
        {done && (
          <div role="status" className="space-y-1 rounded bg-slate-100 px-3 py-2 dark:bg-slate-800">
            <p className="font-medium">
              Released {done.released} · owner changed {done.ownerChanged} (not deleted) · already gone {done.alreadyGone}
              {done.shared ? ` · shared ${done.shared} (not deleted)` : ''}
              {done.failed ? ` · not tried ${done.failed}` : ''}
            </p>
            <ul className="text-xs">
              {done.results
                .filter((r) => !r.ok || r.result !== 'released')
                .map((r, i) => (
                  <li key={i} className="font-mono">
                    {r.key ? <ShownBytes view={r.key} /> : '?'}: {r.ok ? bulkItemText(r) : r.error.message}
                  </li>
                ))}
            </ul>
          </div>
        )}
        <div className="flex justify-end gap-2">
          <button type="button" className={buttonClass.secondary} onClick={onClose}>
            {done ? 'Close' : 'Cancel'}
          </button>
          {!done && (
            <button type="submit" className={buttonClass.danger} disabled={busy || !reason.trim()}>
              {busy ? 'Working…' : `Force release ${picks.length}`}
            </button>
          )}
        </div>
      </form>
    </Dialog>
  );
}

function bulkItemText(r: ReleaseResponse): string {
  if (r.result === 'owner-changed') return `owner changed — now ${r.currentOwner?.text ?? '?'}`;
  if (r.result === 'shared') return `shared by ${r.holders.length} holders — not deleted`;
  return r.result;
}
