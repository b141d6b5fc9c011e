import { memo, useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { showLatest } from '../../lib/chart';
import { formatClock } from '../../lib/format';
import { useTheme, type Theme } from '../../theme/theme';

const HEIGHT = 150;

export interface ChartSeries {
  label: string;
  /** Stroke colour per theme. */
  color: Record<Theme, string>;
  dash?: number[];
}

const AXIS: Record<Theme, { axis: string; grid: string }> = {
  light: { axis: '#475569', grid: '#e2e8f0' },
  dark: { axis: '#cbd5e1', grid: '#334155' },
};

function options(theme: Theme, width: number, series: readonly ChartSeries[], unit: string): uPlot.Options {
  const c = AXIS[theme];
  const axis = { stroke: c.axis, grid: { stroke: c.grid, width: 1 }, ticks: { stroke: c.grid, width: 1 }, font: '11px ui-sans-serif, system-ui, sans-serif' };
  return {
    width,
    height: HEIGHT,
    cursor: { drag: { x: false, y: false }, points: { size: 5 } },
    legend: { show: true, live: true },
    hooks: { setCursor: [showLatest], setData: [showLatest] },
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, (max ?? 1) * 1.1)] } },
    series: [
      { label: 'Time', value: (_u, v) => (v == null ? '—' : formatClock(v * 1000)) },
      ...series.map((s) => ({
        label: s.label,
        stroke: s.color[theme],
        width: 1.5,
        dash: s.dash,
        points: { show: false },
        value: (_u: uPlot, v: number | null) => (v == null ? '—' : `${Math.round(v * 10) / 10}${unit ? ` ${unit}` : ''}`),
      })),
    ],
    axes: [
      { ...axis, space: 64, values: (_u, vals) => vals.map((v) => formatClock(v * 1000).slice(0, 8)) },
      { ...axis, size: 52 },
    ],
  };
}

interface Props {
  /** Accessible name, e.g. "Throughput chart". */
  label: string;
  series: readonly ChartSeries[];
  /** uPlot columns: x (epoch seconds), then one array per series. */
  data: uPlot.AlignedData;
  unit: string;
}

/** A live line chart (uPlot, canvas) that follows its container's width and the theme. */
export const SimChart = memo(function SimChart({ label, series, data, unit }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef(data);
  const { theme } = useTheme();

  useEffect(() => {
    const el = box.current!;
    const u = new uPlot(options(theme, el.clientWidth || 320, series, unit), latest.current, el);
    plot.current = u;
    const resize = new ResizeObserver(() => {
      if (el.clientWidth > 0 && el.clientWidth !== u.width) u.setSize({ width: el.clientWidth, height: HEIGHT });
    });
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [theme, series, unit]);

  useEffect(() => {
    latest.current = data;
    plot.current?.setData(data);
  }, [data]);

  return <div ref={box} role="img" aria-label={label} className="w-full min-w-0" />;
});
