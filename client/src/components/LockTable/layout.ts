/** Fixed geometry of the virtualized table (px). */
export const ROW_HEIGHT = 36;
export const HEADER_HEIGHT = 32;
