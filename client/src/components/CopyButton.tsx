import { useEffect, useState } from 'react';

/** Clipboard API where the page is a secure context (https, localhost); the old way elsewhere (plain http). */
async function copyText(text: string): Promise<void> {
  if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.style.position = 'fixed';
  area.style.opacity = '0';
  document.body.appendChild(area);
  area.select();
  const ok = document.execCommand('copy');
  area.remove();
  if (!ok) throw new Error('copy refused');
}

/** A small copy button with visible feedback ("Copied") that screen readers hear too. */
export function CopyButton({ text, label, what }: { text: string; label: string; what: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  useEffect(() => {
    if (state === 'idle') return;
    const t = setTimeout(() => setState('idle'), 2000);
    return () => clearTimeout(t);
  }, [state]);
  return (
    <span className="inline-flex shrink-0 items-center">
      <button
        type="button"
        aria-label={label}
        title={label}
        onClick={() => copyText(text).then(() => setState('copied'), () => setState('failed'))}
        className={`inline-flex items-center gap-1 rounded border px-1.5 py-0.5 text-xs font-medium ${
          state === 'copied'
            ? 'border-emerald-500 text-emerald-700 dark:text-emerald-400'
            : state === 'failed'
              ? 'border-red-500 text-red-700 dark:text-red-400'
              : 'border-slate-300 text-slate-600 hover:bg-slate-100 dark:border-slate-600 dark:text-slate-300 dark:hover:bg-slate-800'
        }`}
      >
        <svg aria-hidden viewBox="0 0 16 16" className="h-3.5 w-3.5 fill-none stroke-current stroke-[1.5]">
          {state === 'copied' ? (
            <path d="m3 8.5 3 3 7-7" />
          ) : (
            <>
              <rect x="5.5" y="5.5" width="8" height="8" rx="1.5" />
              <path d="M10.5 5.5v-2a1 1 0 0 0-1-1h-6a1 1 0 0 0-1 1v6a1 1 0 0 0 1 1h2" />
            </>
          )}
        </svg>
        {state === 'copied' ? 'Copied' : state === 'failed' ? 'Copy failed' : 'Copy'}
      </button>
      <span role="status" className="sr-only">
        {state === 'copied' ? `${what} copied` : state === 'failed' ? `Could not copy the ${what.toLowerCase()}` : ''}
      </span>
    </span>
  );
}
