/** Small statistics helpers: percentiles of latency samples and rates. */

/** p50, p99 and max of samples (ms); samples that never arrived count as worse than any. */
export interface Percentiles {
  readonly count: number;
  /** Samples that never arrived (or timed out): they rank above every received one. */
  readonly missed: number;
  /** null when more samples are missing than the percentile leaves out. */
  readonly p50: number | null;
  readonly p99: number | null;
  readonly max: number | null;
}

/** The value at quantile `q` (nearest rank) of sorted `xs` plus `missed` infinite samples. */
function rank(sorted: readonly number[], missed: number, q: number): number | null {
  const n = sorted.length + missed;
  if (n === 0) return null;
  const i = Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1));
  return i < sorted.length ? (sorted[i] as number) : null;
}

export function percentiles(samples: readonly number[], missed = 0): Percentiles {
  const sorted = Float64Array.from(samples).sort();
  const xs = Array.from(sorted);
  return {
    count: xs.length,
    missed,
    p50: rank(xs, missed, 0.5),
    p99: rank(xs, missed, 0.99),
    max: missed > 0 ? null : (xs[xs.length - 1] ?? null),
  };
}

/** Rounds to `digits` decimals (for results people read). */
export function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Wall-clock milliseconds with sub-millisecond resolution. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
