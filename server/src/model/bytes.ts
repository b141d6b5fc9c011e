import type { BytesView } from '../../../shared/locks';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Control characters would let a key rewrite the terminal/log line or hide itself in the UI. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Renders raw Redis bytes as text that is safe to show: literal UTF-8 when possible, `\xNN` escapes otherwise. */
export function bytesView(buf: Buffer): BytesView {
  return { text: bytesText(buf), base64: buf.toString('base64'), binary: !isPlainText(buf) };
}

/** The bytes as a string when they are plain text (valid UTF-8, no control characters); null otherwise. */
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

export function bytesText(buf: Buffer): string {
  if (isPlainText(buf)) return buf.toString('utf8');
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
