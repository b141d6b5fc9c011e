import { setThemePreference, useTheme, type ThemePreference } from '../theme/theme';

const OPTIONS: { value: ThemePreference; label: string; icon: string }[] = [
  { value: 'light', label: 'Light', icon: '☀' },
  { value: 'dark', label: 'Dark', icon: '☾' },
  { value: 'system', label: 'System', icon: '◐' },
];

/** Light / dark / follow the system, as a segmented control (a radio group: arrows move between options). */
export function ThemeSwitch() {
  const { preference } = useTheme();
  return (
    <fieldset className="flex shrink-0 items-center rounded-md border border-slate-300 p-0.5 text-xs dark:border-slate-600">
      <legend className="sr-only">Theme</legend>
      {OPTIONS.map((o) => (
        <label
          key={o.value}
          title={o.value === 'system' ? 'Follow the system setting' : `${o.label} theme`}
          className={`relative flex cursor-pointer items-center gap-1 rounded px-1.5 py-0.5 xl:px-2 has-[:focus-visible]:ring-2 has-[:focus-visible]:ring-sky-500 ${
            preference === o.value
              ? 'bg-slate-800 text-white dark:bg-slate-200 dark:text-slate-900'
              : 'text-slate-600 hover:bg-slate-100 dark:text-slate-300 dark:hover:bg-slate-800'
          }`}
        >
          <input
            type="radio"
            name="theme"
            value={o.value}
            checked={preference === o.value}
            onChange={() => setThemePreference(o.value)}
            className="absolute inset-0 cursor-pointer appearance-none rounded opacity-0"
          />
          <span aria-hidden>{o.icon}</span>
          <span className="sr-only xl:not-sr-only">{o.label}</span>
        </label>
      ))}
    </fieldset>
  );
}
