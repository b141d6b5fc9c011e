import type { Percentiles } from '../../../shared/simulator';

/** A uniform random sample of at most `capacity` values (Vitter's algorithm R): bounded memory at any rate. */
export class Reservoir {
  private values: number[] = [];
  private seen = 0;

  constructor(private readonly capacity: number) {}

  add(value: number): void {
    this.seen++;
    if (this.values.length < this.capacity) this.values.push(value);
    else {
      const slot = Math.floor(Math.random() * this.seen);
      if (slot < this.capacity) this.values[slot] = value;
    }
  }

  get count(): number {
    return this.seen;
  }

  percentiles(): Percentiles {
    return percentiles(this.values);
  }

  /** Returns the percentiles and starts over. */
  drain(): Percentiles {
    const p = this.percentiles();
    this.values = [];
    this.seen = 0;
    return p;
  }
}

/** Nearest-rank percentiles, rounded to 0.1 ms. */
export function percentiles(values: readonly number[]): Percentiles {
  if (!values.length) return { p50: null, p95: null, p99: null, max: null };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => round1(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!);
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: round1(sorted[sorted.length - 1]!) };
}

/** Jain's fairness index (Σx)² / (n·Σx²): 1 when every worker got the same share. Null when nobody got any. */
export function jainFairness(counts: readonly number[]): number | null {
  let sum = 0;
  let squares = 0;
  for (const c of counts) {
    sum += c;
    squares += c * c;
  }
  if (!counts.length || squares === 0) return null;
  return Math.round(((sum * sum) / (counts.length * squares)) * 1000) / 1000;
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}
