import { describe, expect, it } from 'vitest';
import { KEY_MIN, tableLayout } from '../src/components/LockTable/layout';
import { formatDurationShort, formatTimestamp } from '../src/lib/format';

/** Width of the key column: what the others leave. */
function keyWidth(width: number, l: ReturnType<typeof tableLayout>): number {
  const fixed = { library: 148, ttl: 94, heldFor: 94, renewals: 92, state: 140, node: 160 } as Record<string, number>;
  const others = Object.entries(fixed).reduce((n, [k, w]) => n + (l.hidden.has(k as never) ? 0 : w), 0);
  const actions = l.actions === 'full' ? 216 : l.actions === 'select' ? 40 : 0;
  return Math.max(width, l.minWidth) - others - actions - l.ownerWidth;
}

describe('lock table layout', () => {
  it('shows every column and the full admin actions on a wide screen', () => {
    const l = tableLayout(1265, { admin: true, detailOpen: false });
    expect(l.actions).toBe('full');
    expect([...l.hidden]).toEqual(['node']);
    expect(keyWidth(1265, l)).toBeGreaterThan(250);
  });

  it('adds the node column for a cluster, which goes before the library when room runs out', () => {
    const wide = tableLayout(1265, { admin: true, detailOpen: false, cluster: true });
    expect(wide.actions).toBe('full');
    expect(wide.hidden.size).toBe(0);
    expect(keyWidth(1265, wide)).toBeGreaterThanOrEqual(KEY_MIN);
    const beside = tableLayout(845, { admin: true, detailOpen: true, cluster: true });
    expect([...beside.hidden]).toEqual(['renewals', 'node']);
    expect(keyWidth(845, beside)).toBeGreaterThanOrEqual(KEY_MIN);
  });

  it('keeps the key at least KEY_MIN wide: admin buttons shrink to the bulk box, then the least needed columns go', () => {
    // 1024 px laptop, admin: no room for the buttons next to a readable key.
    const laptop = tableLayout(1009, { admin: true, detailOpen: false });
    expect(laptop.actions).toBe('select');
    expect([...laptop.hidden]).toEqual(['node']);
    expect(keyWidth(1009, laptop)).toBeGreaterThanOrEqual(KEY_MIN);
    // 1280 px with the detail panel beside the table (845 px left).
    const beside = tableLayout(845, { admin: true, detailOpen: true });
    expect(beside.actions).toBe('select');
    expect([...beside.hidden]).toEqual(['renewals', 'node']);
    expect(keyWidth(845, beside)).toBeGreaterThanOrEqual(KEY_MIN);
    // Tiny: scroll sideways rather than squeeze.
    const tiny = tableLayout(500, { admin: false, detailOpen: false });
    expect(tiny.minWidth).toBeGreaterThan(500);
    expect(keyWidth(500, tiny)).toBe(KEY_MIN);
  });

  it('drops the row buttons while the detail panel is open, even with room (the panel has them)', () => {
    expect(tableLayout(1800, { admin: true, detailOpen: true }).actions).toBe('select');
    expect(tableLayout(1800, { admin: false, detailOpen: true }).actions).toBeNull();
  });
});

describe('compact durations', () => {
  it('fit a narrow column and keep their width while counting', () => {
    expect(formatDurationShort(9_800)).toBe('9.8s');
    expect(formatDurationShort(42_000)).toBe('42s');
    expect(formatDurationShort(673_000)).toBe('11m 13s');
    expect(formatDurationShort(600_000)).toBe('10m 00s');
    expect(formatDurationShort(2 * 3_600_000 + 600_000)).toBe('2h 10m');
    expect(formatDurationShort(76 * 3_600_000)).toBe('3d 4h');
    expect(formatDurationShort(-5)).toBe('0.0s');
  });

  it('drop a zero second unit on chart axes', () => {
    expect(formatDurationShort(600_000, true)).toBe('10m');
    expect(formatDurationShort(2_000_000, true)).toBe('33m 20s');
    expect(formatDurationShort(5_000, true)).toBe('5s');
    expect(formatDurationShort(0, true)).toBe('0s');
  });
});

describe('timestamps', () => {
  it('show the time alone today and the date otherwise, on a 24-hour clock', () => {
    const at = new Date(2026, 4, 2, 14, 3, 7).getTime();
    expect(formatTimestamp(at, new Date(2026, 4, 2, 23, 0).getTime())).toBe('14:03:07');
    expect(formatTimestamp(at, new Date(2026, 4, 3, 0, 1).getTime())).toBe('2026-05-02 14:03:07');
  });
});
