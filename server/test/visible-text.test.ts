import { describe, expect, it } from 'vitest';
import type { LockView } from '../../shared/locks';
import { escapeHiddenChars, hiddenCharName, isEscapedText, visibleText } from '../../shared/visible-text';
import { bytesView } from '../src/model/bytes';
import { LockTracker } from '../src/model/lock-tracker';
import { stringResult } from './support/probe-results';

const cp = (n: number) => String.fromCodePoint(n);
const esc = (n: number) => `\\u{${n.toString(16).toUpperCase()}}`;

describe('what you read is what the key is: hidden characters shown escaped', () => {
  it('the confusable keys and owner of issue 10 read as what they are, and differently', () => {
    const zwsp = visibleText('lock:orders:4\u200b2');
    const rlo = visibleText('lock:orders:\u202e24');
    expect(zwsp).toBe('lock:orders:4\\u{200B}2');
    expect(rlo).toBe('lock:orders:\\u{202E}24');
    expect(new Set([zwsp, rlo, visibleText('lock:orders:42')]).size).toBe(3);
    expect(visibleText('owner-\u202etxt.exe')).toBe('owner-\\u{202E}txt.exe');
  });

  it('escapes every class it names: format, default-ignorable, separators, non-ASCII spaces, controls, blanks', () => {
    const hidden = [
      // Cc: C0, DEL, C1 (NEL)
      0x00, 0x1b, 0x7f, 0x85,
      // Cf: soft hyphen, Arabic letter mark, Mongolian vowel separator, zero-width and bidi marks, embeddings and
      // overrides, word joiner and invisible operators, isolates, deprecated format controls, BOM, annotations, tags
      0xad, 0x61c, 0x180e, 0x200b, 0x200c, 0x200d, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2060,
      0x2061, 0x2062, 0x2063, 0x2064, 0x2066, 0x2067, 0x2068, 0x2069, 0x206a, 0x206f, 0xfeff, 0xfff9, 0xfffb, 0xe0001,
      0xe0020, 0xe0041, 0xe007f,
      // Default_Ignorable_Code_Point outside Cf: grapheme joiner, Hangul fillers, Khmer vowels, Mongolian FVS,
      // variation selectors (both blocks), reserved ignorables
      0x34f, 0x115f, 0x1160, 0x3164, 0xffa0, 0x17b4, 0x17b5, 0x180b, 0x180f, 0xfe00, 0xfe0f, 0xe0100, 0xe01ef, 0x2065,
      0xfff0,
      // Zl, Zp; Zs but the space
      0x2028, 0x2029, 0xa0, 0x1680, 0x2000, 0x2007, 0x200a, 0x202f, 0x205f, 0x3000,
      // noncharacters, Braille blank
      0xfffe, 0xffff, 0x1fffe, 0x2800,
    ];
    for (const n of hidden) expect(visibleText(`a${cp(n)}b`), `U+${n.toString(16)}`).toBe(`a${esc(n)}b`);
    // A lone surrogate (possible in a string that did not come from UTF-8, e.g. a reason sent as JSON).
    expect(visibleText('a\ud800b')).toBe('a\\u{D800}b');
  });

  it('leaves what shows as itself alone: spaces, other scripts, accents, emoji, private use', () => {
    for (const text of [
      'lock:orders:42',
      'lock: orders 42 ',
      'verrou:commandes:été',
      'ключ:заказы:42',
      '锁:订单:42',
      'מנעול:42',
      'lock:🔒',
      'cafe\u0301',
      'lock:\ue000',
      'lock:\ufffd',
      'C:\\locks\\orders',
      'lock:\\x41',
    ]) {
      expect(visibleText(text)).toBe(text);
    }
  });

  it('is unambiguous: an escaped text doubles its backslashes, and a literal "\\u{" is escaped too', () => {
    expect(visibleText('a\\b\u200b')).toBe('a\\\\b\\u{200B}');
    expect(visibleText('a\\u{200B}b')).toBe('a\\\\u{200B}b');
    const inputs = ['a\u200bb', 'a\\u{200B}b', 'a\\\\u{200B}b', 'ab', 'a\\u{200b}b', 'a\u200b\\b', 'a\\\u200bb'];
    expect(new Set(inputs.map(visibleText)).size).toBe(inputs.length);
    // And it tells by itself whether it is escaped: only an escaped rendering has a "\u{".
    for (const text of [...inputs, 'C:\\locks', 'lock:\\x41']) expect(isEscapedText(visibleText(text))).toBe(visibleText(text) !== text);
  });

  it('a search escapes what is typed or pasted the same way, keeping typed escapes as they are', () => {
    expect(escapeHiddenChars('orders:4\u200b2')).toBe('orders:4\\u{200B}2');
    expect(escapeHiddenChars('\\u{200B}')).toBe('\\u{200B}');
    expect(visibleText('lock:orders:4\u200b2')).toContain(escapeHiddenChars('orders:4\u200b2'));
  });

  it('names the usual suspects for tooltips', () => {
    expect(hiddenCharName('202E')).toBe('U+202E right-to-left override');
    expect(hiddenCharName('AD')).toBe('U+00AD soft hyphen');
    expect(hiddenCharName('E0041')).toBe('U+E0041');
  });
});

describe('bytes as shown', () => {
  it('text hiding characters is escaped but not binary; the exact bytes stay in base64', () => {
    const raw = Buffer.from('lock:orders:4\u200b2');
    expect(bytesView(raw)).toEqual({ text: 'lock:orders:4\\u{200B}2', base64: raw.toString('base64'), binary: false, escaped: true });
    expect(bytesView(Buffer.from('lock:orders:42'))).toMatchObject({ text: 'lock:orders:42', binary: false, escaped: false });
    expect(bytesView(Buffer.from([0x6c, 0xff, 0x5c, 0x00]))).toMatchObject({ text: 'l\\xff\\\\\\x00', binary: true, escaped: true });
  });

  it('the tracker shows escaped keys and owners, keeps their exact bytes, and tells owners apart by bytes', () => {
    let now = 1_000_000;
    const tracker = new LockTracker({ heldTooLongMs: 300_000, clock: () => now });
    const kinds: string[] = [];
    tracker.on('event', (_id, e) => kinds.push(e.kind));
    const key = Buffer.from('lock:orders:\u202e24');
    const owner = Buffer.from('owner-\u202etxt.exe');
    tracker.apply({ key, observedAt: now, result: stringResult(owner) });
    const lock = JSON.parse(JSON.stringify(tracker.get(key.toString('base64')))) as LockView;
    expect(lock.key).toEqual({ text: 'lock:orders:\\u{202E}24', base64: key.toString('base64'), binary: false, escaped: true });
    expect(lock.owner).toMatchObject({ text: 'owner-\\u{202E}txt.exe', base64: owner.toString('base64'), binary: false, escaped: true });

    // An owner whose literal text is the other one's escaped rendering is another owner.
    now += 100;
    tracker.apply({ key, observedAt: now, result: stringResult('owner-\\u{202E}txt.exe') });
    expect(kinds).toEqual(['acquired', 'owner-changed']);
    const after = tracker.get(key.toString('base64'))!;
    expect(after.owner).toMatchObject({ text: 'owner-\\\\u{202E}txt.exe', escaped: true });
    expect(Buffer.from(after.owner!.base64, 'base64').toString()).toBe('owner-\\u{202E}txt.exe');
    // The same bytes again, with the TTL topped up: a renewal by the same owner.
    now += 100;
    tracker.apply({ key, observedAt: now, result: stringResult('owner-\\u{202E}txt.exe') });
    expect(kinds).toEqual(['acquired', 'owner-changed', 'renewed']);
  });
});
