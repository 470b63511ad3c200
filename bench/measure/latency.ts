/**
 * `latency`: change latency at 5,000 changes/s on a deployment with PRESENCE_GRACE_MS=0 (a
 * disconnect is an offline change at once): command published → live status event received,
 * and → visible to `get_user_status` (1 change in 50 sampled). The work is in
 * procs/changes.ts; the issue names no baseline for it, so the table shows the targets only.
 */
import type { Command } from "@herald/protocol";
import { HeraldStack } from "../lib/herald.js";
import { Child } from "../lib/ipc.js";
import { loadThroughStream } from "../lib/loader.js";
import { note } from "../lib/log.js";
import type { Options } from "../lib/options.js";
import type { Figure } from "../lib/results.js";
import { percentiles, round } from "../lib/stats.js";
import { CONN, LONG_TTL_MS, userId } from "../lib/users.js";
import type { ChangesApi } from "../procs/changes.js";

const PREFIX = "chg-";
/** Users taking turns: each changes every users/rate seconds (2 s at 5,000/s). */
const POOL = 10_000;
const SAMPLE_EVERY = 50;

const r2 = (x: number | null) => (x === null ? null : round(x, 2));

export async function measureLatency(opts: Options): Promise<Figure[]> {
  const label = "latency";
  note(`${label}: starting Herald with PRESENCE_GRACE_MS=0`);
  const stack = await HeraldStack.start({ label, env: { PRESENCE_GRACE_MS: "0" } });
  let child: Child<ChangesApi> | undefined;
  try {
    await loadThroughStream(stack.nc, {
      label: `${label}: load`,
      count: POOL,
      partitions: stack.partitions,
      commands: (i, at): Command[] => [
        { type: "heartbeat", user: userId(PREFIX, i), conn: CONN, ttl_ms: LONG_TTL_MS, at_ms: at },
      ],
      applied: () => stack.users(),
      expected: POOL,
      unit: "users",
      check: () => stack.checkAlive(),
    });
    await stack.waitQueries();
    child = await Child.spawn<ChangesApi>("changes");
    note(`${label}: ${opts.changeRate} changes/s for ${(opts.warmupMs + opts.changeMs) / 1000} s`);
    const r = await child.call("run", {
      url: stack.server.url,
      prefix: PREFIX,
      users: POOL,
      rate: opts.changeRate,
      sampleEvery: SAMPLE_EVERY,
      warmupMs: opts.warmupMs,
      durationMs: opts.changeMs,
      ttlMs: LONG_TTL_MS,
    });
    const ev = percentiles(r.eventMs, r.missedEvents);
    const q = percentiles(r.queryMs, r.missedQueries);
    note(
      `${label}: event p50 ${r2(ev.p50)} p99 ${r2(ev.p99)} ms; query p50 ${r2(q.p50)} p99 ${r2(q.p99)} ms`,
    );
    const detail = {
      rate: r.rate,
      changes: r.measuredSent,
      event: { ...ev, p50: r2(ev.p50), p99: r2(ev.p99), max: r2(ev.max) },
      query: { ...q, p50: r2(q.p50), p99: r2(q.p99), max: r2(q.max) },
      sampleEvery: SAMPLE_EVERY,
      unexpectedEvents: r.unexpected,
      skippedSamples: r.skippedSamples,
    };
    const row = (id: string, name: string, value: number | null, target?: [string, number]): Figure => ({
      id,
      name,
      value: r2(value),
      unit: "ms",
      better: "lower",
      baselines: [],
      ...(target !== undefined
        ? { target: target[0], targetValue: target[1], pass: value !== null && value <= target[1] }
        : {}),
    });
    return [
      { ...row("latency.event.p50", "latency: change → live event, p50", ev.p50), detail },
      row("latency.event.p99", "latency: change → live event, p99", ev.p99, ["≤ 25 ms", 25]),
      row("latency.event.max", "latency: change → live event, max", ev.max),
      row("latency.query.p50", "latency: change → visible to get_user_status, p50", q.p50),
      row("latency.query.p99", "latency: change → visible to get_user_status, p99", q.p99, ["≤ 50 ms", 50]),
      row("latency.query.max", "latency: change → visible to get_user_status, max", q.max),
    ];
  } finally {
    await child?.stop();
    await stack.dispose();
  }
}
