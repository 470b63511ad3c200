/** Leading-edge throttle: the first call goes at once, then at most one per window; the rest drop. */
export class Throttle {
  #last: number | undefined;
  constructor(readonly windowMs: number) {}

  /** True (and the window starts) when a call at `nowMs` may go; false when it must be dropped. */
  take(nowMs: number): boolean {
    if (this.#last !== undefined && nowMs - this.#last < this.windowMs) return false;
    this.#last = nowMs;
    return true;
  }

  /** Starts a window at `nowMs` (a call that went another way, e.g. `client.activity()`). */
  mark(nowMs: number): void {
    this.#last = nowMs;
  }
}
