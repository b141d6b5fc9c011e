/** Plot height of the TTL chart (px). */
export const TTL_CHART_HEIGHT = 170;
/** The chart with its legend, reserved while uPlot loads and mounts so that nothing below it moves. */
export const TTL_CHART_BOX_HEIGHT = 200;
