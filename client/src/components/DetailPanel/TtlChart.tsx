import { memo, useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { LockView, TtlSample } from '../../../../shared/locks';
import { showLatest } from '../../lib/chart';
import { formatClock, formatDuration, formatDurationShort } from '../../lib/format';
import { useTheme, type Theme } from '../../theme/theme';
import { TTL_CHART_BOX_HEIGHT, TTL_CHART_HEIGHT as HEIGHT } from './ttl-chart-size';

/** How often the live end of the line moves (the sawtooth's falling edge between server samples). */
const LIVE_TICK_MS = 500;

const COLORS: Record<Theme, { line: string; fill: string; axis: string; grid: string }> = {
  light: { line: '#2563eb', fill: 'rgba(37, 99, 235, 0.12)', axis: '#475569', grid: '#e2e8f0' },
  dark: { line: '#60a5fa', fill: 'rgba(96, 165, 250, 0.16)', axis: '#cbd5e1', grid: '#334155' },
};


/** Tick steps for the TTL axis (s): whole seconds, minutes, hours, days, so labels read `30s`, `5m`, `2h`. */
const TTL_STEPS = [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];

/** The TTL axis is as wide as its longest label (`10m 30s` needs more room than `5s`). */
const ttlAxisSize: uPlot.Axis.Size = (u, values, axisIdx, cycleNum) => {
  const axis = u.axes[axisIdx]!;
  // uPlot asks again after laying out; keep the first answer so the size settles.
  if (cycleNum > 1) return (axis as { _size?: number })._size ?? 48;
  const longest = (values ?? []).reduce((a, v) => (v.length > a.length ? v : a), '');
  u.ctx.font = (axis.font as unknown as [string])[0];
  const ticks = typeof axis.ticks === 'object' && axis.ticks.size != null ? axis.ticks.size : 10;
  return Math.ceil(ticks + (axis.gap ?? 5) + u.ctx.measureText(longest).width / devicePixelRatio + 4);
};

function options(theme: Theme, width: number): uPlot.Options {
  const c = COLORS[theme];
  const axis = { stroke: c.axis, grid: { stroke: c.grid, width: 1 }, ticks: { stroke: c.grid, width: 1 }, font: '11px ui-sans-serif, system-ui, sans-serif' };
  return {
    width,
    height: HEIGHT,
    // Live data: no drag-zoom that the next update would undo.
    cursor: { drag: { x: false, y: false }, points: { size: 6 } },
    legend: { show: true, live: true },
    hooks: { setCursor: [showLatest], setData: [showLatest] },
    scales: {
      x: { time: true },
      y: { range: (_u, _min, max) => [0, Math.max(1, (max ?? 1) * 1.1)] },
    },
    series: [
      { label: 'Time', value: (_u, v) => (v == null ? '—' : formatClock(v * 1000)) },
      {
        label: 'Remaining TTL',
        stroke: c.line,
        fill: c.fill,
        width: 1.5,
        points: { show: false },
        spanGaps: false,
        value: (_u, v) => (v == null ? '—' : formatDuration(v * 1000)),
      },
    ],
    axes: [
      { ...axis, space: 64, values: (_u, vals) => vals.map((v) => formatClock(v * 1000).slice(0, 8)) },
      { ...axis, size: ttlAxisSize, incrs: TTL_STEPS, values: (_u, vals) => vals.map((v) => formatDurationShort(v * 1000, true)) },
    ],
  };
}

/** Samples as uPlot columns (seconds), with the live remaining TTL appended so the line reaches "now". */
function columns(samples: readonly TtlSample[], lock: LockView, clockOffsetMs: number): uPlot.AlignedData {
  const xs: number[] = [];
  const ys: (number | null)[] = [];
  for (const s of samples) {
    xs.push(s.at / 1000);
    ys.push(s.pttlMs >= 0 ? s.pttlMs / 1000 : null);
  }
  const now = Date.now() + clockOffsetMs;
  const last = xs.length ? xs[xs.length - 1]! * 1000 : -Infinity;
  if (lock.endedAt === null && lock.deadline !== null && now > last) {
    xs.push(now / 1000);
    ys.push(Math.max(0, Math.min(lock.deadline - now, lock.pttlMs)) / 1000);
  }
  return [xs, ys];
}

interface Props {
  samples: readonly TtlSample[];
  lock: LockView;
  clockOffsetMs: number;
}

/**
 * Remaining TTL over time (uPlot: canvas, built for live data). A renewing lock draws a sawtooth: the TTL falls,
 * jumps back up at each renewal. The newest point is the live countdown, moved twice a second.
 */
export const TtlChart = memo(function TtlChart({ samples, lock, clockOffsetMs }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const { theme } = useTheme();
  const latest = useRef({ samples, lock, clockOffsetMs });

  // One chart per theme (colours are baked into its options); it follows the container's width.
  useEffect(() => {
    const el = box.current!;
    const { samples: s, lock: l, clockOffsetMs: o } = latest.current;
    const u = new uPlot(options(theme, el.clientWidth || 400), columns(s, l, o), el);
    plot.current = u;
    const resize = new ResizeObserver(() => {
      if (el.clientWidth > 0 && el.clientWidth !== u.width) u.setSize({ width: el.clientWidth, height: HEIGHT });
    });
    resize.observe(el);
    const live = setInterval(() => {
      const { samples: s2, lock: l2, clockOffsetMs: o2 } = latest.current;
      if (l2.endedAt === null && l2.deadline !== null) u.setData(columns(s2, l2, o2));
    }, LIVE_TICK_MS);
    return () => {
      clearInterval(live);
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [theme]);

  useEffect(() => {
    latest.current = { samples, lock, clockOffsetMs };
    plot.current?.setData(columns(samples, lock, clockOffsetMs));
  }, [samples, lock, clockOffsetMs]);

  const renewals = lock.renewals;
  const label =
    lock.deadline === null && lock.endedAt === null
      ? 'TTL chart: this lock has no TTL, so there is nothing counting down.'
      : `TTL chart: ${samples.length} sample${samples.length === 1 ? '' : 's'} of the remaining TTL; ${renewals} renewal${renewals === 1 ? '' : 's'} so far.`;
  return <div ref={box} role="img" aria-label={label} data-testid="ttl-chart" className="ttl-chart w-full" style={{ minHeight: TTL_CHART_BOX_HEIGHT }} />;
});
