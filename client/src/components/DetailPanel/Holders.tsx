import type { ReactNode } from 'react';
import type { HoldersView, HolderView, LockView } from '../../../../shared/locks';
import { formatDuration, formatRelative } from '../../lib/format';
import { EscapeMark, ShownBytes, ShownText } from '../ShownText';

/** Renders admin actions for one holder (free it alone), or nothing when they are not allowed. */
export type HolderActions = (lock: LockView, holder: HolderView) => ReactNode;

/** `3 holders`, `1 holder`, `no holders recorded`. */
export function holdersText(h: HoldersView): string {
  if (h.count === null && h.list.length === 0) return h.permits.free !== null ? `${h.permits.free} free permit${h.permits.free === 1 ? '' : 's'}` : 'no holders recorded';
  const n = h.count ?? h.list.length;
  return `${n.toLocaleString('en-US')} holder${n === 1 ? '' : 's'}`;
}

/** `3/5 permits`, `2 free`, or '' when the library records neither. */
export function permitsText(h: HoldersView): string {
  const { held, free, limit } = h.permits;
  if (held !== null && limit !== null) return `${held}/${limit} permits`;
  if (free !== null) return h.list.length || h.count !== null ? `${free} free` : 'holders not recorded';
  if (held !== null && held !== (h.count ?? h.list.length)) return `${held} permits`;
  return '';
}

const STATE_TONE: Record<HolderView['state'], string> = {
  held: 'text-slate-600 dark:text-slate-300',
  stuck: 'font-medium text-rose-700 dark:text-rose-300',
  'no-expiry': 'font-medium text-red-700 dark:text-red-400',
};

/** When this holder's claim ends, as of `now`. */
function expiryText(h: HolderView, now: number): string {
  if (h.state === 'no-expiry') return 'no expiry — never freed by itself';
  if (h.deadline === null) return 'lives as long as the key';
  if (h.state === 'stuck') return `stuck: its expiry passed ${formatDuration(now - h.deadline)} ago, still listed`;
  return `expires in ${formatDuration(Math.max(0, h.deadline - now))}`;
}

/** The holders of a lock several hold at once, each with its own expiry, renewals and (for admins) a release. */
export function Holders({ lock, now, actions }: { lock: LockView; now: number; actions?: HolderActions }) {
  const h = lock.holders!;
  const permits = permitsText(h);
  const more = (h.count ?? h.list.length) - h.list.length;
  return (
    <section aria-labelledby="holders-heading">
      <h3 id="holders-heading" className="mb-1 text-xs font-semibold tracking-wide text-slate-500 uppercase dark:text-slate-400">
        Holders ({holdersText(h)}
        {permits && ` · ${permits}`})
      </h3>
      {h.expectedRenewalMs !== null && (
        <p className="mb-1 text-xs text-slate-500 dark:text-slate-400">Each holder renews about every {formatDuration(h.expectedRenewalMs)}.</p>
      )}
      {h.list.length === 0 ? (
        <p className="text-sm text-slate-500 dark:text-slate-400">
          This library keeps a count of free permits only: who holds them is not recorded in Redis, so there is nothing to show or free.
        </p>
      ) : (
        <ul aria-label="Holders" className="divide-y divide-slate-200 rounded border border-slate-200 dark:divide-slate-700 dark:border-slate-700">
          {h.list.map((holder) => (
            <li key={holder.token.base64} data-holder-state={holder.state} className="space-y-0.5 px-2 py-1.5 text-xs">
              <div className="flex items-start gap-2">
                <code className="min-w-0 flex-1 font-mono break-all" data-testid="holder-token">
                  <EscapeMark view={holder.token} />
                  <ShownBytes view={holder.token} />
                </code>
                {actions?.(lock, holder)}
              </div>
              <div className={STATE_TONE[holder.state]}>{expiryText(holder, now)}</div>
              <div className="text-slate-500 dark:text-slate-400">
                {holder.permits > 1 && `${holder.permits} permits · `}
                {holder.reentryCount !== null && `re-entered ${holder.reentryCount}× · `}
                {holder.renewals} renewal{holder.renewals === 1 ? '' : 's'}
                {holder.lastRenewalAt !== null && ` (last ${formatRelative(holder.lastRenewalAt, now)})`} · seen since {formatRelative(holder.acquiredAt, now)}
              </div>
              {Object.keys(holder.fields).length > 0 && (
                <div className="font-mono text-slate-500 dark:text-slate-400" data-testid="holder-fields">
                  {Object.entries(holder.fields).map(([k, v], i) => (
                    <span key={k}>
                      {i > 0 && ' · '}
                      {k} <ShownText text={v} />
                    </span>
                  ))}
                </div>
              )}
            </li>
          ))}
        </ul>
      )}
      {more > 0 && <p className="mt-1 text-xs text-slate-500 dark:text-slate-400">… and {more.toLocaleString('en-US')} more not listed (lockscope reads at most 32).</p>}
    </section>
  );
}
