import { useState, type FormEvent } from 'react';
import { REASON_MAX_CHARS, type ReleaseResponse, type SetTtlResponse } from '../../../../shared/admin';
import type { LockView } from '../../../../shared/locks';
import type { Result } from '../../../../shared/result';
import { adminApi } from './admin-api';
import { EscapeMark, ShownBytes } from '../ShownText';
import { buttonClass, Dialog } from './Dialog';

export type LockAction = 'release' | 'set-ttl';

/**
 * Confirmation for one action on one lock: shows exactly what will be checked (key and the owner seen now),
 * asks for a reason, and says plainly what happened — including "owner changed — nothing was deleted".
 */
export function LockActionDialog({ lock, action, onClose }: { lock: LockView; action: LockAction; onClose: () => void }) {
  // The owner is frozen when the dialog opens: that is the owner the operator decided about.
  const [seen] = useState(() => ({ key: lock.key, owner: lock.owner }));
  const [reason, setReason] = useState('');
  const [ttlSeconds, setTtlSeconds] = useState('60');
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<{ tone: 'ok' | 'warn' | 'error'; text: string } | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!seen.owner) return;
    setBusy(true);
    const target = { keyBase64: seen.key.base64, expectedOwnerBase64: seen.owner.base64, reason: reason.trim() };
    const result =
      action === 'release'
        ? describeRelease(await adminApi.release(target))
        : describeTtl(await adminApi.setTtl({ ...target, ttlMs: Math.round(Number(ttlSeconds) * 1000) }));
    setOutcome(result);
    setBusy(false);
  };

  const title = action === 'release' ? 'Force release lock' : 'Set a TTL on this lock';
  return (
    <Dialog title={title} onClose={onClose}>
      <form onSubmit={submit} className="space-y-3 text-sm">
        <dl className="grid grid-cols-[6rem_1fr] gap-x-3 gap-y-1">
          <dt className="text-slate-500">Key</dt>
          <dd className="font-mono break-all" data-testid="dialog-key">
            <EscapeMark view={seen.key} />
            <ShownBytes view={seen.key} />
          </dd>
          <dt className="text-slate-500">Owner</dt>
          <dd className="font-mono break-all" data-testid="dialog-owner">
            {seen.owner ? (
              <>
                <EscapeMark view={seen.owner} />
                <ShownBytes view={seen.owner} />
              </>
            ) : (
              '—'
            )}
          </dd>
        </dl>
        <p className="text-slate-600 dark:text-slate-300">
          {action === 'release'
            ? 'lockscope deletes the lock only if this owner still holds it. If it changed hands meanwhile, nothing is deleted.'
            : 'The lock has no TTL, so nothing will ever free it. A TTL lets it expire by itself if its holder is gone; it is set only if this owner still holds it.'}
        </p>
        {action === 'set-ttl' && (
          <label className="block">
            <span className="text-slate-600 dark:text-slate-300">TTL in seconds</span>
            <input
              type="number"
              min="0.1"
              step="0.1"
              required
              value={ttlSeconds}
              onChange={(e) => setTtlSeconds(e.target.value)}
              disabled={busy || outcome !== null}
              className="mt-1 block w-32 rounded border border-slate-300 bg-white px-2 py-1 dark:border-slate-600 dark:bg-slate-800"
            />
          </label>
        )}
        <label className="block">
          <span className="text-slate-600 dark:text-slate-300">Reason (kept in the audit log)</span>
          <textarea
            required
            maxLength={REASON_MAX_CHARS}
            rows={2}
            value={reason}
            onChange={(e) => setReason(e.target.value)}
            disabled={busy || outcome !== null}
            placeholder="e.g. worker-7 crashed at 13:02, lock blocks the nightly export (INC-4411)"
            className="mt-1 block w-full rounded border border-slate-300 bg-white px-2 py-1 dark:border-slate-600 dark:bg-slate-800"
          />
        </label>
        {outcome && (
          <p
            role="status"
            className={`rounded px-3 py-2 font-medium ${
              outcome.tone === 'ok'
                ? 'bg-emerald-100 text-emerald-900 dark:bg-emerald-900/50 dark:text-emerald-100'
                : outcome.tone === 'warn'
                  ? 'bg-amber-100 text-amber-900 dark:bg-amber-900/50 dark:text-amber-100'
                  : 'bg-red-100 text-red-900 dark:bg-red-900/50 dark:text-red-100'
            }`}
          >
            {outcome.text}
          </p>
        )}
        <div className="flex justify-end gap-2 pt-1">
          <button type="button" className={buttonClass.secondary} onClick={onClose}>
            {outcome ? 'Close' : 'Cancel'}
          </button>
          {!outcome && (
            <button type="submit" className={action === 'release' ? buttonClass.danger : buttonClass.primary} disabled={busy || !reason.trim() || !seen.owner}>
              {busy ? 'Working…' : action === 'release' ? 'Force release' : 'Set TTL'}
            </button>
          )}
        </div>
      </form>
    </Dialog>
  );
}

type Outcome = { tone: 'ok' | 'warn' | 'error'; text: string };

function describeRelease(r: Result<ReleaseResponse>): Outcome {
  if (!r.ok) return { tone: 'error', text: `Refused: ${r.error.message}` };
  switch (r.data.result) {
    case 'released':
      return { tone: 'ok', text: `Released.${r.data.woke ? ' Waiting clients were woken.' : ''}` };
    case 'owner-changed':
      return { tone: 'warn', text: `Owner changed — nothing was deleted. It is now held by ${r.data.currentOwner?.text ?? 'an unreadable owner'}.` };
    case 'shared':
      return {
        tone: 'warn',
        text: `Shared — ${r.data.holders.length} holders hold it at once (${r.data.holders.map((h) => h.text).join(', ')}); deleting it would take it from all of them, so nothing was deleted.`,
      };
    case 'already-gone':
      return { tone: 'warn', text: 'Already gone — the lock was released or expired meanwhile; nothing was deleted.' };
  }
}

function describeTtl(r: Result<SetTtlResponse>): Outcome {
  if (!r.ok) return { tone: 'error', text: `Refused: ${r.error.message}` };
  switch (r.data.result) {
    case 'ttl-set':
      return { tone: 'ok', text: `TTL set: the lock now expires in ${(r.data.ttlMs / 1000).toFixed(1)} s unless its holder renews it.` };
    case 'has-ttl':
      return { tone: 'warn', text: 'The lock already has a TTL — nothing was changed.' };
    case 'owner-changed':
      return { tone: 'warn', text: `Owner changed — nothing was changed. It is now held by ${r.data.currentOwner?.text ?? 'an unreadable owner'}.` };
    case 'already-gone':
      return { tone: 'warn', text: 'Already gone — nothing was changed.' };
  }
}
