import type { AuditEntry } from '../../../../shared/admin';
import { useNow } from '../../hooks/useNow';
import { formatDateTime, formatTimestamp } from '../../lib/format';
import { lockModel, useLocksVersion, useLockStore } from '../../store/lock-store';
import { useViewStore } from '../../store/view-store';
import { ShownBytes, ShownText } from '../ShownText';
import { useAdminStore } from './admin-store';

const RESULT_STYLE: Record<string, string> = {
  released: 'text-emerald-700 dark:text-emerald-300',
  'ttl-set': 'text-emerald-700 dark:text-emerald-300',
  started: 'text-sky-700 dark:text-sky-300',
  stopped: 'text-sky-700 dark:text-sky-300',
  'owner-changed': 'text-amber-700 dark:text-amber-300',
  shared: 'text-amber-700 dark:text-amber-300',
  refused: 'text-red-700 dark:text-red-300',
  failed: 'text-red-700 dark:text-red-300',
};

/** Every admin action, refused ones included, newest first; updates live. */
export function AuditLog() {
  const session = useAdminStore((s) => s.session);
  const entries = useAdminStore((s) => s.audit);
  const error = useAdminStore((s) => s.auditError);
  // Keys link to the table only while their lock is tracked; times drop the date while it is today.
  useLocksVersion();
  const now = useNow(60_000);
  // With several targets, each action names its own (keys link to the table only on the target shown).
  const targets = useLockStore((s) => s.status?.targets.length ?? 1);
  const shown = useLockStore((s) => s.target);
  const several = targets > 1;

  if (session?.admin !== 'allowed') {
    return (
      <p className="p-6 text-sm text-slate-600 dark:text-slate-300">
        The audit log is visible to admins only.{session?.reason ? ` ${session.reason}.` : ''}
      </p>
    );
  }
  return (
    <section aria-labelledby="audit-title" className="min-h-0 flex-1 overflow-auto">
      <h2 id="audit-title" className="px-4 pt-3 pb-2 text-sm font-semibold">
        Audit log
      </h2>
      {error && <p role="alert" className="px-4 text-sm text-red-700">{error}</p>}
      <table className="w-full border-collapse text-sm" aria-label="Audit log">
        <thead className="bg-slate-100 text-left text-xs text-slate-600 uppercase dark:bg-slate-800 dark:text-slate-300">
          <tr>
            {['When', 'Who', ...(several ? ['Target'] : []), 'Action', 'Key', 'Owner seen', 'Result', 'Reason / details'].map((h) => (
              <th key={h} scope="col" className="px-3 py-2 font-semibold">
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {entries.map((e) => (
            <AuditRow
              key={e.id}
              entry={e}
              now={now}
              showTarget={several}
              tracked={e.key !== null && (e.target === null || e.target === shown) && lockModel.byId.has(e.key.base64)}
            />
          ))}
        </tbody>
      </table>
      {entries.length === 0 && <p className="p-6 text-center text-sm text-slate-500">No admin actions yet.</p>}
    </section>
  );
}

function AuditRow({ entry: e, now, tracked, showTarget }: { entry: AuditEntry; now: number; tracked: boolean; showTarget: boolean }) {
  const reveal = useViewStore((s) => s.reveal);
  return (
    <tr className="border-b border-slate-200 align-top dark:border-slate-700" data-audit-id={e.id}>
      <td className="px-3 py-1.5 whitespace-nowrap">
        <time dateTime={new Date(e.at).toISOString()} title={formatDateTime(e.at)} className="font-mono text-xs tabular-nums">
          {formatTimestamp(e.at, now)}
        </time>
      </td>
      <td className="px-3 py-1.5 font-mono text-xs" title={e.ip}>
        {e.actor}
        <div className="text-slate-500">{e.ip}</div>
      </td>
      {showTarget && <td className="px-3 py-1.5 font-mono text-xs">{e.target ?? '—'}</td>}
      <td className="px-3 py-1.5">{e.action}{e.ttlMs !== null ? ` (${e.ttlMs / 1000} s)` : ''}</td>
      <td className="max-w-[18rem] truncate px-3 py-1.5 font-mono text-xs" title={e.key?.text}>
        {e.key && tracked ? (
          <button
            type="button"
            onClick={() => reveal(e.key!.base64)}
            title={`Show ${e.key.text} in the lock table`}
            className="max-w-full truncate text-left text-sky-700 underline decoration-sky-700/40 hover:decoration-sky-700 dark:text-sky-400 dark:decoration-sky-400/40"
          >
            <ShownBytes view={e.key} />
          </button>
        ) : e.key ? (
          <ShownBytes view={e.key} />
        ) : (
          '—'
        )}
      </td>
      <td className="max-w-[14rem] truncate px-3 py-1.5 font-mono text-xs" title={e.ownerSeen?.text}>
        {e.ownerSeen ? <ShownBytes view={e.ownerSeen} /> : '—'}
      </td>
      <td className={`px-3 py-1.5 font-medium ${RESULT_STYLE[e.result] ?? ''}`}>
        {e.result}
        {e.error && (
          <div className="text-xs font-normal">
            <ShownText text={e.error.message} />
          </div>
        )}
        {e.currentOwner && (
          <div className="font-mono text-xs font-normal">
            now: <ShownBytes view={e.currentOwner} />
          </div>
        )}
      </td>
      <td className="px-3 py-1.5 text-xs">
        {e.reason !== null ? <ShownText text={e.reason} /> : e.detail ? null : '—'}
        {e.detail && <div className="text-slate-600 dark:text-slate-300">{e.detail}</div>}
      </td>
    </tr>
  );
}
