import type { BytesView } from '../../../shared/locks';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Control characters would let a key rewrite the terminal/log line or hide itself in the UI. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Renders raw Redis bytes as text that is safe to show: literal UTF-8 when possible, `\xNN` escapes otherwise. */
export function bytesView(buf: Buffer): BytesView {
  return { text: bytesText(buf), base64: buf.toString('base64'), binary: !isPlainText(buf) };
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
  let out = '';
  for (const byte of buf) {
    if (byte === 0x5c) out += '\\\\';
    else if (byte >= 0x20 && byte < 0x7f) out += String.fromCharCode(byte);
    else out += `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}
