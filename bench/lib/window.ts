/**
 * A sustained-throughput window with a bounded backlog: the bench polls what was applied
 * every 100 ms and grants the generator credit up to `applied + bound`, so the generator can
 * never run ahead by more than `bound` and the backlog cannot grow. After a warm-up, the rate
 * is what was applied during the window; the backlog (sent − applied) is reported at its start
 * and end.
 */

import type { HeartbeatsApi } from "../procs/heartbeats.js";
import type { Child } from "./ipc.js";
import { note } from "./log.js";
import { round, sleep } from "./stats.js";

export interface WindowResult {
  /** Heartbeats applied per second during the window. */
  readonly rate: number;
  readonly applied: number;
  readonly seconds: number;
  readonly backlogStart: number;
  readonly backlogEnd: number;
  /** The credit bound (largest backlog the generator may create). */
  readonly bound: number;
  /**
   * Times the applied count went down during the window (a presence-actor partition restarted
   * and counts from its snapshot again): the rate is then not exact.
   */
  readonly counterResets: number;
}

export interface WindowOptions {
  readonly label: string;
  readonly gen: Child<HeartbeatsApi>;
  /** Heartbeats applied so far (counted from the generator's start). */
  readonly applied: () => Promise<number>;
  readonly warmupMs: number;
  readonly windowMs: number;
  readonly bound: number;
  /** Heartbeats/s cap (0 or undefined: as fast as it goes). */
  readonly rate?: number;
  /** Work to run during the window (after the warm-up), e.g. queries; awaited before the end. */
  readonly during?: () => Promise<void>;
}

interface Sample {
  readonly t: number;
  readonly applied: number;
  readonly sent: number;
}

export async function sustainedWindow(opts: WindowOptions): Promise<WindowResult> {
  await opts.gen.call("start", { rate: opts.rate ?? 0 });
  const t0 = performance.now();
  let start: Sample | undefined;
  let last: Sample | undefined;
  let lastNote = t0;
  let during: Promise<void> | undefined;
  let counterResets = 0;
  for (;;) {
    const applied = await opts.applied();
    if (start !== undefined && last !== undefined && applied < last.applied) counterResets++;
    const { sent } = await opts.gen.call("credit", { limit: applied + opts.bound });
    const t = performance.now();
    last = { t, applied, sent };
    if (start === undefined && t - t0 >= opts.warmupMs) {
      start = last;
      during = opts.during?.();
    }
    if (start !== undefined && t - start.t >= opts.windowMs) break;
    if (t - lastNote >= 10_000) {
      lastNote = t;
      note(
        `${opts.label}: ${applied.toLocaleString("en")} applied, backlog ${(sent - applied).toLocaleString("en")}`,
      );
    }
    await sleep(100);
  }
  await during;
  await opts.gen.call("stop");
  const s = start as Sample;
  const seconds = (last.t - s.t) / 1000;
  const applied = last.applied - s.applied;
  return {
    rate: round(applied / seconds, 0),
    applied,
    seconds: round(seconds, 2),
    backlogStart: s.sent - s.applied,
    backlogEnd: last.sent - last.applied,
    bound: opts.bound,
    counterResets,
  };
}

/** Waits until what was sent has been applied (the next window starts without a backlog). */
export async function drain(
  applied: () => Promise<number>,
  sent: number,
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await applied()) < sent) {
    if (Date.now() > deadline) throw new Error(`backlog not drained within ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}
