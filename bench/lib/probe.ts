/**
 * An event-loop probe of a worker from outside: a cheap NATS request (a service PING, a stats
 * request) every few milliseconds, one at a time, each timed. A request that takes long means
 * the worker's event loop was busy (or blocked) that long: the probe finds the stalls of a
 * window and when they happened, to compare with the latency samples taken at the same time.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { nowMs, round } from "./stats.js";

/** A probe request that took at least the stall threshold. */
export interface Stall {
  /** Wall-clock ms when the request was sent. */
  readonly at: number;
  readonly ms: number;
}

export interface ProbeResult {
  /** Wall-clock ms when the probe started. */
  readonly startedAt: number;
  readonly requests: number;
  /** Requests that took at least `stallMs`, in order. */
  readonly stalls: readonly Stall[];
  readonly stallMs: number;
  /** Time between the starts of consecutive stalls: median (s). */
  readonly medianGapS: number | null;
  readonly longestMs: number | null;
  /** The share of the window spent inside stalls. */
  readonly stalledShare: number;
}

export class LoopProbe {
  readonly #samples: { at: number; ms: number }[] = [];
  #timer: NodeJS.Timeout | undefined;
  #busy = false;
  #started = 0;
  #stopped = 0;

  constructor(
    readonly nc: NatsConnection,
    readonly subject: string,
    readonly body: string,
    readonly everyMs = 20,
  ) {}

  start(): void {
    this.#started = nowMs();
    this.#timer = setInterval(() => {
      if (this.#busy) return;
      this.#busy = true;
      const at = nowMs();
      this.nc
        .request(this.subject, this.body, { timeout: 10_000 })
        .then(
          () => this.#samples.push({ at, ms: nowMs() - at }),
          () => this.#samples.push({ at, ms: 10_000 }),
        )
        .finally(() => {
          this.#busy = false;
        });
    }, this.everyMs);
  }

  stop(stallMs: number): ProbeResult {
    clearInterval(this.#timer);
    this.#stopped = nowMs();
    const stalls = this.#samples
      .filter((s) => s.ms >= stallMs)
      .map((s) => ({ at: s.at, ms: round(s.ms, 1) }));
    const gaps = stalls
      .slice(1)
      .map((s, i) => (s.at - (stalls[i] as Stall).at) / 1000)
      .sort((a, b) => a - b);
    const stalled = stalls.reduce((n, s) => n + s.ms, 0);
    return {
      startedAt: this.#started,
      requests: this.#samples.length,
      stalls,
      stallMs,
      medianGapS: gaps.length > 0 ? round(gaps[Math.floor(gaps.length / 2)] as number, 2) : null,
      longestMs: stalls.length > 0 ? Math.max(...stalls.map((s) => s.ms)) : null,
      stalledShare: round(stalled / Math.max(1, this.#stopped - this.#started), 4),
    };
  }
}

/** The stalls of at least `ms`, as "<seconds into the window> s (<ms> ms)". */
export function longStalls(r: ProbeResult, ms: number): string[] {
  return r.stalls
    .filter((s) => s.ms >= ms)
    .map((s) => `${((s.at - r.startedAt) / 1000).toFixed(1)} s (${Math.round(s.ms)} ms)`);
}

/** Whether [at, at + ms] overlaps one of the stalls. */
export function overlapsStall(stalls: readonly Stall[], at: number, ms: number): boolean {
  for (const s of stalls) if (s.at < at + ms && at < s.at + s.ms) return true;
  return false;
}
