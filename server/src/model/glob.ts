/**
 * Redis glob patterns (`SCAN MATCH`, `PSUBSCRIBE`, `KEYS`) matched here exactly as Redis matches them: a port of
 * `stringmatchlen` (src/util.c), byte for byte and case-sensitive, so that lockscope filtering keys itself (one
 * SCAN pass for several patterns, the admin's "is this a lock key?") agrees with Redis on every key, binary ones
 * and odd patterns (`[^…]`, ranges written backwards, an unclosed `[`, `\` escapes) included.
 */

/** Redis gives up on patterns that nest deeper than this (one level per `*`), answering "no match". */
const MAX_NESTING = 1000;

/** A byte as C's (signed) `char`: Redis compares ranges on signed values. */
const signed = (b: number): number => (b > 127 ? b - 256 : b);

/** Whether `key` matches the Redis glob `pattern` (both raw bytes). */
export function globMatch(pattern: Buffer, key: Buffer): boolean {
  // SCAN and KEYS take a lone `*` as "no pattern": it matches even the empty key, which the matcher would not.
  if (isMatchAll(pattern)) return true;
  const state = { skipLonger: false };
  return match(pattern, 0, key, 0, state, 0);
}

function match(p: Buffer, pi: number, s: Buffer, si: number, state: { skipLonger: boolean }, nesting: number): boolean {
  if (nesting > MAX_NESTING) return false;
  // Bytes past the end read as NUL, as C reads a NUL-terminated pattern.
  const at = (i: number): number => (i < p.length ? p[i]! : 0);
  let pLen = p.length - pi;
  let sLen = s.length - si;
  while (pLen > 0 && sLen > 0) {
    switch (p[pi]) {
      case 0x2a: // '*'
        while (pLen > 0 && at(pi + 1) === 0x2a) {
          pi++;
          pLen--;
        }
        if (pLen === 1) return true;
        while (sLen > 0) {
          if (match(p, pi + 1, s, si, state, nesting + 1)) return true;
          if (state.skipLonger) return false;
          si++;
          sLen--;
        }
        // Nothing after this `*` matches anywhere in the rest: a longer match for an earlier `*` cannot help either.
        state.skipLonger = true;
        return false;
      case 0x3f: // '?'
        si++;
        sLen--;
        break;
      case 0x5b: {
        // '['
        pi++;
        pLen--;
        const not = at(pi) === 0x5e; // '^'
        if (not) {
          pi++;
          pLen--;
        }
        let matched = false;
        for (;;) {
          if (at(pi) === 0x5c && pLen >= 2) {
            pi++;
            pLen--;
            if (at(pi) === s[si]) matched = true;
          } else if (at(pi) === 0x5d) {
            break;
          } else if (pLen === 0) {
            pi--;
            pLen++;
            break;
          } else if (pLen >= 3 && at(pi + 1) === 0x2d) {
            let start = signed(at(pi));
            let end = signed(at(pi + 2));
            const c = signed(s[si]!);
            if (start > end) [start, end] = [end, start];
            pi += 2;
            pLen -= 2;
            if (c >= start && c <= end) matched = true;
          } else if (at(pi) === s[si]) {
            matched = true;
          }
          pi++;
          pLen--;
        }
        if (not) matched = !matched;
        if (!matched) return false;
        si++;
        sLen--;
        break;
      }
      default:
        // `\` takes the next byte literally.
        if (p[pi] === 0x5c && pLen >= 2) {
          pi++;
          pLen--;
        }
        if (at(pi) !== s[si]) return false;
        si++;
        sLen--;
        break;
    }
    pi++;
    pLen--;
    if (sLen === 0) {
      while (at(pi) === 0x2a) {
        pi++;
        pLen--;
      }
      break;
    }
  }
  return pLen === 0 && sLen === 0;
}

/**
 * A pattern given as text (LOCK_PATTERNS, a declared format): Redis receives its UTF-8 bytes. Compiled to a regular
 * expression over the key's bytes as latin1 text (several times faster than the matcher; discovery filters every
 * key a SCAN page returns) when the pattern has nothing whose meaning a regular expression could get subtly
 * different (an unclosed `[`, an empty class, a range over bytes ≥ 0x80 that Redis compares as signed); the
 * matcher otherwise.
 */
export function compileGlob(pattern: string): (key: Buffer) => boolean {
  const bytes = Buffer.from(pattern, 'utf8');
  if (isMatchAll(bytes)) return () => true;
  const re = globRegExp(bytes);
  // The empty key is the matcher's (`**` does not match it in Redis; `.*.*` would).
  return re ? (key) => (key.length ? re.test(key.toString('latin1')) : globMatch(bytes, key)) : (key) => globMatch(bytes, key);
}

const reChar = (b: number): string => `\\x${b.toString(16).padStart(2, '0')}`;

/** The glob as an anchored RegExp over latin1 text, or null when only the matcher is sure to agree with Redis. */
export function globRegExp(pattern: Buffer): RegExp | null {
  let src = '^';
  for (let i = 0; i < pattern.length; i++) {
    const b = pattern[i]!;
    if (b === 0x2a) src += '[\\s\\S]*';
    else if (b === 0x3f) src += '[\\s\\S]';
    else if (b === 0x5c) {
      // A trailing `\` is a literal backslash.
      src += reChar(i + 1 < pattern.length ? pattern[++i]! : b);
    } else if (b === 0x5b) {
      const close = classEnd(pattern, i);
      if (close < 0) return null;
      let j = i + 1;
      const not = pattern[j] === 0x5e;
      if (not) j++;
      if (j === close) return null; // `[]`, `[^]`: Redis's reading is peculiar
      let cls = '';
      while (j < close) {
        const c = pattern[j]!;
        if (c === 0x5c && j + 1 < close) {
          cls += reChar(pattern[j + 1]!);
          j += 2;
        } else if (pattern[j + 1] === 0x2d && (j + 2 >= close || pattern[j + 2] === 0x5c)) {
          // `[a-]`, `[a-\\…`: Redis reads a range up to the `]` or the backslash itself.
          return null;
        } else if (pattern[j + 1] === 0x2d) {
          const [lo, hi] = [c, pattern[j + 2]!];
          if (lo > 0x7f || hi > 0x7f) return null;
          cls += `${reChar(Math.min(lo, hi))}-${reChar(Math.max(lo, hi))}`;
          j += 3;
        } else {
          cls += reChar(c);
          j++;
        }
      }
      src += `[${not ? '^' : ''}${cls}]`;
      i = close;
    } else src += reChar(b);
  }
  return new RegExp(`${src}$`);
}

/** Where a class opened at `open` closes, reading `\` escapes as Redis does; -1 when it never does. */
function classEnd(pattern: Buffer, open: number): number {
  let j = open + 1;
  if (pattern[j] === 0x5e) j++;
  for (; j < pattern.length; j++) {
    if (pattern[j] === 0x5c && j + 1 < pattern.length) j++;
    else if (pattern[j] === 0x5d) return j;
  }
  return -1;
}

/** Whether a key matches any of the patterns, as Redis would match them (the admin's "is this a lock key?"). */
export function matchesAny(patterns: readonly string[]): (key: Buffer) => boolean {
  const tests = patterns.map(compileGlob);
  return (key) => tests.some((t) => t(key));
}

/** A lone `*`: every key (SCAN and KEYS skip matching altogether). */
export function isMatchAll(pattern: Buffer): boolean {
  return pattern.length === 1 && pattern[0] === 0x2a;
}

/**
 * One position of a glob as a set of bytes it accepts, or null when it accepts any byte (`?`, a negated class, or
 * a `*`, which also breaks a run). Used to find the literal runs every matching key must contain.
 */
export type GlobToken = { kind: 'star' } | { kind: 'any' } | { kind: 'set'; bytes: Set<number> };

/** The glob's positions, as Redis reads them (the same escapes and class rules as `globMatch`). */
export function globTokens(pattern: Buffer): GlobToken[] {
  const out: GlobToken[] = [];
  const at = (i: number): number => (i < pattern.length ? pattern[i]! : 0);
  for (let i = 0; i < pattern.length; i++) {
    const b = pattern[i]!;
    if (b === 0x2a) {
      if (out[out.length - 1]?.kind !== 'star') out.push({ kind: 'star' });
    } else if (b === 0x3f) {
      out.push({ kind: 'any' });
    } else if (b === 0x5c) {
      if (i + 1 < pattern.length) i++;
      out.push({ kind: 'set', bytes: new Set([pattern[i]!]) });
    } else if (b === 0x5b) {
      i++;
      const not = at(i) === 0x5e;
      if (not) i++;
      const bytes = new Set<number>();
      for (;;) {
        const left = pattern.length - i;
        if (at(i) === 0x5c && left >= 2) {
          i++;
          bytes.add(at(i));
        } else if (at(i) === 0x5d) {
          break;
        } else if (left <= 0) {
          i--;
          break;
        } else if (left >= 3 && at(i + 1) === 0x2d) {
          let start = signed(at(i));
          let end = signed(at(i + 2));
          if (start > end) [start, end] = [end, start];
          for (let c = start; c <= end; c++) bytes.add(c < 0 ? c + 256 : c);
          i += 2;
        } else {
          bytes.add(at(i));
        }
        i++;
      }
      out.push(not ? { kind: 'any' } : { kind: 'set', bytes });
    } else {
      out.push({ kind: 'set', bytes: new Set([b]) });
    }
  }
  return out;
}
