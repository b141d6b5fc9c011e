import type { Virtualizer } from '@tanstack/react-virtual';
import { useEffect, type RefObject } from 'react';
import { lockModel } from '../../store/lock-store';
import { useViewStore } from '../../store/view-store';
import { filterInput } from '../Toolbar';
import { ROW_HEIGHT } from './layout';

/** Controls that use these keys themselves: the page-wide shortcuts stay out of their way. */
function ownsKeys(el: Element | null, key: string): boolean {
  // Esc always closes the details (menus that use it stop it from reaching the page).
  if (key === 'Escape' || !(el instanceof HTMLElement)) return false;
  if (el.isContentEditable || el instanceof HTMLTextAreaElement || el instanceof HTMLSelectElement) return true;
  if (el instanceof HTMLInputElement) {
    // The filter box is single-line: up/down/Enter/Escape are free to drive the table from it.
    if (el === filterInput.current) return !['ArrowUp', 'ArrowDown', 'Enter', 'PageUp', 'PageDown'].includes(key);
    return true;
  }
  return false;
}

/**
 * Page-wide keys, as in the tools operators already use: `/` focuses the filter, ↑/↓ (and PageUp/PageDown,
 * Home/End) move the selection, Enter opens its details, Esc closes them (and leaves the filter box).
 */
export function useTableKeyboard(virtualizer: Virtualizer<HTMLDivElement, Element>, table: RefObject<HTMLTableElement | null>): void {
  useEffect(() => {
    const moveTo = (index: number) => {
      const rows = lockModel.rows;
      if (!rows.length) return;
      const i = Math.max(0, Math.min(rows.length - 1, index));
      useViewStore.getState().select(rows.at(i)!.id);
      virtualizer.scrollToIndex(i, { align: 'auto' });
      // Keyboard focus inside the table follows the selection (after the row has rendered).
      if (table.current?.contains(document.activeElement)) {
        requestAnimationFrame(() => table.current?.querySelector<HTMLElement>(`tr[aria-selected="true"] button`)?.focus({ preventScroll: true }));
      }
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
      // A modal (e.g. an admin action's confirmation) owns the keyboard: Esc closes it, not the details behind it.
      if (document.querySelector('dialog[open], [role="dialog"][aria-modal="true"]')) return;
      const target = document.activeElement;
      if (ownsKeys(target, e.key)) return;
      const view = useViewStore.getState();
      const current = view.selected === null ? -1 : lockModel.indexOf(view.selected);
      const page = Math.max(1, Math.floor((virtualizer.scrollRect?.height ?? 400) / ROW_HEIGHT) - 2);
      switch (e.key) {
        case '/':
          e.preventDefault();
          filterInput.current?.focus();
          filterInput.current?.select();
          return;
        case 'Escape':
          if (target === filterInput.current) filterInput.current?.blur();
          if (view.detailOpen) view.closeDetail();
          else if (target !== filterInput.current && view.selected !== null) view.select(null);
          return;
        case 'ArrowDown':
          e.preventDefault();
          return moveTo(current < 0 ? 0 : current + 1);
        case 'ArrowUp':
          e.preventDefault();
          return moveTo(current < 0 ? 0 : current - 1);
        case 'PageDown':
          e.preventDefault();
          return moveTo(current < 0 ? 0 : current + page);
        case 'PageUp':
          e.preventDefault();
          return moveTo(current - page);
        case 'Home':
          e.preventDefault();
          return moveTo(0);
        case 'End':
          e.preventDefault();
          return moveTo(lockModel.rows.length - 1);
        case 'Enter':
          // Buttons and links handle their own Enter; the selected row's key button opens it by click.
          if (target instanceof HTMLButtonElement || target instanceof HTMLAnchorElement) return;
          if (view.selected !== null) {
            e.preventDefault();
            view.openDetail();
          } else if (lockModel.rows.length) {
            e.preventDefault();
            view.select(lockModel.rows.at(0)!.id, true);
            virtualizer.scrollToIndex(0);
          }
          return;
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [virtualizer, table]);
}
