import type uPlot from 'uplot';

/** uPlot hook: away from the cursor, the legend reads out the newest point instead of dashes (live charts). */
export function showLatest(u: uPlot): void {
  const n = u.data[0]?.length ?? 0;
  if (n > 0 && (u.cursor.left == null || u.cursor.left < 0)) u.setLegend({ idx: n - 1 }, false);
}
