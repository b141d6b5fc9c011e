/**
 * A sorted sequence kept as a list of blocks (each at most `2 × BLOCK` items), so that inserting or removing one
 * item moves at most a block's worth of references instead of half of a 100k-element array (a single-array
 * `splice` at 100k costs ~90 µs; here it is a few µs). Index access, which the virtualizer needs for the rows in
 * view, is a binary search over block offsets.
 */
export const BLOCK = 512;

export type Compare<T> = (a: T, b: T) => number;

/** What the table reads: a length and index access. */
export interface RowList<T> {
  readonly length: number;
  at(index: number): T | undefined;
  toArray(): T[];
}

function lowerBound<T>(arr: readonly T[], v: T, cmp: Compare<T>): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmp(arr[mid]!, v) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class SortedList<T> implements RowList<T> {
  /** Number of blocks (for tests and diagnostics). */
  get blockCount(): number {
    return this.blocks.length;
  }

  private blocks: T[][];
  /** Index of each block's first item; null when blocks changed size since it was computed. */
  private starts: number[] | null = null;
  length = 0;

  /** `sorted` must already be in `cmp` order. `block` is the block size (small in tests, to exercise splits). */
  constructor(
    private readonly cmp: Compare<T>,
    sorted: readonly T[] = [],
    private readonly block = BLOCK,
  ) {
    this.blocks = this.chunk(sorted);
    this.length = sorted.length;
  }

  private chunk(sorted: readonly T[]): T[][] {
    const blocks: T[][] = [];
    for (let i = 0; i < sorted.length; i += this.block) blocks.push(sorted.slice(i, i + this.block));
    return blocks.length ? blocks : [[]];
  }

  at(index: number): T | undefined {
    if (index < 0 || index >= this.length) return undefined;
    const starts = this.offsets();
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (starts[mid]! <= index) lo = mid;
      else hi = mid - 1;
    }
    return this.blocks[lo]![index - starts[lo]!];
  }

  toArray(): T[] {
    // `concat` copies whole blocks; `flat()` is ~20× slower at 100k.
    return ([] as T[]).concat(...this.blocks);
  }

  filter(pred: (v: T) => boolean): SortedList<T> {
    const out: T[] = [];
    for (const b of this.blocks) for (const v of b) if (pred(v)) out.push(v);
    return new SortedList(this.cmp, out, this.block);
  }

  insert(v: T): void {
    const lastBlock = this.blocks[this.blocks.length - 1]!;
    const last = lastBlock[lastBlock.length - 1];
    // Appending (rows found in order, e.g. by a filter in slices) takes one comparison.
    const append = last === undefined || this.cmp(last, v) < 0;
    const b = append ? this.blocks.length - 1 : this.blockFor(v);
    const block = this.blocks[b]!;
    if (append) block.push(v);
    else block.splice(lowerBound(block, v, this.cmp), 0, v);
    this.length++;
    this.starts = null;
    if (block.length > 2 * this.block) this.blocks.splice(b, 1, block.slice(0, this.block), block.slice(this.block));
  }

  remove(v: T): boolean {
    return this.removeAt(this.locate(v, true));
  }

  /** Removes `v` if it is here, by binary search only: for an item that may legitimately be missing. */
  discard(v: T): boolean {
    return this.removeAt(this.locate(v, false));
  }

  private removeAt(at: [block: number, index: number] | null): boolean {
    if (!at) return false;
    const [b, i] = at;
    const block = this.blocks[b]!;
    block.splice(i, 1);
    this.length--;
    this.starts = null;
    if (block.length === 0 && this.blocks.length > 1) this.blocks.splice(b, 1);
    else if (block.length < this.block / 4) this.mergeSmall(b);
    return true;
  }

  /** Replaces `prev` with `next`: in place when the order allows (a renewal that does not move), else moves it. */
  replace(prev: T, next: T): void {
    const at = this.locate(prev, true);
    if (!at) return this.insert(next);
    const [b, i] = at;
    const block = this.blocks[b]!;
    const before = i > 0 ? block[i - 1] : this.blocks[b - 1]?.at(-1);
    const after = i < block.length - 1 ? block[i + 1] : this.blocks[b + 1]?.[0];
    if ((before === undefined || this.cmp(before, next) < 0) && (after === undefined || this.cmp(next, after) < 0)) {
      block[i] = next;
      return;
    }
    this.remove(prev);
    this.insert(next);
  }

  /** Position of `v` (by identity), or -1. `exhaustive`: look everywhere if binary search misses it. */
  indexOf(v: T, exhaustive = true): number {
    const at = this.locate(v, exhaustive);
    return at ? this.offsets()[at[0]]! + at[1] : -1;
  }

  /** The block an item belongs in: the first whose last item is not before it (or the last block). */
  private blockFor(v: T): number {
    const { blocks, cmp } = this;
    let lo = 0;
    let hi = blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const last = blocks[mid]!.at(-1);
      if (last !== undefined && cmp(last, v) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private locate(v: T, exhaustive: boolean): [block: number, index: number] | null {
    const b = this.blockFor(v);
    const block = this.blocks[b]!;
    const i = lowerBound(block, v, this.cmp);
    if (block[i] === v) return [b, i];
    if (!exhaustive) return null;
    // Only reachable if the order and the data disagree, which would be a bug: stay correct anyway.
    for (let x = 0; x < this.blocks.length; x++) {
      const j = this.blocks[x]!.indexOf(v);
      if (j >= 0) return [x, j];
    }
    return null;
  }

  private mergeSmall(b: number): void {
    const { blocks } = this;
    const n = b + 1 < blocks.length ? b + 1 : b - 1;
    if (n < 0) return;
    const [first, second] = n > b ? [b, n] : [n, b];
    if (blocks[first]!.length + blocks[second]!.length > 2 * this.block) return;
    blocks.splice(first, 2, blocks[first]!.concat(blocks[second]!));
  }

  private offsets(): number[] {
    if (!this.starts) {
      const starts = new Array<number>(this.blocks.length);
      let n = 0;
      for (let i = 0; i < this.blocks.length; i++) {
        starts[i] = n;
        n += this.blocks[i]!.length;
      }
      this.starts = starts;
    }
    return this.starts;
  }
}
