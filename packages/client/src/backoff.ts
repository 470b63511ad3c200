/** Reconnect delays: exponential backoff with full jitter (AWS architecture blog, centrifuge-js). */

export interface BackoffOptions {
  /** Base delay: the first retry waits up to this long. */
  readonly minDelayMs: number;
  /** Cap: no retry waits longer. */
  readonly maxDelayMs: number;
}

/**
 * The delay before retry number `attempt` (0 for the first): uniformly random in
 * `[0, min(maxDelayMs, minDelayMs · 2^attempt))`, from `random()` in `[0, 1)`.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number): number {
  const ceiling = Math.min(opts.maxDelayMs, opts.minDelayMs * 2 ** Math.max(0, attempt));
  return Math.floor(random() * ceiling);
}
