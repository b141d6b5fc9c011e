import { compileGlob, globTokens, isMatchAll, type GlobToken } from '../../model/glob';

/**
 * One SCAN walk over the keyspace: `SCAN … MATCH glob`, keeping only the keys `keep` accepts (null: all it returns).
 */
export interface ScanPass {
  glob: Buffer;
  keep: ((key: Buffer) => boolean) | null;
}

/**
 * How to find the keys matching any of several globs in as few walks of the keyspace as possible.
 *
 * One SCAN call costs Redis about the same whatever its MATCH pattern (on Redis 7.0 each key of the page is copied
 * before it is matched), so one walk per pattern multiplies discovery time by the number of patterns. Redis has
 * no "match any of these": instead the patterns are folded into one broader glob that every key of each matches —
 * `*[C1][C2][C3][C4]*`, where `C1…C4` are the bytes of a literal run each pattern requires (`lock`, `mutex:`,
 * `semaphore`...) — and the few keys it returns beyond them are dropped here with the exact patterns, matched
 * as Redis matches them (`globMatch`). Patterns without a literal run of two bytes get a walk of their own; a
 * pattern that matches every key makes one unfiltered walk of everything.
 */
export function planScan(patterns: readonly string[]): ScanPass[] {
  const unique = [...new Set(patterns)];
  const bytes = unique.map((p) => Buffer.from(p, 'utf8'));
  if (bytes.some(isMatchAll)) return [{ glob: Buffer.from('*'), keep: null }];
  if (bytes.length === 1) return [{ glob: bytes[0]!, keep: null }];
  const runs = bytes.map((b) => literalRuns(globTokens(b)));
  const passes: ScanPass[] = [];
  const folded: number[] = [];
  bytes.forEach((b, i) => {
    if (runs[i]!.some((r) => r.length >= 2)) folded.push(i);
    else passes.push({ glob: b, keep: null });
  });
  if (folded.length === 1) passes.push({ glob: bytes[folded[0]!]!, keep: null });
  else if (folded.length > 1) {
    const width = Math.min(MAX_WIDTH, ...folded.map((i) => Math.max(...runs[i]!.map((r) => r.length))));
    const glob = foldedGlob(folded.map((i) => runs[i]!), width);
    const exact = folded.map((i) => compileGlob(unique[i]!));
    passes.push({ glob, keep: (key) => exact.some((matches) => matches(key)) });
  }
  return passes;
}

/**
 * Positions in the folded glob: four keep the cross-products of the patterns' runs (the keys the glob lets through
 * that no pattern matches) rare in real key names; more would not fit short patterns' runs.
 */
const MAX_WIDTH = 4;

/** Maximal runs of positions that each accept a fixed set of bytes (no `*`, `?` or negated class between). */
function literalRuns(tokens: GlobToken[]): Set<number>[][] {
  const runs: Set<number>[][] = [];
  let run: Set<number>[] = [];
  for (const t of tokens) {
    if (t.kind === 'set') run.push(t.bytes);
    else {
      if (run.length) runs.push(run);
      run = [];
    }
  }
  if (run.length) runs.push(run);
  return runs;
}

/**
 * `*[C1]…[Cw]*` over one `width`-long window of each pattern's runs, the windows picked greedily (the patterns with
 * the fewest choices first) to keep both costs low by this rough model of key names: the matching Redis does at
 * each position of every key (each class is compared member by member, and the next one only where it matched:
 * frequent letters early make every key cost more), and the keys that match no pattern but come back anyway.
 */
function foldedGlob(runsPerPattern: Set<number>[][][], width: number): Buffer {
  const windows = runsPerPattern.map((runs) => {
    const out: Set<number>[][] = [];
    for (const run of runs) for (let s = 0; s + width <= run.length; s++) out.push(run.slice(s, s + width));
    return out;
  });
  const order = windows.map((w, i) => i).sort((a, b) => windows[a]!.length - windows[b]!.length);
  const classes: Set<number>[] = Array.from({ length: width }, () => new Set<number>());
  for (const i of order) {
    let best: Set<number>[] | null = null;
    let bestCost = Infinity;
    for (const w of windows[i]!) {
      const cost = globCost(classes.map((c, j) => new Set([...c, ...w[j]!])));
      if (cost < bestCost) {
        bestCost = cost;
        best = w;
      }
    }
    best!.forEach((set, j) => set.forEach((b) => classes[j]!.add(b)));
  }
  const parts: Buffer[] = [Buffer.from('*')];
  for (const c of classes) {
    const members: number[] = [];
    // Inside a class only `\` escapes; escape everything Redis treats specially there.
    for (const b of [...c].sort((x, y) => x - y)) members.push(...(b === 0x5d || b === 0x5c || b === 0x2d || b === 0x5e ? [0x5c, b] : [b]));
    parts.push(Buffer.from([0x5b, ...members, 0x5d]));
  }
  parts.push(Buffer.from('*'));
  return Buffer.concat(parts);
}

/** A key that matches no pattern but comes back costs the network and a filter here: this many class comparisons. */
const FALSE_MATCH_COST = 200;

/** The model's cost per key position of `*[C1]…[Cw]*`: comparisons Redis makes, plus false matches weighted. */
function globCost(classes: Set<number>[]): number {
  let comparisons = 0;
  let reach = 1;
  for (const c of classes) {
    comparisons += reach * c.size;
    reach *= weight(c);
  }
  return comparisons + FALSE_MATCH_COST * reach;
}

/** How often a byte appears in key names, roughly: lower-case English letter frequencies, separators, digits. */
function weight(set: Set<number>): number {
  let w = 0;
  for (const b of set) w += BYTE_WEIGHT[b] ?? 0.004;
  return w;
}

const LETTERS = 'etaoinshrdlcumwfgypbvkjxqz';
const LETTER_FREQ = [12.7, 9.1, 8.2, 7.5, 7.0, 6.7, 6.3, 6.1, 6.0, 4.3, 4.0, 2.8, 2.8, 2.4, 2.4, 2.2, 2.0, 2.0, 1.9, 1.5, 1.0, 0.8, 0.15, 0.15, 0.1, 0.07];
const BYTE_WEIGHT: Record<number, number> = (() => {
  const w: Record<number, number> = {};
  LETTERS.split('').forEach((ch, i) => {
    w[ch.charCodeAt(0)] = (LETTER_FREQ[i]! / 100) * 0.6;
    w[ch.toUpperCase().charCodeAt(0)] = (LETTER_FREQ[i]! / 100) * 0.06;
  });
  for (let d = 0x30; d <= 0x39; d++) w[d] = 0.03;
  w[0x3a] = 0.08; // ':'
  for (const ch of '_-./{}') w[ch.charCodeAt(0)] = 0.02;
  return w;
})();
