import { useSyncExternalStore } from 'react';

/**
 * Light/dark theme: follows the system unless the user picked one (kept in localStorage). Applied as the `dark`
 * class on <html> (Tailwind's `dark:` variant) and as `color-scheme` (form controls, scrollbars).
 */
export type ThemePreference = 'light' | 'dark' | 'system';
export type Theme = 'light' | 'dark';

export const THEME_STORAGE_KEY = 'lockscope.theme';

const listeners = new Set<() => void>();
let preference: ThemePreference = 'system';
let resolved: Theme = 'light';
let snapshot: { preference: ThemePreference; theme: Theme } = { preference, theme: resolved };
let media: MediaQueryList | null = null;

function readPreference(): ThemePreference {
  try {
    const v = localStorage.getItem(THEME_STORAGE_KEY);
    return v === 'light' || v === 'dark' ? v : 'system';
  } catch {
    return 'system'; // storage disabled
  }
}

function apply(): void {
  resolved = preference === 'system' ? (media?.matches ? 'dark' : 'light') : preference;
  const html = document.documentElement;
  html.classList.toggle('dark', resolved === 'dark');
  html.style.colorScheme = resolved;
  if (snapshot.preference !== preference || snapshot.theme !== resolved) {
    snapshot = { preference, theme: resolved };
    for (const l of listeners) l();
  }
}

/** Applies the saved (or system) theme before the first render, and follows system changes from then on. */
export function initTheme(): void {
  media = window.matchMedia('(prefers-color-scheme: dark)');
  media.addEventListener('change', apply);
  preference = readPreference();
  apply();
}

export function setThemePreference(next: ThemePreference): void {
  preference = next;
  try {
    if (next === 'system') localStorage.removeItem(THEME_STORAGE_KEY);
    else localStorage.setItem(THEME_STORAGE_KEY, next);
  } catch {
    // storage disabled: the choice lasts for this page
  }
  apply();
}

function subscribe(l: () => void): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

/** The user's preference and the theme in force. */
export function useTheme(): { preference: ThemePreference; theme: Theme } {
  return useSyncExternalStore(subscribe, () => snapshot);
}
