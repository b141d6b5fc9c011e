import { useState, type FormEvent } from 'react';
import { REASON_MAX_CHARS, type ReleaseResponse, type ReleaseScope, type SetTtlResponse } from '../../../../shared/admin';
import type { HolderView, LockView } from '../../../../shared/locks';
import type { Result } from '../../../../shared/result';
import { adminApi } from './admin-api';
import { EscapeMark, ShownBytes } from '../ShownText';
import { buttonClass, Dialog } from './Dialog';

/** `release-holder`: free one holder of a lock several hold; `release-all`: every holder at once. */
export type LockAction = 'release' | 'set-ttl' | 'release-holder' | 'release-all';

const TITLE: Record<LockAction, string> = {
  release: 'Force release lock',
  'set-ttl': 'Set a TTL on this lock',
  'release-holder': 'Free one holder',
  'release-all': 'Release every holder',
};

const EXPLAIN: Record<LockAction, string> = {
  release: 'lockscope deletes the lock only if this owner still holds it. If it changed hands meanwhile, nothing is deleted.',
  'set-ttl':
    'The lock has no TTL, so nothing will ever free it. A TTL lets it expire by itself if its holder is gone; it is set only if this owner still holds it.',
  'release-holder':
    'lockscope removes only this holder’s claim, as its own release would, and only if it still holds it. Every other holder keeps its claim; waiting clients are woken where the library wakes them.',
  'release-all':
    'lockscope frees every holder at once — only if the holder shown still holds it, so the lock is still the one you looked at. Holders still working lose their claim.',
};

const SCOPE: Partial<Record<LockAction, ReleaseScope>> = { 'release-holder': 'holder', 'release-all': 'all' };

/**
 * Confirmation for one action on one lock: shows exactly what will be checked (key and the owner seen now),
 * asks for a reason, and says plainly what happened — including "owner changed — nothing was deleted".
 */
export function LockActionDialog({ lock, action, holder, onClose }: { lock: LockView; action: LockAction; holder?: HolderView; onClose: () => void }) {
  // The owner is frozen when the dialog opens: that is the owner the operator decided about (for one holder, it).
  const [seen] = useState(() => ({
    key: lock.key,
    owner: holder ? holder.token : lock.owner,
    holders: lock.holders ? (lock.holders.count ?? lock.holders.list.length) : null,
  }));
  const [reason, setReason] = useState('');
  const [ttlSeconds, setTtlSeconds] = useState('60');
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<{ tone: 'ok' | 'warn' | 'error'; text: string } | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!seen.owner) return;
    setBusy(true);
    const target = { keyBase64: seen.key.base64, expectedOwnerBase64: seen.owner.base64, reason: reason.trim() };
    const scope = SCOPE[action];
    const result =
      action === 'set-ttl'
        ? describeTtl(await adminApi.setTtl({ ...target, ttlMs: Math.round(Number(ttlSeconds) * 1000) }))
        : describeRelease(await adminApi.release(scope ? { ...target, scope } : target));
    setOutcome(result);
    setBusy(false);
  };

  const title = TITLE[action];
  const releasing = action !== 'set-ttl';
  return (
    <Dialog title={title} onClose={onClose}>
      <form onSubmit={submit} className="space-y-3 text-sm">
        <dl className="grid grid-cols-[6rem_1fr] gap-x-3 gap-y-1">
          <dt className="text-slate-500">Key</dt>
          <dd className="font-mono break-all" data-testid="dialog-key">
            <EscapeMark view={seen.key} />
            <ShownBytes view={seen.key} />
          </dd>
          <dt className="text-slate-500">{action === 'release-holder' ? 'Holder' : action === 'release-all' ? 'Holder shown' : 'Owner'}</dt>
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
          {action === 'release-all' && seen.holders !== null && (
            <>
              <dt className="text-slate-500">Holders</dt>
              <dd data-testid="dialog-holders">{seen.holders.toLocaleString('en-US')}</dd>
            </>
          )}
        </dl>
        <p className="text-slate-600 dark:text-slate-300">{EXPLAIN[action]}</p>
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
            <button type="submit" className={releasing ? buttonClass.danger : buttonClass.primary} disabled={busy || !reason.trim() || !seen.owner}>
              {busy ? 'Working…' : SUBMIT[action]}
            </button>
          )}
        </div>
      </form>
    </Dialog>
  );
}

const SUBMIT: Record<LockAction, string> = { release: 'Force release', 'set-ttl': 'Set TTL', 'release-holder': 'Free this holder', 'release-all': 'Release all' };

type Outcome = { tone: 'ok' | 'warn' | 'error'; text: string };

function describeRelease(r: Result<ReleaseResponse>): Outcome {
  if (!r.ok) return { tone: 'error', text: `Refused: ${r.error.message}` };
  switch (r.data.result) {
    case 'released': {
      const freed = r.data.freed ? ` Freed ${r.data.freed.count} holder${r.data.freed.count === 1 ? '' : 's'}.` : '';
      return { tone: 'ok', text: `Released.${freed}${r.data.woke ? ' Waiting clients were woken.' : ''}` };
    }
    case 'owner-changed':
      return { tone: 'warn', text: `Owner changed — nothing was deleted. It is now held by ${r.data.currentOwner?.text ?? 'an unreadable owner'}.` };
    case 'shared':
      return {
        tone: 'warn',
        text: `Shared — ${r.data.holders.length} holders hold it at once (${r.data.holders.map((h) => h.text).join(', ')}); deleting it would take it from all of them, so nothing was deleted.`,
      };
    case 'already-gone':
      return { tone: 'warn', text: 'Already gone — released or expired meanwhile; nothing was deleted.' };
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
