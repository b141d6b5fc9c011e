/**
 * What a shared link carries:
 * `?target=prod&q=&state=no-ttl,renewal-overdue&lib=redisson&sort=ttl&dir=asc&lock=<id>&view=audit`.
 * Defaults are left out so a plain link stays plain; unknown values are ignored rather than failing the page.
 */
import type { LibraryId, LockState } from '../../../shared/locks';
import { isLibraryId } from '../../../shared/libraries';
import { LOCK_STATES } from '../../../shared/locks';
import { DEFAULT_SORT, SORT_KEYS, type SortKey, type SortSpec } from './lock-model';

export interface UrlState {
  /** The watched deployment shown (`TargetStatus.id`); null = the first one (a page with one target omits it). */
  target: string | null;
  q: string;
  states: ReadonlySet<LockState>;
  libraries: ReadonlySet<LibraryId>;
  sort: SortSpec;
  /** The lock whose details are open (base64 key). */
  lock: string | null;
  /** The page's tab: the lock table (default) or the admin audit log. */
  view: View;
}

export const VIEWS = ['locks', 'audit'] as const;
export type View = (typeof VIEWS)[number];

function list(value: string | null): string[] {
  return value ? value.split(',').map((s) => s.trim()).filter(Boolean) : [];
}

export function parseUrlState(search: string): UrlState {
  const p = new URLSearchParams(search);
  const sortKey = p.get('sort');
  const key: SortKey = sortKey && (SORT_KEYS as readonly string[]).includes(sortKey) ? (sortKey as SortKey) : DEFAULT_SORT.key;
  const dirParam = p.get('dir');
  const dir = dirParam === 'asc' || dirParam === 'desc' ? dirParam : key === DEFAULT_SORT.key ? DEFAULT_SORT.dir : 'asc';
  return {
    target: p.get('target') || null,
    q: p.get('q') ?? '',
    states: new Set(list(p.get('state')).filter((s): s is LockState => (LOCK_STATES as readonly string[]).includes(s))),
    libraries: new Set(list(p.get('lib')).filter((l): l is LibraryId => isLibraryId(l))),
    sort: { key, dir },
    lock: p.get('lock') || null,
    view: p.get('view') === 'audit' ? 'audit' : 'locks',
  };
}

const OURS = ['target', 'q', 'state', 'lib', 'sort', 'dir', 'lock', 'view'];

/** The query string for a state (with `?`, or empty), keeping parameters that are not ours. Commas stay readable. */
export function formatUrlState(s: UrlState, existing = ''): string {
  const isDefault = s.sort.key === DEFAULT_SORT.key && s.sort.dir === DEFAULT_SORT.dir;
  const ours: [string, string][] = [
    ['target', s.target ?? ''],
    ['q', s.q],
    // Fixed order, so the same filter always gives the same link.
    ['state', LOCK_STATES.filter((x) => s.states.has(x)).join(',')],
    ['lib', [...s.libraries].sort().join(',')],
    ['sort', isDefault ? '' : s.sort.key],
    ['dir', isDefault ? '' : s.sort.dir],
    ['lock', s.lock ?? ''],
    ['view', s.view === 'locks' ? '' : s.view],
  ];
  const parts = ours.filter(([, v]) => v).map(([k, v]) => `${k}=${encodeURIComponent(v).replace(/%2C/g, ',')}`);
  const rest = new URLSearchParams(existing);
  for (const k of OURS) rest.delete(k);
  const other = rest.toString();
  if (other) parts.push(other);
  return parts.length ? `?${parts.join('&')}` : '';
}
