import type { TargetStatus } from '../../../shared/status';
import { HEALTH_DOT, HEALTH_LABEL } from '../lib/targets';
import { useLockStore, useViewedTarget } from '../store/lock-store';
import { useViewStore } from '../store/view-store';

/**
 * The watched deployments, one button each with its lock count and health; shown only when there is more than
 * one. Choosing one shows its table (a fresh snapshot) and puts it in the URL.
 */
export function TargetSwitcher() {
  const targets = useLockStore((s) => s.status?.targets ?? null);
  const viewed = useViewedTarget();
  const asked = useViewStore((s) => s.target);
  const setTarget = useViewStore((s) => s.setTarget);
  if (!targets || targets.length < 2) return null;
  return (
    <nav aria-label="Redis targets" className="flex flex-wrap items-center gap-1.5 border-b border-slate-200 bg-white px-4 py-1.5 text-xs dark:border-slate-800 dark:bg-slate-900">
      <span className="mr-1 text-slate-500 dark:text-slate-400">Targets</span>
      {targets.map((t) => (
        <TargetButton
          key={t.id}
          target={t}
          current={t.id === viewed?.id}
          // Asked for and on its way: the table switches when its snapshot arrives.
          pending={t.id === asked && t.id !== viewed?.id}
          onChoose={() => setTarget(t.id)}
        />
      ))}
    </nav>
  );
}

function TargetButton({ target: t, current, pending, onChoose }: { target: TargetStatus; current: boolean; pending: boolean; onChoose: () => void }) {
  const bad = t.health === 'down' || t.health === 'blind';
  return (
    <button
      type="button"
      aria-current={current ? 'page' : undefined}
      aria-busy={pending || undefined}
      onClick={onChoose}
      aria-label={`${t.name ?? t.id}: ${t.locks} ${t.locks === 1 ? 'lock' : 'locks'}, ${HEALTH_LABEL[t.health]}`}
      title={`${t.url}${t.problem ? ` — ${t.problem}` : ''}`}
      data-target-id={t.id}
      className={`inline-flex items-center gap-1.5 rounded-md border px-2 py-1 whitespace-nowrap focus-visible:outline-2 focus-visible:outline-offset-1 focus-visible:outline-sky-500 ${
        current
          ? 'border-sky-600 bg-sky-50 font-medium text-sky-950 dark:border-sky-500 dark:bg-sky-950 dark:text-sky-50'
          : 'border-slate-200 bg-white text-slate-700 hover:border-slate-400 dark:border-slate-700 dark:bg-slate-900 dark:text-slate-200 dark:hover:border-slate-500'
      }`}
    >
      <span aria-hidden className={`inline-block h-2 w-2 rounded-full ${HEALTH_DOT[t.health]}`} />
      <span className="font-mono">{t.name ?? t.id}</span>
      <span className="font-mono tabular-nums text-slate-500 dark:text-slate-400">
        {t.locks.toLocaleString('en-US')}
      </span>
      {t.health !== 'ok' && (
        <span className={bad ? 'font-medium text-red-700 dark:text-red-400' : 'text-amber-700 dark:text-amber-400'}>{HEALTH_LABEL[t.health]}</span>
      )}
    </button>
  );
}
