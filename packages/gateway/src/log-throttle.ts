/**
 * At most one log line per interval for a repeated condition (an overload refuses thousands of
 * published commands a second; one line a second with the count says the same). Time is an
 * argument-free clock, injectable for tests.
 */
import type { Logger } from "@herald/runtime";

export class LogThrottle {
  readonly #intervalMs: number;
  readonly #now: () => number;
  #lastMs = Number.NEGATIVE_INFINITY;
  #suppressed = 0;

  constructor(intervalMs = 1_000, now: () => number = Date.now) {
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  /** Logs at warn unless a line went out less than the interval ago; then counts it. */
  warn(log: Logger, fields: Record<string, unknown>, msg: string): void {
    const now = this.#now();
    if (now - this.#lastMs < this.#intervalMs) {
      this.#suppressed++;
      return;
    }
    this.#lastMs = now;
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    log.warn(suppressed > 0 ? { ...fields, suppressed } : fields, msg);
  }
}
