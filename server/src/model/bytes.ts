import type { BytesView } from '../../../shared/locks';
import { visibleText } from '../../../shared/visible-text';

export { isEscapedText, visibleText } from '../../../shared/visible-text';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Control characters would let a key rewrite the terminal/log line or hide itself in the UI. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Renders raw Redis bytes as text that is safe to show: the literal text when it shows as itself, `\u{XXXX}` for
 * characters that would not (`visibleText`), `\xNN` for bytes that are not text.
 */
export function bytesView(buf: Buffer): BytesView {
  return { ...shownBytes(buf), base64: buf.toString('base64') };
}

/** `bytesView` without the base64. */
export function shownBytes(buf: Buffer): Omit<BytesView, 'base64'> {
  const plain = plainText(buf);
  const text = plain === null ? bytesText(buf) : visibleText(plain);
  return { text, binary: plain === null, escaped: text !== plain };
}

/**
 * The bytes as a string when they are plain text (valid UTF-8, no control characters); null otherwise. This is
 * the literal text, for comparing and decoding: show it only through `visibleText` (or use `bytesText`).
 */
export function plainText(buf: Buffer): string | null {
  try {
    const text = utf8.decode(buf);
    return CONTROL.test(text) ? null : text;
  } catch {
    return null;
  }
}

export function isPlainText(buf: Buffer): boolean {
  try {
    return !CONTROL.test(utf8.decode(buf));
  } catch {
    return false;
  }
}

/** The bytes as they may be shown (see `bytesView`). */
export function bytesText(buf: Buffer): string {
  const plain = plainText(buf);
  if (plain !== null) return visibleText(plain);
  // Parts joined once give a flat string; `+=` would keep a rope of one node per byte alive for as long as the
  // text is (it is kept for every tracked lock with a binary owner).
  const parts: string[] = [];
  for (const byte of buf) {
    if (byte === 0x5c) parts.push('\\\\');
    else if (byte >= 0x20 && byte < 0x7f) parts.push(String.fromCharCode(byte));
    else parts.push(`\\x${byte.toString(16).padStart(2, '0')}`);
  }
  return parts.join('');
}
