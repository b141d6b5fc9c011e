import type { Virtualizer } from '@tanstack/react-virtual';
import { useEffect, type RefObject } from 'react';
import { lockModel } from '../../store/lock-store';
import { useViewStore } from '../../store/view-store';
import { filterInput } from '../Toolbar';
import { ROW_HEIGHT } from './layout';

/** Keys a focused select or radio group uses to move its choice. */
const CHOICE_KEYS = new Set(['ArrowUp', 'ArrowDown', 'ArrowLeft', 'ArrowRight', 'Home', 'End', 'PageUp', 'PageDown']);
/** The filter box is single-line: these keys are free to drive the table from it. */
const FILTER_FREE_KEYS = new Set(['ArrowUp', 'ArrowDown', 'Enter', 'PageUp', 'PageDown']);

/**
 * The element that last got focus from a mouse or touch press (null once focus moved by keyboard). A select or
 * radio picked with the mouse keeps focus, but the operator's next ↑/↓ is meant for the table, not for changing
 * the theme or library behind their back. (`:focus-visible` cannot tell: it turns on at the first key press.)
 */
let pointerFocused: Element | null = null;
let pointerPressed = false;
/** Focus moves made by anything but `focusSelectedRow` (a Tab, a click, a script): a pending row focus yields to them. */
let focusMoves = 0;
let focusingRow = false;
const onPointerDown = () => (pointerPressed = true);
const onKeyDownCapture = () => (pointerPressed = false);
const onFocusIn = (e: FocusEvent) => {
  if (!focusingRow) focusMoves++;
  pointerFocused = pointerPressed ? (e.target as Element) : null;
};

/**
 * Controls that use this key themselves: the page-wide shortcuts stay out of their way. Text fields keep every
 * key; a select or radio group keeps Enter/Space, and its arrows unless it was last picked with the mouse.
 */
function ownsKeys(el: Element | null, key: string): boolean {
  // Esc always closes the details (menus that use it stop it from reaching the page).
  if (key === 'Escape' || !(el instanceof HTMLElement)) return false;
  if (el === filterInput.current) return !FILTER_FREE_KEYS.has(key);
  if (el.isContentEditable || el instanceof HTMLTextAreaElement) return true;
  if (el instanceof HTMLSelectElement || (el instanceof HTMLInputElement && el.type === 'radio')) {
    return CHOICE_KEYS.has(key) ? el !== pointerFocused : key === 'Enter' || key === ' ';
  }
  // A checkbox uses Space only; Enter on it must not open the details of some other row.
  if (el instanceof HTMLInputElement && el.type === 'checkbox') return key === 'Enter' || key === ' ';
  return el instanceof HTMLInputElement;
}

/**
 * Focus the selected row's key button once it has rendered (it may be scrolled in from far away) — unless focus
 * moved meanwhile: a Tab or a click between the key press and the frame that shows the row is the operator's
 * latest word, and taking focus back a frame later would send their next keys to the wrong place.
 */
function focusSelectedRow(table: RefObject<HTMLTableElement | null>, tries = 5, moves = focusMoves): void {
  requestAnimationFrame(() => {
    if (focusMoves !== moves) return;
    const button = table.current?.querySelector<HTMLElement>('tr[aria-current="true"] td button');
    if (!button) {
      if (tries > 1) focusSelectedRow(table, tries - 1, moves);
      return;
    }
    focusingRow = true;
    button.focus({ preventScroll: true });
    focusingRow = false;
  });
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
      // Focus follows the selection, so Enter then opens this row wherever the arrows were pressed (a state chip,
      // the theme switch…). Only the filter box keeps it: typing, ↓, more typing.
      if (document.activeElement !== filterInput.current) focusSelectedRow(table);
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
          if (view.detailOpen) {
            // Focus inside the panel would fall to <body> with it: hand it to the row the panel was showing.
            const inPanel = Boolean(target?.closest('[data-testid="detail-panel"]'));
            view.closeDetail();
            if (inPanel) focusSelectedRow(table);
          } else if (target !== filterInput.current && view.selected !== null) view.select(null);
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
    window.addEventListener('keydown', onKeyDownCapture, true);
    window.addEventListener('pointerdown', onPointerDown, true);
    window.addEventListener('focusin', onFocusIn);
    return () => {
      window.removeEventListener('keydown', onKey);
      window.removeEventListener('keydown', onKeyDownCapture, true);
      window.removeEventListener('pointerdown', onPointerDown, true);
      window.removeEventListener('focusin', onFocusIn);
    };
  }, [virtualizer, table]);
}
