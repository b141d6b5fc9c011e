import { Suspense, useState, type ReactNode } from 'react';
import type { BytesView, LockView } from '../../../../shared/locks';
import { useNow } from '../../hooks/useNow';
import { exactText } from '../../lib/bytes';
import { formatDateTime, formatDuration, formatRelative, formatTimestamp, libraryLabel } from '../../lib/format';
import { lockModel, useLocksVersion, useLockStore } from '../../store/lock-store';
import { useViewStore } from '../../store/view-store';
import { onDemand } from '../../lib/on-demand';
import { CopyButton } from '../CopyButton';
import { ShownBytes, ShownText } from '../ShownText';
import { StateBadge } from '../StateBadge';
import { Holders, type HolderActions } from './Holders';
import { Timeline } from './Timeline';
import { TTL_CHART_BOX_HEIGHT } from './ttl-chart-size';
import { useLockHistory } from './useLockHistory';

// uPlot and the chart are a chunk of their own: the table's first paint does not wait for them.
const TtlChart = onDemand(() => import('./TtlChart'), (m) => m.TtlChart);

/**
 * Renders the admin actions for the lock shown (force-release, set TTL…), or nothing when they are not allowed.
 * Given to `<DetailPanel actions={…}>`; its output goes in the panel's `data-slot="admin-actions"` region.
 */
export type DetailActions = (lock: LockView) => ReactNode;

/**
 * The selected lock in full: who holds it and how, its TTL chart and event timeline. A side panel on wide
 * screens (≥ 1280 px), an overlay drawer below that.
 */
export function DetailPanel({ actions, holderActions }: { actions?: DetailActions; holderActions?: HolderActions }) {
  useLocksVersion();
  const selected = useViewStore((s) => s.selected);
  const open = useViewStore((s) => s.detailOpen);
  const closeDetail = useViewStore((s) => s.closeDetail);
  const haveSnapshot = useLockStore((s) => s.snapshot !== null);
  const current = selected ? lockModel.byId.get(selected) : undefined;
  // A lock dropped from the table stays readable here, marked as no longer tracked.
  const [lastSeen, setLastSeen] = useState<LockView | null>(null);
  if (current && current !== lastSeen) setLastSeen(current);
  const lock = current ?? (lastSeen?.id === selected ? lastSeen : null);

  if (!open || !selected) return null;
  return (
    <aside
      aria-label="Lock details"
      data-testid="detail-panel"
      className="absolute inset-y-0 right-0 z-40 flex w-[440px] max-w-full flex-col border-l border-slate-200 bg-white shadow-2xl xl:static xl:z-auto xl:w-[420px] xl:shrink-0 xl:shadow-none dark:border-slate-700 dark:bg-slate-900"
    >
      <div className="flex items-center gap-2 border-b border-slate-200 px-4 py-2 dark:border-slate-700">
        <h2 className="text-sm font-semibold">Lock details</h2>
        {lock && <StateBadge state={lock.state} />}
        <button
          type="button"
          onClick={closeDetail}
          aria-label="Close details"
          title="Close (Esc)"
          className="ml-auto rounded p-1 text-slate-500 hover:bg-slate-100 hover:text-slate-900 dark:text-slate-400 dark:hover:bg-slate-800 dark:hover:text-white"
        >
          <svg aria-hidden viewBox="0 0 16 16" className="h-4 w-4 fill-none stroke-current stroke-2">
            <path d="m4 4 8 8M12 4l-8 8" />
          </svg>
        </button>
      </div>
      <div className="min-h-0 flex-1 overflow-y-auto px-4 py-3">
        {lock ? (
          <Details lock={lock} tracked={current !== undefined} actions={actions} holderActions={holderActions} />
        ) : (
          <p className="text-sm text-slate-500 dark:text-slate-400">
            {haveSnapshot ? 'lockscope is not tracking this lock: it may have been released and dropped from the table.' : 'Loading…'}
          </p>
        )}
      </div>
    </aside>
  );
}

function Details({
  lock,
  tracked,
  actions,
  holderActions,
}: {
  lock: LockView;
  tracked: boolean;
  actions: DetailActions | undefined;
  holderActions: HolderActions | undefined;
}) {
  const clockOffsetMs = useLockStore((s) => s.clockOffsetMs);
  const now = useNow() + clockOffsetMs;
  const { history, error, loading } = useLockHistory(lock.id, tracked ? lock : null);
  const fields = Object.entries(lock.owner?.fields ?? {});
  const remaining = lock.deadline === null ? null : Math.max(0, Math.min(lock.deadline - now, lock.pttlMs));
  const overdue = lock.expectedRenewalMs !== null && now - (lock.lastRenewalAt ?? lock.acquiredAt) > 1.5 * lock.expectedRenewalMs;

  return (
    <div className="space-y-4 text-sm">
      {!tracked && (
        <p role="status" className="rounded border border-slate-300 bg-slate-50 px-2 py-1 text-xs dark:border-slate-600 dark:bg-slate-800">
          No longer tracked: this lock ended and left the table. Showing its last known state.
        </p>
      )}
      {lock.state === 'lost' && (
        <p role="note" className="rounded border border-red-300 bg-red-50 px-2 py-1 text-xs text-red-900 dark:border-red-800 dark:bg-red-950/60 dark:text-red-100">
          Nobody released this lock: it was held when Redis restarted or failed over, and the server answering now does not
          have it. Its holder may still be working as if it held the lock, while another process takes it.
        </p>
      )}
      <section aria-label="Key and owner" className="space-y-2">
        <Field label="Key">
          <div className="flex items-start gap-2">
            <code className="min-w-0 flex-1 font-mono break-all" data-testid="detail-key">
              <ShownBytes view={lock.key} />
            </code>
            <CopyButton text={exactText(lock.key)} label="Copy key" what="Key" />
          </div>
          <EscapeNote view={lock.key} what="key" />
        </Field>
        <Field label={lock.holders ? 'Shown for the holders' : 'Owner token'}>
          {lock.owner ? (
            <>
              <div className="flex items-start gap-2">
                <code className="min-w-0 flex-1 font-mono text-xs break-all" data-testid="detail-owner">
                  <ShownBytes view={lock.owner} />
                </code>
                <CopyButton text={exactText(lock.owner)} label="Copy owner token" what="Owner token" />
              </div>
              <EscapeNote view={lock.owner} what="owner token" />
              {lock.owner.truncated && (
                <p className="mt-1 text-xs text-slate-500">First bytes of a {lock.owner.sizeBytes.toLocaleString('en-US')}-byte value.</p>
              )}
            </>
          ) : (
            <span className="text-slate-500">none readable</span>
          )}
        </Field>
        {fields.length > 0 && (
          <Field label="Decoded owner">
            <dl aria-label="Decoded owner fields" className="grid grid-cols-[max-content_1fr] gap-x-3 gap-y-0.5 rounded bg-slate-50 px-2 py-1.5 dark:bg-slate-800/60">
              {fields.map(([k, v]) => (
                <div key={k} className="contents">
                  <dt className="text-xs text-slate-500 dark:text-slate-400">{k}</dt>
                  <dd className="font-mono text-xs break-all">
                    <ShownText text={v} />
                  </dd>
                </div>
              ))}
            </dl>
          </Field>
        )}
      </section>

      {/* The lead's admin actions (force-release, set TTL) render here when allowed. */}
      <div data-slot="admin-actions">{actions?.(lock)}</div>

      {lock.holders && <Holders lock={lock} now={now} actions={tracked && lock.endedAt === null ? holderActions : undefined} />}

      <dl aria-label="Lock facts" className="grid grid-cols-[max-content_1fr] gap-x-4 gap-y-1.5">
        <Fact label="Library">{libraryLabel(lock.library)}</Fact>
        <Fact label="Type">{lock.type}</Fact>
        {lock.node !== null && (
          <Fact label="Cluster node">
            <span className="font-mono" data-testid="lock-node">
              {lock.node}
            </span>{' '}
            <span className="text-slate-500 dark:text-slate-400">(hash slot {lock.slot})</span>
          </Fact>
        )}
        <Fact label="Re-entry count">{lock.reentryCount ?? '—'}</Fact>
        <Fact label="Acquired">
          <Moment at={lock.acquiredAt} now={now} />
        </Fact>
        <Fact label="Held for">
          <span className="font-mono tabular-nums">{formatDuration((lock.endedAt ?? now) - lock.acquiredAt)}</span>
        </Fact>
        <Fact label="Deadline">
          {lock.deadline === null && lock.holders && lock.state !== 'no-ttl' ? (
            <span className="text-slate-600 dark:text-slate-300">none for the key — {lock.holders.list.length ? 'each holder has its own (below)' : 'a counter, without TTL by design'}</span>
          ) : lock.deadline === null ? (
            <span className="font-medium text-red-700 dark:text-red-400">none — never expires by itself</span>
          ) : (
            <Moment at={lock.deadline} now={now} />
          )}
        </Fact>
        {lock.endedAt === null ? (
          <Fact label="TTL now">
            <span className="font-mono tabular-nums">{remaining === null ? 'no TTL' : formatDuration(remaining)}</span>
          </Fact>
        ) : (
          <Fact label={ENDED_LABEL[lock.state] ?? 'Released'}>
            <Moment at={lock.endedAt} now={now} />
          </Fact>
        )}
        <Fact label="Renewals">
          <span className="font-mono tabular-nums" data-testid="detail-renewals">
            {lock.renewals}
          </span>
          {lock.lastRenewalAt !== null && <span className="text-slate-500 dark:text-slate-400"> · last {formatRelative(lock.lastRenewalAt, now)}</span>}
        </Fact>
        <Fact label="Renewal interval">
          <span className={overdue ? 'font-medium text-orange-700 dark:text-orange-400' : undefined}>
            {lock.renewalIntervalMs !== null ? `${formatDuration(lock.renewalIntervalMs)} observed` : 'none observed yet'}
            {' · '}
            {lock.expectedRenewalMs !== null ? `${formatDuration(lock.expectedRenewalMs)} expected` : 'no renewal expected'}
            {overdue && ' · overdue'}
          </span>
        </Fact>
      </dl>

      <section aria-labelledby="ttl-chart-heading">
        <h3 id="ttl-chart-heading" className="mb-1 text-xs font-semibold tracking-wide text-slate-500 uppercase dark:text-slate-400">
          Remaining TTL
        </h3>
        {lock.deadline === null && lock.endedAt === null && (history?.ttl.length ?? 0) < 2 ? (
          lock.holders && lock.state !== 'no-ttl' ? (
            <p className="rounded bg-slate-50 px-2 py-3 text-slate-600 dark:bg-slate-800/60 dark:text-slate-300">The key itself has no TTL: its holders expire one by one.</p>
          ) : (
            <p className="rounded bg-red-50 px-2 py-3 text-red-800 dark:bg-red-950/50 dark:text-red-200">
              No TTL: this lock never expires by itself, so there is nothing counting down.
            </p>
          )
        ) : (
          <Suspense fallback={<div style={{ height: TTL_CHART_BOX_HEIGHT }} />}>
            <TtlChart samples={history?.ttl ?? EMPTY} lock={lock} clockOffsetMs={clockOffsetMs} />
          </Suspense>
        )}
      </section>

      <section aria-labelledby="timeline-heading">
        <h3 id="timeline-heading" className="mb-1 text-xs font-semibold tracking-wide text-slate-500 uppercase dark:text-slate-400">
          Event timeline{history ? ` (${history.events.length})` : ''}
        </h3>
        {error && (
          <p role="status" className="mb-1 text-xs text-red-700 dark:text-red-400">
            {error}
          </p>
        )}
        {history ? (
          <Timeline events={history.events} now={now} currentOwner={lock.owner?.text ?? null} />
        ) : (
          loading && <p className="text-slate-500">Loading history…</p>
        )}
      </section>
    </div>
  );
}

const EMPTY: never[] = [];
const ENDED_LABEL: Partial<Record<LockView['state'], string>> = { expired: 'Expired', lost: 'Lost' };

/** Why a key or owner reads with escapes, and (for bytes that are not text) how to copy them exactly. */
function EscapeNote({ view, what }: { view: BytesView; what: string }) {
  if (!view.escaped) return null;
  if (view.binary) {
    return (
      <div className="mt-1 flex items-center gap-2 text-xs text-slate-500">
        Not UTF-8: shown escaped. <CopyButton text={view.base64} label={`Copy ${what} as base64`} what={`${what[0]!.toUpperCase()}${what.slice(1)} (base64)`} />
      </div>
    );
  }
  return (
    <p className="mt-1 text-xs text-amber-800 dark:text-amber-300" data-testid="escape-note">
      Has characters that would not show as themselves (bidi controls, zero-width…): shown as{' '}
      <code>{'\\u{XXXX}'}</code>, a backslash as <code>{'\\\\'}</code>. Copy copies the exact {what}.
    </p>
  );
}

function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div>
      <div className="mb-0.5 text-xs font-semibold tracking-wide text-slate-500 uppercase dark:text-slate-400">{label}</div>
      {children}
    </div>
  );
}

function Fact({ label, children }: { label: string; children: ReactNode }) {
  return (
    <>
      <dt className="text-slate-500 dark:text-slate-400">{label}</dt>
      <dd className="min-w-0">{children}</dd>
    </>
  );
}

function Moment({ at, now }: { at: number; now: number }) {
  return (
    <span>
      <time dateTime={new Date(at).toISOString()} title={formatDateTime(at)} className="font-mono text-xs tabular-nums">
        {formatTimestamp(at, now)}
      </time>{' '}
      <span className="text-slate-500 dark:text-slate-400">({formatRelative(at, now)})</span>
    </span>
  );
}
