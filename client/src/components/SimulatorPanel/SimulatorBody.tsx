import { useId, useMemo, useState, type ReactNode } from 'react';
import type uPlot from 'uplot';
import type { Result } from '../../../../shared/result';
import type { HoldDistribution, PauseAt, SimCounters, SimStats, SimStrategy, SimSummary } from '../../../../shared/simulator';
import { SIM_STRATEGIES, SIM_VIOLATION_COUNTERS } from '../../../../shared/simulator';
import { useSocket } from '../../socket/SocketProvider';
import { SimChart, type ChartSeries } from './SimChart';
import { useSimStore } from './sim-store';
import { fromConfig, toInput, type Form } from './sim-form';

const STRATEGY_LABEL: Record<SimStrategy, string> = {
  'setnx-expire': 'setnx-expire — SETNX, then EXPIRE; DEL (first design note)',
  'set-nx-ex-renew': 'set-nx-ex-renew — SET NX EX, blind EXPIRE loop; DEL (second note)',
  safe: 'safe — lockscope’s library (token, owner-checked release, watchdog)',
  'safe-fenced': 'safe-fenced — safe + fencing token checked by the resource',
};

const COUNTER_LABEL: Record<keyof SimCounters, string> = {
  overlaps: 'Overlapping holders',
  foreignReleases: 'Deleted another’s lock',
  foreignRenewals: 'Renewed another’s lock',
  staleWritesAccepted: 'Stale writes accepted',
  stuckLocksCreated: 'Stuck locks (no TTL)',
  staleWritesRejected: 'Stale writes rejected by fence',
  lostUpdates: 'Lost updates',
  lostLocksDetected: 'Lost locks noticed',
  refusedByOwnerCheck: 'Refused by owner check',
  expiryReapplied: 'Expiry re-applied (quirk)',
  crashes: 'Crashes',
  pauses: 'Pauses',
  redisErrors: 'Redis errors',
};

const CONTROL =
  'h-8 w-full rounded-md border border-slate-300 bg-white px-2 text-sm text-slate-900 disabled:opacity-60 focus:border-sky-500 focus:outline-2 focus:outline-sky-500/40 dark:border-slate-600 dark:bg-slate-900 dark:text-slate-100';
const BUTTON = 'h-8 rounded-md px-3 text-sm font-medium disabled:cursor-not-allowed disabled:opacity-50';

/**
 * The simulator's settings, Start/Stop, live stats and charts: the body of the panel (SimulatorPanel.tsx), loaded
 * on demand with uPlot the first time the panel opens (or when the page is idle).
 */
export function SimulatorBody({ id, draft, setDraft }: { id: string; draft: Form; setDraft: (update: (f: Form) => Form) => void }) {
  const socket = useSocket();
  const state = useSimStore((s) => s.state);
  const history = useSimStore((s) => s.history);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const running = state?.status === 'running';
  const stopping = state?.status === 'stopping';
  const enabled = state?.availability.enabled ?? false;
  // While a run goes on (perhaps started from another browser) the form shows its settings, read-only.
  const form = running && state?.config ? fromConfig(state.config) : draft;

  const request = async <T,>(send: () => Promise<Result<T>>) => {
    setBusy(true);
    setError(null);
    try {
      const result = await send();
      if (!result.ok) setError(result.error.message);
    } catch {
      setError('The server did not answer. Is lockscope still running?');
    } finally {
      setBusy(false);
    }
  };
  const start = () => request(() => socket.timeout(15_000).emitWithAck('sim:start', toInput(form)));
  const stop = () => request(() => socket.timeout(15_000).emitWithAck('sim:stop'));
  const set = <K extends keyof Form>(k: K) => (v: Form[K]) => setDraft((f) => ({ ...f, [k]: v }));

  return (
    <div id={id} className="max-h-[55vh] overflow-auto px-4 pb-4">
      {state && !enabled && state.availability.enabled === false && (
        <p className="mb-2 rounded-md bg-amber-50 px-3 py-2 text-sm text-amber-900 dark:bg-amber-950 dark:text-amber-200">
          The simulator is off: {state.availability.reason}
        </p>
      )}
      <form
        className="grid grid-cols-2 gap-x-3 gap-y-2 md:grid-cols-4 xl:grid-cols-8"
        onSubmit={(e) => {
          e.preventDefault();
          if (!running) void start();
        }}
      >
        <Field label="Strategy" wide>
          {(id) => (
          <select id={id} className={CONTROL} value={form.strategy} disabled={running} onChange={(e) => set('strategy')(e.target.value as SimStrategy)}>
            {SIM_STRATEGIES.map((s) => (
              <option key={s} value={s}>
                {STRATEGY_LABEL[s]}
              </option>
            ))}
          </select>
          )}
        </Field>
        <NumberField label="Workers" value={form.workers} onChange={set('workers')} disabled={running} min={1} max={500} />
        <NumberField label="Resources" value={form.resources} onChange={set('resources')} disabled={running} min={1} />
        <NumberField label="Duration (s)" value={form.durationS} onChange={set('durationS')} disabled={running} min={1} max={600} />
        <NumberField label="TTL (ms)" value={form.ttlMs} onChange={set('ttlMs')} disabled={running} min={50} />
        <NumberField label="Renew every (ms)" value={form.renewIntervalMs} onChange={set('renewIntervalMs')} disabled={running} placeholder="TTL/3" />
        <NumberField label="Acquire timeout (ms)" value={form.acquireTimeoutMs} onChange={set('acquireTimeoutMs')} disabled={running} min={0} />
        <NumberField label="Hold (ms, mean)" value={form.holdMs} onChange={set('holdMs')} disabled={running} min={0} />
        <Field label="Hold distribution">
          {(id) => (
          <select id={id} className={CONTROL} value={form.holdDistribution} disabled={running} onChange={(e) => set('holdDistribution')(e.target.value as HoldDistribution)}>
            <option value="exponential">exponential</option>
            <option value="uniform">uniform</option>
            <option value="fixed">fixed</option>
          </select>
          )}
        </Field>
        <NumberField label="Crash probability" value={form.crashProb} onChange={set('crashProb')} disabled={running} step={0.01} min={0} max={1} />
        <NumberField
          label="Crash between SETNX/EXPIRE"
          value={form.crashBetweenProb}
          onChange={set('crashBetweenProb')}
          disabled={running || form.strategy !== 'setnx-expire'}
          step={0.01}
          min={0}
          max={1}
        />
        <NumberField label="Pause probability" value={form.pauseProb} onChange={set('pauseProb')} disabled={running} step={0.01} min={0} max={1} />
        <NumberField label="Pause length (ms)" value={form.pauseMs} onChange={set('pauseMs')} disabled={running} min={1} />
        <Field label="Pause strikes" wide help={PAUSE_HELP}>
          {(id, helpId) => (
          <select
            id={id}
            aria-describedby={helpId}
            className={CONTROL}
            value={form.pauseAt}
            disabled={running}
            onChange={(e) => set('pauseAt')(e.target.value as PauseAt)}
          >
            <option value="hold">during the work</option>
            <option value="before-write">right before the write</option>
          </select>
          )}
        </Field>
        <NumberField label="Slow Redis probability" value={form.slowProb} onChange={set('slowProb')} disabled={running} step={0.01} min={0} max={1} />
        <NumberField label="Slow Redis delay (ms)" value={form.slowMs} onChange={set('slowMs')} disabled={running} min={0} />
        <div className="col-span-2 flex items-end gap-2 md:col-span-4 xl:col-span-8">
          <button type="submit" disabled={!enabled || running || stopping || busy} className={`${BUTTON} bg-sky-600 text-white hover:bg-sky-700`}>
            Start
          </button>
          <button type="button" disabled={!running || busy} onClick={() => void stop()} className={`${BUTTON} bg-slate-700 text-white hover:bg-slate-800`}>
            Stop
          </button>
          {error && (
            <p role="alert" className="text-sm text-red-700 dark:text-red-300">
              {error}
            </p>
          )}
        </div>
      </form>
      <SimLive history={history} />
      {!running && state?.lastSummary && <LastRun summary={state.lastSummary} />}
    </div>
  );
}

/**
 * What the pause setting claims, and what it does not: shown under it and tied to it as its description. `safe`
 * holds under crashes and pauses during the work (the default); a pause between its validity check and the write
 * is the case only fencing covers (Kleppmann's argument), which `safe-fenced` shows.
 */
const PAUSE_HELP =
  'During the work (default): safe shows 0 violations under crashes and pauses while holding. Right before the write, ' +
  'i.e. between the validity check and the write: a pause longer than the TTL defeats any lock without fencing, safe ' +
  'included (its stale write is counted); safe-fenced fixes that, as the resource refuses the stale write.';

/** A label above its control, tied by id (a wrapping label would fold the control's value into the name); optional help below, as its description. */
function Field({
  label,
  children,
  wide,
  help,
}: {
  label: string;
  children: (id: string, helpId: string | undefined) => ReactNode;
  wide?: boolean;
  help?: string;
}) {
  const id = useId();
  const helpId = `${id}-help`;
  return (
    <div className={`flex flex-col gap-1 ${wide ? 'col-span-2' : ''}`}>
      <label htmlFor={id} className="text-xs text-slate-600 dark:text-slate-300">
        {label}
      </label>
      {children(id, help ? helpId : undefined)}
      {help && (
        <p id={helpId} className="text-xs text-slate-500 dark:text-slate-400">
          {help}
        </p>
      )}
    </div>
  );
}

function NumberField(props: {
  label: string;
  value: string;
  onChange: (v: string) => void;
  disabled: boolean;
  min?: number;
  max?: number;
  step?: number;
  placeholder?: string;
}) {
  return (
    <Field label={props.label}>
      {(id) => (
      <input
        id={id}
        type="number"
        inputMode="decimal"
        className={CONTROL}
        value={props.value}
        min={props.min}
        max={props.max}
        step={props.step ?? 1}
        placeholder={props.placeholder}
        disabled={props.disabled}
        onChange={(e) => props.onChange(e.target.value)}
      />
      )}
    </Field>
  );
}

const THROUGHPUT: ChartSeries[] = [
  { label: 'acquisitions/s', color: { light: '#2563eb', dark: '#60a5fa' } },
  { label: 'failed/s', color: { light: '#d97706', dark: '#fbbf24' } },
];
const WAIT: ChartSeries[] = [
  { label: 'p50', color: { light: '#059669', dark: '#34d399' } },
  { label: 'p95', color: { light: '#d97706', dark: '#fbbf24' } },
  { label: 'p99', color: { light: '#dc2626', dark: '#f87171' } },
];
const VIOLATION_COLORS = ['#dc2626', '#9333ea', '#db2777', '#ea580c', '#0f766e'];
const VIOLATIONS: ChartSeries[] = [
  ...SIM_VIOLATION_COUNTERS.map((c, i) => ({ label: COUNTER_LABEL[c], color: { light: VIOLATION_COLORS[i]!, dark: VIOLATION_COLORS[i]! } })),
  { label: COUNTER_LABEL.staleWritesRejected, color: { light: '#64748b', dark: '#94a3b8' }, dash: [4, 4] },
];

function SimLive({ history }: { history: SimStats[] }) {
  const data = useMemo(() => {
    const x = history.map((s) => s.at / 1000);
    const col = (f: (s: SimStats) => number | null) => history.map(f);
    return {
      throughput: [x, col((s) => s.acquisitionsPerSec), col((s) => s.failedPerSec)] as uPlot.AlignedData,
      wait: [x, col((s) => s.waitMs.p50), col((s) => s.waitMs.p95), col((s) => s.waitMs.p99)] as uPlot.AlignedData,
      violations: [
        x,
        ...SIM_VIOLATION_COUNTERS.map((c) => col((s) => s.counters[c])),
        col((s) => s.counters.staleWritesRejected),
      ] as uPlot.AlignedData,
    };
  }, [history]);
  const s = history.at(-1);
  if (!s) return <p className="mt-3 text-sm text-slate-500">No simulation yet: pick a strategy and press Start. Its locks appear in the table above.</p>;
  return (
    <div className="mt-3 flex flex-col gap-3">
      <dl aria-label="Simulator stats" className="grid grid-cols-2 gap-2 text-sm md:grid-cols-4 xl:grid-cols-8">
        <Stat name="Acquisitions" value={s.acquisitions} />
        <Stat name="Acquisitions/s" value={s.acquisitionsPerSec} />
        <Stat name="Failed attempts" value={s.failedAcquires} />
        <Stat name="Wait p50/p95/p99 (ms)" value={`${s.waitMs.p50 ?? '–'} / ${s.waitMs.p95 ?? '–'} / ${s.waitMs.p99 ?? '–'}`} />
        <Stat name="Hold p50 (ms)" value={s.holdMs.p50 ?? '–'} />
        <Stat name="Fairness" value={s.fairness ?? '–'} />
        <Stat name="Workers alive" value={s.workersAlive} />
        <Stat name="Stuck locks now" value={s.stuckLocksNow} bad={s.stuckLocksNow > 0} />
        <Stat name="Violations" value={s.violations} bad={s.violations > 0} />
        {(Object.keys(COUNTER_LABEL) as (keyof SimCounters)[]).map((c) => (
          <Stat key={c} name={COUNTER_LABEL[c]} value={s.counters[c]} bad={(SIM_VIOLATION_COUNTERS as readonly string[]).includes(c) && s.counters[c] > 0} />
        ))}
      </dl>
      <div className="grid grid-cols-1 gap-3 lg:grid-cols-3">
        <ChartBox title="Throughput">
          <SimChart label="Throughput chart" series={THROUGHPUT} data={data.throughput} unit="/s" />
        </ChartBox>
        <ChartBox title="Wait time percentiles">
          <SimChart label="Wait percentiles chart" series={WAIT} data={data.wait} unit="ms" />
        </ChartBox>
        <ChartBox title="Violations (cumulative)">
          <SimChart label="Violations chart" series={VIOLATIONS} data={data.violations} unit="" />
        </ChartBox>
      </div>
    </div>
  );
}

function ChartBox({ title, children }: { title: string; children: ReactNode }) {
  return (
    <figure className="min-w-0 rounded-md border border-slate-200 p-2 dark:border-slate-700">
      <figcaption className="mb-1 text-xs font-semibold text-slate-600 dark:text-slate-300">{title}</figcaption>
      {children}
    </figure>
  );
}

function Stat({ name, value, bad }: { name: string; value: string | number; bad?: boolean }) {
  return (
    <div className="rounded-md bg-slate-50 px-2 py-1 dark:bg-slate-800" data-stat={name}>
      <dt className="text-xs text-slate-500 dark:text-slate-400">{name}</dt>
      <dd className={`font-semibold tabular-nums ${bad ? 'text-red-700 dark:text-red-300' : ''}`} data-value={value}>
        {value}
      </dd>
    </div>
  );
}

function LastRun({ summary }: { summary: SimSummary }) {
  return (
    <p aria-label="Last run" className="mt-3 text-sm text-slate-700 dark:text-slate-200">
      Last run ({summary.config.strategy}, {summary.config.workers} workers × {summary.config.resources} resources, {(summary.durationMs / 1000).toFixed(1)} s,{' '}
      {summary.endReason}): {summary.acquisitions} acquisitions ({summary.acquisitionsPerSec}/s), wait p99 {summary.waitMs.p99 ?? '–'} ms,{' '}
      <strong className={summary.violations > 0 ? 'text-red-700 dark:text-red-300' : 'text-emerald-700 dark:text-emerald-300'}>
        {summary.violations} violation{summary.violations === 1 ? '' : 's'}
      </strong>
      .
    </p>
  );
}
