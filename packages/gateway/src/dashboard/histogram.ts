/**
 * Quantiles of a Prometheus histogram over an interval, from two readings of its cumulative
 * buckets (pure). Interpolates within a bucket as Prometheus' `histogram_quantile` does.
 */

/** Cumulative counts by upper bound (`Infinity` for `+Inf`), summed over every label set. */
export type Buckets = ReadonlyMap<number, number>;

/** The counts observed between `before` and `after` (a reset, as after a restart, counts from zero). */
export function bucketsSince(before: Buckets | undefined, after: Buckets): Map<number, number> {
  const delta = new Map<number, number>();
  let reset = false;
  for (const [le, n] of after) {
    const d = n - (before?.get(le) ?? 0);
    if (d < 0) reset = true;
    delta.set(le, d);
  }
  return reset ? new Map(after) : delta;
}

/**
 * The `q` quantile (0..1) of the observations counted in `buckets` (cumulative), or null when
 * there is none. Above the largest finite bound it answers that bound.
 */
export function quantile(q: number, buckets: Buckets): number | null {
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  const total = buckets.get(Number.POSITIVE_INFINITY) ?? buckets.get(bounds[bounds.length - 1] ?? 0) ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const le of bounds) {
    const count = buckets.get(le) ?? 0;
    if (count >= rank) {
      if (le === Number.POSITIVE_INFINITY) return lower;
      const within = count - below;
      return within <= 0 ? le : lower + (le - lower) * ((rank - below) / within);
    }
    lower = le;
    below = count;
  }
  return lower;
}
