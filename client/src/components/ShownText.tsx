import type { ReactNode } from 'react';
import type { BytesView } from '../../../shared/locks';
import { ESCAPE_TOKEN, hiddenCharName } from '../../../shared/visible-text';

/** `\xNN` byte escapes of a binary rendering, and its escaped backslashes (stepped over). */
const BYTE_TOKEN = /\\\\|\\x([0-9a-f]{2})/g;
const MARKED = 'rounded-sm bg-amber-200 px-px text-amber-950 dark:bg-amber-800 dark:text-amber-50';

/**
 * Text from Redis or a caller, as the server rendered it (`BytesView.text`, owner fields, reasons), with each
 * escape — `\u{XXXX}` for a character that would not show as itself, `\xNN` for a byte that is not text — marked,
 * so that it cannot pass for the characters it is spelled with. `binary`: the text is a `\xNN` rendering.
 */
export function ShownText({ text, binary = false }: { text: string; binary?: boolean }) {
  if (!text.includes('\\')) return <>{text}</>;
  const token = new RegExp(binary ? BYTE_TOKEN : ESCAPE_TOKEN);
  const out: ReactNode[] = [];
  let from = 0;
  for (let m = token.exec(text); m; m = token.exec(text)) {
    if (m[0] === '\\\\') continue; // a backslash, shown as \\: not an escape
    if (m.index > from) out.push(text.slice(from, m.index));
    const title = binary ? `byte 0x${m[1]!.toUpperCase()} (not text)` : `${hiddenCharName(m[1]!)}: a character that does not show as itself`;
    out.push(
      <span key={m.index} className={MARKED} title={title}>
        {m[0]}
      </span>,
    );
    from = m.index + m[0].length;
  }
  if (from < text.length) out.push(text.slice(from));
  return <>{out}</>;
}

/** A key or owner as shown: its text with escapes marked. */
export function ShownBytes({ view }: { view: BytesView }) {
  return view.escaped ? <ShownText text={view.text} binary={view.binary} /> : <>{view.text}</>;
}

/**
 * A small label before a key or owner shown escaped: `binary` (not text: `\xNN` bytes) or `escaped` (text with
 * characters that would not show as themselves). Hidden from screen readers, which read the escapes themselves.
 */
export function EscapeMark({ view }: { view: BytesView }) {
  if (!view.escaped) return null;
  return (
    <span
      aria-hidden
      className={`mr-1 shrink-0 rounded border px-1 font-sans text-[10px] ${
        view.binary
          ? 'border-slate-300 text-slate-500 dark:border-slate-600 dark:text-slate-400'
          : 'border-amber-400 text-amber-800 dark:border-amber-600 dark:text-amber-300'
      }`}
      title={
        view.binary
          ? 'Not valid UTF-8: shown with \\xNN escapes (\\\\ is a backslash)'
          : 'Contains characters that do not show as themselves (bidi controls, zero-width or other invisible characters): each is shown as \\u{XXXX}, and a backslash as \\\\. Copy copies the exact text.'
      }
    >
      {view.binary ? 'binary' : 'escaped'}
    </span>
  );
}
