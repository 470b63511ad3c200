/**
 * presence-actor's tuning, in one place. Operators set what they may need to change through
 * the validated configuration (CONTRACT.md §2 and `HERALD_*`); these are the defaults that
 * suit every deployment measured so far (`pnpm bench`).
 */
export const tuning = {
  /** How often caught-up partitions check for due timers (and append a tick when one is due). */
  tickMs: 50,
  /** Leases are renewed this many times per ttl. */
  renewalsPerTtl: 5,
  /** A clean stop stores what each partition holds and snapshots it: that can take a while. */
  stopTimeoutMs: 60_000,
  /** Command-stream messages a partition's consumer holds ahead of the one being applied. */
  consumerBatch: 256,
  /** Tries at creating a partition's consumer (or reading its snapshot) before giving it back. */
  consumerAttempts: 5,
  /** Outputs held before the consumer loop waits for them to be stored (back-pressure). */
  maxPendingOutputs: 4096,
  /** Publishes in flight at once while storing a group. */
  publishWindow: 1024,
  /** Tries at storing a group, and at moving the checkpoint after it, while the lease holds. */
  appendAttempts: 10,
  checkpointAttempts: 10,
  /** How often the watchdog looks for a silent consumer; two quiet checks restart it. */
  stallCheckMs: 2000,
  /** How long reading a snapshot may take before it is tried again. */
  snapshotReadTimeoutMs: 60_000,
  /** Users or timers copied into a snapshot between two yields to the other partitions. */
  snapshotStep: 5000,
  /**
   * Verdicts are sent for commands stamped at most this long ago: a replay after a takeover
   * answers the gateways still waiting, not every command of the day.
   */
  verdictMaxAgeMs: 30_000,
  /**
   * How far a command's stamp (or a tick) may be ahead of the time the stream stored it: the
   * gateways' and the owner's clocks are kept in sync (NTP). A stamp further ahead is not
   * trusted (it would move the partition's clock, which never goes back): it is dead-lettered.
   */
  maxClockAheadMs: 60_000,
  /**
   * A stamp (or tick) ahead of the time stored by less than `maxClockAheadMs` is applied as if
   * stamped at most this far ahead: clocks in sync are within it, and a stamp from a fast clock
   * (or a forged one) cannot end conns early by more than this.
   */
  clockSkewMs: 1000,
} as const;
