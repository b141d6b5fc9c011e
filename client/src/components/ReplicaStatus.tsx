import type { ReplicaRole, ReplicationStatus } from '../../../shared/status';
import { useNow } from '../hooks/useNow';
import { formatClock, formatDuration } from '../lib/format';
import { useViewedTarget } from '../store/lock-store';

const ROLE_LABEL: Record<ReplicaRole, string> = { leader: 'leader', follower: 'follower', candidate: 'electing', alone: 'alone' };

const ROLE_TONE: Record<ReplicaRole, string> = {
  leader: 'bg-sky-50 text-sky-900 dark:bg-sky-950 dark:text-sky-200',
  follower: 'bg-sky-50 text-sky-900 dark:bg-sky-950 dark:text-sky-200',
  candidate: 'bg-amber-100 text-amber-900 dark:bg-amber-950 dark:text-amber-300',
  alone: 'bg-slate-100 text-slate-700 dark:bg-slate-800 dark:text-slate-200',
};

/**
 * The header's replica item, shown when several lockscope servers share the target: this server's role, and on
 * a click the target's lease as `kubectl get lease` would show it (holder, term, acquire and renew times,
 * transitions) plus where the shared state lives.
 */
export function ReplicaItem() {
  const r = useViewedTarget()?.replication ?? null;
  if (!r) return null;
  return (
    <details className="group relative shrink-0 text-xs" data-testid="replica">
      <summary
        className={`flex cursor-pointer list-none items-center gap-1.5 rounded-full px-2 py-0.5 font-medium whitespace-nowrap ${ROLE_TONE[r.role]}`}
        title="This lockscope server's part among its replicas: click for the lease"
      >
        <span className="sr-only">Replica: </span>
        <span data-testid="replica-role">{ROLE_LABEL[r.role]}</span>
        {r.lease && <span className="hidden font-normal opacity-80 xl:inline">· term {r.lease.term}</span>}
      </summary>
      <LeaseCard r={r} />
    </details>
  );
}

function LeaseCard({ r }: { r: ReplicationStatus }) {
  const now = useNow(1000);
  const rows: [string, string][] = [
    ['This server', `${r.self} (${ROLE_LABEL[r.role]})`],
    ['Holder', r.lease?.holder ?? 'nobody'],
  ];
  if (r.lease) {
    rows.push(
      ['Term', String(r.lease.term)],
      ['Acquired', `${formatClock(r.lease.acquiredAt).slice(0, 8)} (${formatDuration(now - r.lease.acquiredAt)} ago)`],
      ['Renewed', `${formatClock(r.lease.renewedAt).slice(0, 8)} (${formatDuration(now - r.lease.renewedAt)} ago)`],
      ['Lease', formatDuration(r.lease.ttlMs)],
      ['Transitions', String(r.lease.transitions)],
    );
  }
  if (r.heardAt !== null) rows.push(['Leader heard', `${formatDuration(now - r.heardAt)} ago`]);
  rows.push(['Shared state', r.store]);
  return (
    <div
      className="absolute right-0 z-20 mt-1 w-80 rounded-md border border-slate-200 bg-white p-3 shadow-lg dark:border-slate-700 dark:bg-slate-900"
      data-testid="lease-card"
    >
      <p className="mb-2 font-semibold text-slate-900 dark:text-slate-100">Leader lease</p>
      <dl className="grid grid-cols-[auto_1fr] gap-x-3 gap-y-1 text-slate-700 dark:text-slate-300">
        {rows.map(([k, v]) => (
          <div key={k} className="contents">
            <dt className="text-slate-500 dark:text-slate-400">{k}</dt>
            <dd className="min-w-0 break-words font-mono" data-lease={k.toLowerCase().replace(/ /g, '-')}>
              {v}
            </dd>
          </div>
        ))}
      </dl>
      {r.problem && <p className="mt-2 text-amber-800 dark:text-amber-300">{r.problem}</p>}
    </div>
  );
}

/**
 * Says when the table on this server is not the leader's live view: a leader that went away (another replica
 * takes over; the table shows the state as of its last word), a copy still arriving, or a server that cannot
 * coordinate with its replicas and watches alone.
 */
export function ReplicaBanner() {
  const r = useViewedTarget()?.replication ?? null;
  const now = useNow(1000);
  if (!r) return null;
  let tone = 'border-sky-300 bg-sky-50 text-sky-950 dark:border-sky-800 dark:bg-sky-950 dark:text-sky-100';
  let title: string;
  let text: string | null;
  if (r.role === 'candidate' && r.lease) {
    tone = 'border-amber-600 bg-amber-100 text-amber-950 dark:border-amber-700 dark:bg-amber-950 dark:text-amber-100';
    title = 'Changing leader.';
    const since = r.heardAt ?? now;
    text = `The leader replica ${r.lease.holder} has not been heard from for ${formatDuration(now - since)}; another replica takes over within ${formatDuration(r.lease.ttlMs + 1000)}. The table shows the state as of ${formatClock(since).slice(0, 8)}.`;
  } else if (r.role === 'follower' && !r.synced) {
    title = 'Copying the table from the leader…';
    text = r.lease ? `The leader is ${r.lease.holder}.` : null;
  } else if (r.role === 'alone' && r.problem) {
    title = 'Working alone.';
    text = r.problem;
  } else return null;
  return (
    <div role="status" data-testid="replica-banner" className={`flex flex-wrap items-center gap-x-2 border-b px-4 py-1.5 text-sm ${tone}`}>
      <strong className="font-semibold">{title}</strong>
      {text && <span>{text}</span>}
    </div>
  );
}
