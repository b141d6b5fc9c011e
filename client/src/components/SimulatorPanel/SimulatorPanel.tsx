import { Suspense, useId, useState } from 'react';
import { onDemand } from '../../lib/on-demand';
import { INITIAL, type Form } from './sim-form';
import { useSimStore } from './sim-store';
import { useSimulatorFeed } from './useSimulatorFeed';

const SimulatorBody = onDemand(() => import('./SimulatorBody'), (m) => m.SimulatorBody);

const BUTTON = 'h-8 rounded-md px-3 text-sm font-medium disabled:cursor-not-allowed disabled:opacity-50';

/**
 * "Contention simulator": a bar with the run's status and live figures, opening onto its settings, Start/Stop,
 * stats and charts (SimulatorBody, a chunk of its own). The simulated locks show up in the lock table above
 * while it runs (they live under `lockscope:sim:`).
 */
export function SimulatorPanel() {
  useSimulatorFeed();
  const state = useSimStore((s) => s.state);
  const latest = useSimStore((s) => s.history.at(-1) ?? null);
  const [open, setOpen] = useState(false);
  // The settings typed survive hiding the panel.
  const [draft, setDraft] = useState<Form>(INITIAL);
  const titleId = useId();
  const bodyId = useId();

  const running = state?.status === 'running';
  const live = running && latest && state?.runId === latest.runId ? latest : null;
  let status = 'idle';
  if (!state) status = 'connecting…';
  else if (!state.availability.enabled) status = 'off';
  else if (running) status = `running ${state.config?.strategy ?? ''}`;
  else if (state.status === 'stopping') status = 'stopping…';

  return (
    <section aria-labelledby={titleId} className="shrink-0 border-t border-slate-200 bg-white dark:border-slate-700 dark:bg-slate-900">
      <div className="flex items-center gap-3 px-4 py-2">
        <h2 id={titleId} className="text-sm font-semibold">
          Contention simulator
        </h2>
        <span data-testid="sim-status" className={`text-xs ${running ? 'text-emerald-700 dark:text-emerald-300' : 'text-slate-500 dark:text-slate-400'}`}>
          {status}
        </span>
        {live && (
          <span className="text-xs text-slate-600 tabular-nums dark:text-slate-300">
            {live.acquisitionsPerSec}/s · violations <strong className={live.violations > 0 ? 'text-red-700 dark:text-red-300' : ''}>{live.violations}</strong>
          </span>
        )}
        <button
          type="button"
          aria-expanded={open}
          aria-controls={bodyId}
          onClick={() => setOpen((o) => !o)}
          className={`${BUTTON} ml-auto border border-slate-300 dark:border-slate-600`}
        >
          {open ? 'Hide simulator' : 'Show simulator'}
        </button>
      </div>
      {open && (
        <Suspense fallback={<p id={bodyId} className="px-4 pb-4 text-sm text-slate-500 dark:text-slate-400">Loading the simulator…</p>}>
          <SimulatorBody id={bodyId} draft={draft} setDraft={setDraft} />
        </Suspense>
      )}
    </section>
  );
}
