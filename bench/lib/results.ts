/** The figures a run produces, as printed in the table and written to latest.json. */

export interface Baseline {
  readonly name: string;
  readonly value: number | null;
  /** The value is a lower bound (some samples never arrived and count at their waiting time). */
  readonly atLeast?: boolean;
}

export interface Figure {
  /** Measurement and figure, e.g. "heartbeats", "heartbeats.single", "latency.event.p99". */
  readonly id: string;
  readonly name: string;
  readonly value: number | null;
  readonly unit: string;
  /** Which way is better (for the chart and the reader). */
  readonly better: "higher" | "lower";
  readonly baselines: readonly Baseline[];
  /** The target, in words, and whether this run met it (null: no target or no value). */
  readonly target?: string;
  /** The target's number in `unit`, drawn on the chart. */
  readonly targetValue?: number;
  readonly pass?: boolean | null;
  /** Anything else worth keeping (counts, backlogs, sub-figures). */
  readonly detail?: Record<string, unknown>;
}

/** Herald's value divided by a baseline's (null when either is missing or zero). */
export function ratio(value: number | null, baseline: number | null): number | null {
  if (value === null || baseline === null || baseline === 0) return null;
  return value / baseline;
}
