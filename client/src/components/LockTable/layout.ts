import type { SortKey } from '../../store/lock-model';

/** Fixed geometry of the virtualized table (px). */
export const ROW_HEIGHT = 36;
export const HEADER_HEIGHT = 32;

/** The key is what operators scan for: it never gets narrower than this (the table scrolls sideways first). */
export const KEY_MIN = 220;
const OWNER_MIN = 100;
const OWNER_MAX = 420;
/** Of the width left after the fixed columns, the owner gets this share and the key the rest. */
const OWNER_SHARE = 0.4;

/**
 * Columns with a fixed width, sized for their longest usual value plus padding: `python-redis-lock` (longer
 * library names are abbreviated, see `LIBRARY_SHORT`), `33m 17s`, the `renewal overdue` badge, a cluster node's
 * `10.100.200.255:6379` (its slot is in the title and the details).
 */
export const FIXED_WIDTH: Partial<Record<SortKey, number>> = { library: 148, ttl: 94, heldFor: 94, renewals: 92, state: 140, node: 160 };
/** Admin actions per row: bulk-select box, "Force release", "Set TTL". */
export const ACTIONS_FULL_WIDTH = 216;
/** Only the bulk-select box: the detail panel has the buttons. */
export const ACTIONS_SELECT_WIDTH = 40;
/** Dropped, in this order, when the key would otherwise be squeezed (the detail panel shows them). */
const DROP_ORDER: SortKey[] = ['renewals', 'node', 'library'];

export type ActionsColumn = 'full' | 'select' | null;

export interface TableLayout {
  /** Data columns hidden for lack of room, or because they do not apply (the node outside a cluster). */
  hidden: ReadonlySet<SortKey>;
  actions: ActionsColumn;
  /** Owner column width (px); the key column takes whatever is left. */
  ownerWidth: number;
  /** The table's minimum width: below it, the table scrolls sideways rather than squeezing the key. */
  minWidth: number;
}

/**
 * Which columns fit a table `width` px wide (0 = not measured yet). The admin actions column shrinks to its
 * bulk-select box while the detail panel is open (the panel has the buttons, and two "Force release" buttons for
 * one lock would be ambiguous) or when there is no room for the buttons; then the least needed columns go. The
 * node column is there for a cluster only.
 */
export function tableLayout(width: number, { admin, detailOpen, cluster = false }: { admin: boolean; detailOpen: boolean; cluster?: boolean }): TableLayout {
  const hidden = new Set<SortKey>();
  const absent = (k: SortKey) => hidden.has(k) || (k === 'node' && !cluster);
  let actions: ActionsColumn = admin ? (detailOpen ? 'select' : 'full') : null;
  const actionsWidth = () => (actions === 'full' ? ACTIONS_FULL_WIDTH : actions === 'select' ? ACTIONS_SELECT_WIDTH : 0);
  const fixed = () => Object.entries(FIXED_WIDTH).reduce((n, [k, w]) => n + (absent(k as SortKey) ? 0 : w), 0) + actionsWidth();
  const fits = () => width === 0 || width - fixed() >= KEY_MIN + OWNER_MIN;
  if (!fits() && actions === 'full') actions = 'select';
  for (const column of DROP_ORDER) if (!fits() && !absent(column)) hidden.add(column);
  if (!cluster) hidden.add('node');
  const flexible = Math.max(0, width - fixed());
  const ownerWidth = Math.max(OWNER_MIN, Math.min(OWNER_MAX, flexible - KEY_MIN, Math.round(flexible * OWNER_SHARE)));
  return { hidden, actions, ownerWidth, minWidth: fixed() + ownerWidth + KEY_MIN };
}
