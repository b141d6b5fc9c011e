/**
 * What you read is what the key is. Keys, owners and reasons come from whoever writes to Redis or calls the API,
 * and some characters do not show as themselves: `lock:orders:4\u200b2` (a zero-width space) and
 * `lock:orders:\u202e24` (a right-to-left override) both read `lock:orders:42`. Such characters are shown as
 * `\u{XXXX}` escapes instead (hex code point, upper case), wherever lockscope shows text from outside.
 *
 * Escaped ("hidden"), by Unicode property, so that characters added to these classes by later Unicode versions
 * are covered the day the JavaScript engine knows them:
 * - `Cc` control characters (C0, DEL, C1) — in keys and owners these already make the bytes "binary" (`\xNN`);
 *   here they cover decoded fields and reasons;
 * - `Cf` format characters: bidi embeddings, overrides, isolates and marks (U+202A–202E, U+2066–2069, U+200E/F,
 *   U+061C), zero-width space/joiners (U+200B–200D), word joiner and invisible operators (U+2060–2064), the BOM
 *   (U+FEFF), soft hyphen (U+00AD), Mongolian vowel separator (U+180E), tag characters (U+E0001, U+E0020–E007F),
 *   interlinear annotations, and the few visible prepended marks of the class (Arabic number signs), on the side
 *   of caution;
 * - `Default_Ignorable_Code_Point`: what renderers draw as nothing — the above plus the combining grapheme joiner
 *   (U+034F), Hangul fillers (U+115F, U+1160, U+3164, U+FFA0), Khmer inherent vowels (U+17B4/5), Mongolian free
 *   variation selectors, and variation selectors (U+FE00–FE0F, U+E0100–E01EF: invisible after most characters,
 *   and a known way to smuggle data behind one visible character; an emoji's U+FE0F shows escaped too);
 * - `Zl`, `Zp`: line and paragraph separators (they break lines and bidi paragraphs);
 * - `Zs` except U+0020: no-break, en/em/thin/hair, ideographic and other spaces, which read as a plain space;
 * - `Cs` (lone surrogates, only possible in strings that did not come from UTF-8) and `Noncharacter_Code_Point`;
 * - U+2800 BRAILLE PATTERN BLANK, a letter that renders as a space.
 * Not escaped: the plain space (it shows as one; trailing spaces are not marked), visible look-alikes from other
 * scripts (Cyrillic `о` for Latin `o`: a matter of fonts and script mixing, not of hidden characters), combining
 * marks (visible on the character they combine with), private-use and unassigned code points (drawn as boxes).
 *
 * The rendering is unambiguous: a text with a hidden character — or with a literal `\u{`, which would read as an
 * escape — is shown with every backslash doubled (`\\`), so `\u{…}` is always an escape and `\\` always a
 * backslash; any other text is shown as it is.
 */
const HIDDEN_CLASS =
  '[\\p{Cc}\\p{Cf}\\p{Cs}\\p{Zl}\\p{Zp}\\p{Default_Ignorable_Code_Point}\\p{Noncharacter_Code_Point}\\u2800]|(?! )\\p{Zs}';
const HIDDEN = new RegExp(HIDDEN_CLASS, 'u');
const HIDDEN_ALL = new RegExp(HIDDEN_CLASS, 'gu');
/** Texts that need the escaped rendering: a hidden character, or a literal `\u{` that would pass for an escape. */
const NEEDS_ESCAPING = new RegExp(`${HIDDEN_CLASS}|\\\\u\\{`, 'u');
const ESCAPED_ALL = new RegExp(`${HIDDEN_CLASS}|\\\\`, 'gu');
/** One escape as `visibleText` writes it, or an escaped backslash (to step over: `\\u{41}` is no escape). */
export const ESCAPE_TOKEN = /\\\\|\\u\{([0-9A-F]{1,6})\}/g;

const escapeOne = (c: string) => (c === '\\' ? '\\\\' : `\\u{${c.codePointAt(0)!.toString(16).toUpperCase()}}`);

/** Whether `text` has a character that does not show as itself (see above). */
export function hasHiddenChars(text: string): boolean {
  return HIDDEN.test(text);
}

/** `text` as it may be shown: unchanged, or with hidden characters as `\u{XXXX}` and backslashes doubled. */
export function visibleText(text: string): string {
  return NEEDS_ESCAPING.test(text) ? text.replace(ESCAPED_ALL, escapeOne) : text;
}

/** Whether `shown`, a text `visibleText` returned, is an escaped rendering: it has a `\u{` (a literal text never does). */
export function isEscapedText(shown: string): boolean {
  return shown.includes('\\u{');
}

/**
 * Hidden characters as `\u{XXXX}`, backslashes left alone: for text typed or pasted into a search, so that a key
 * copied exactly (with its hidden characters) finds the escaped text that is shown, and so does typing `\u{200B}`.
 */
export function escapeHiddenChars(text: string): string {
  return text.replace(HIDDEN_ALL, escapeOne);
}

/** Names of the hidden characters met most (bidi and zero-width), for tooltips; others are named by code point. */
const NAMES: Record<number, string> = {
  0x00a0: 'no-break space',
  0x00ad: 'soft hyphen',
  0x034f: 'combining grapheme joiner',
  0x061c: 'Arabic letter mark',
  0x115f: 'Hangul choseong filler',
  0x1160: 'Hangul jungseong filler',
  0x180e: 'Mongolian vowel separator',
  0x200b: 'zero-width space',
  0x200c: 'zero-width non-joiner',
  0x200d: 'zero-width joiner',
  0x200e: 'left-to-right mark',
  0x200f: 'right-to-left mark',
  0x2028: 'line separator',
  0x2029: 'paragraph separator',
  0x202a: 'left-to-right embedding',
  0x202b: 'right-to-left embedding',
  0x202c: 'pop directional formatting',
  0x202d: 'left-to-right override',
  0x202e: 'right-to-left override',
  0x2060: 'word joiner',
  0x2066: 'left-to-right isolate',
  0x2067: 'right-to-left isolate',
  0x2068: 'first strong isolate',
  0x2069: 'pop directional isolate',
  0x2800: 'Braille pattern blank',
  0x3164: 'Hangul filler',
  0xfe0f: 'variation selector-16',
  0xfeff: 'zero-width no-break space (BOM)',
  0xffa0: 'halfwidth Hangul filler',
};

/** `U+202E right-to-left override`, for the escape `\u{202E}`. */
export function hiddenCharName(hex: string): string {
  const name = NAMES[Number.parseInt(hex, 16)];
  return `U+${hex.padStart(4, '0')}${name ? ` ${name}` : ''}`;
}
