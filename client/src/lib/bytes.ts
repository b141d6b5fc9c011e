import type { BytesView } from '../../../shared/locks';

const utf8 = new TextDecoder('utf-8');

/**
 * The exact text of a key or owner, for copying: its literal characters, hidden ones included, when the bytes are
 * text (`text` may show them escaped); the escaped rendering when they are not (copy `base64` for those bytes).
 */
export function exactText(view: BytesView): string {
  if (view.binary || !view.escaped) return view.text;
  return utf8.decode(Uint8Array.from(atob(view.base64), (c) => c.charCodeAt(0)));
}
