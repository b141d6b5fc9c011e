import type { MissingCapability, NodeStatus, TargetStatus } from '../../../shared/status';
import { CAPABILITY_LABEL, RESTART_SIGNAL_TEXT } from '../lib/targets';
import { useViewedTarget } from '../store/lock-store';

/**
 * What the shown target's Redis user may not do, and what that costs. Blind (lockscope cannot list locks): a red
 * alert, because the table cannot be trusted to be complete. Otherwise, where fallbacks are in use: one quiet
 * line, with the details (each missing permission, its fallback, how restarts are detected) a click away.
 */
export function CapabilityBanner() {
  const target = useViewedTarget();
  if (!target || target.health === 'down') return null;
  const up = target.nodes.filter((n) => n.connection === 'ready');
  const blind = up.filter((n) => n.blind);
  if (blind.length) return <Blind target={target} nodes={blind} />;
  const lacking = up.filter((n) => n.missing.length > 0);
  const weakSignal = up.filter((n) => n.restartSignal === 'client-id' || n.restartSignal === 'none');
  if (!lacking.length && !weakSignal.length) return null;
  return <Reduced target={target} nodes={[...new Set([...lacking, ...weakSignal])]} />;
}

function Blind({ target, nodes }: { target: TargetStatus; nodes: NodeStatus[] }) {
  const causes = unique(nodes.flatMap((n) => n.missing.filter((m) => m.blinds)));
  return (
    <div role="alert" data-testid="blind-banner" className="border-b border-red-800 bg-red-700 px-4 py-1.5 text-sm text-white">
      <strong className="font-semibold">lockscope cannot see the locks{where(target, nodes)}.</strong>{' '}
      <span>
        The Redis user lacks {causes.map((m) => CAPABILITY_LABEL[m.capability]).join(' and ')}, so an empty or short table here does not mean there
        are no locks.
      </span>
      <ul className="mt-0.5 list-inside list-disc text-xs text-red-50">
        {causes.map((m) => (
          <li key={m.capability}>
            <span className="font-mono">{m.detail}</span>
          </li>
        ))}
        <li>Grant it (see the README's capability table) — lockscope looks again every 30 s, no restart needed.</li>
      </ul>
    </div>
  );
}

function Reduced({ target, nodes }: { target: TargetStatus; nodes: NodeStatus[] }) {
  const missing = unique(nodes.flatMap((n) => n.missing));
  const signals = [...new Set(nodes.map((n) => n.restartSignal).filter((s) => s !== null))];
  const unreadable = nodes.reduce((n, node) => n + node.unreadableKeys, 0);
  const summary = missing.length
    ? `Reduced permissions${where(target, nodes)}: no ${missing.map((m) => CAPABILITY_LABEL[m.capability]).join(', ')}. lockscope uses fallbacks.`
    : `Restart detection is weak${where(target, nodes)}.`;
  return (
    <details data-testid="capability-banner" className="group border-b border-amber-300 bg-amber-50 px-4 py-1 text-sm text-amber-950 dark:border-amber-800 dark:bg-amber-950/60 dark:text-amber-100">
      <summary className="cursor-pointer marker:text-amber-700 dark:marker:text-amber-400">
        {summary}
        {unreadable > 0 && ` ${unreadable.toLocaleString('en-US')} ${unreadable === 1 ? 'key' : 'keys'} matching the lock patterns cannot be read and ${unreadable === 1 ? 'is' : 'are'} not shown.`}{' '}
        <span className="text-xs text-amber-800 underline group-open:hidden dark:text-amber-300">What this costs</span>
      </summary>
      <ul className="my-1 list-inside list-disc text-xs">
        {missing.map((m) => (
          <li key={m.capability}>
            <strong className="font-semibold">No {CAPABILITY_LABEL[m.capability]}:</strong> {m.effect}{' '}
            <span className="font-mono text-amber-800 dark:text-amber-300">({m.detail})</span>
          </li>
        ))}
        {signals.map((s) => (
          <li key={s}>{RESTART_SIGNAL_TEXT[s]}</li>
        ))}
      </ul>
    </details>
  );
}

/** ` on 10.0.0.5:6379` for a target of several nodes, nothing for a single server. */
function where(target: TargetStatus, nodes: NodeStatus[]): string {
  return target.nodes.length > 1 ? ` on ${nodes.map((n) => n.address).join(', ')}` : '';
}

function unique(missing: MissingCapability[]): MissingCapability[] {
  const seen = new Map<string, MissingCapability>();
  for (const m of missing) if (!seen.has(m.capability)) seen.set(m.capability, m);
  return [...seen.values()];
}
