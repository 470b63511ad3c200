/**
 * Baseline of `offline`: the same number of keys and ttls in Redis, and its keyspace `expired`
 * notifications (`notify-keyspace-events Ex`). Every key gets its deadline with PXAT, so the
 * lag is notification receive time − the key's deadline. Redis expires keys lazily (on access)
 * and by sampling them in the background, and notifies only when it actually deletes a key.
 */
import { Redis } from "ioredis";
import { serve } from "../lib/ipc.js";
import { nowMs, sleep } from "../lib/stats.js";
import { CONN, userId } from "../lib/users.js";

interface Run {
  readonly port: number;
  readonly prefix: string;
  readonly users: number;
  /** Every `shortEvery`-th user gets a short ttl. */
  readonly shortEvery: number;
  /** Deadlines of the short keys are spread evenly over [firstDeadline, firstDeadline + spreadMs]. */
  readonly leadMs: number;
  readonly spreadMs: number;
  readonly longTtlMs: number;
  /** How long after the last deadline to wait for notifications. */
  readonly waitMs: number;
}

const PIPELINE = 1000;
const key = (prefix: string, i: number) => `presence:${userId(prefix, i)}:${CONN}`;

const handlers = {
  async run(p: Run) {
    const redis = new Redis({ port: p.port, host: "127.0.0.1" });
    const sub = new Redis({ port: p.port, host: "127.0.0.1" });
    await redis.config("SET", "notify-keyspace-events", "Ex");
    const deadlines = new Map<string, number>();
    const lags: number[] = [];
    const notified: string[] = [];
    sub.on("message", (_channel: string, k: string) => {
      const t = nowMs();
      const d = deadlines.get(k);
      if (d === undefined) return;
      lags.push(t - d);
      notified.push(k);
    });
    await sub.subscribe("__keyevent@0__:expired");

    // Long-lived keys first, then the short ones with deadlines from now on (as in Herald).
    const t0 = Date.now();
    for (let first = 0; first < p.users; first += PIPELINE) {
      const pl = redis.pipeline();
      for (let i = first; i < Math.min(p.users, first + PIPELINE); i++) {
        if (i % p.shortEvery !== 0) pl.set(key(p.prefix, i), "1", "PX", p.longTtlMs);
      }
      await pl.exec();
    }
    const loadMs = Date.now() - t0;
    const short = Math.ceil(p.users / p.shortEvery);
    const firstDeadline = Date.now() + p.leadMs;
    for (let first = 0; first < short; first += PIPELINE) {
      const pl = redis.pipeline();
      for (let j = first; j < Math.min(short, first + PIPELINE); j++) {
        const k = key(p.prefix, j * p.shortEvery);
        const deadline = Math.round(firstDeadline + (j * p.spreadMs) / short);
        deadlines.set(k, deadline);
        pl.set(k, "1", "PXAT", deadline);
      }
      await pl.exec();
    }
    const giveUp = firstDeadline + p.spreadMs + p.waitMs;
    while (lags.length < short && Date.now() < giveUp) await sleep(100);
    // Keys never notified: their lag is at least the time waited since their deadline.
    sub.removeAllListeners("message");
    const end = nowMs();
    const seen = new Set<string>();
    for (const k of notified) seen.add(k);
    const unnotified: number[] = [];
    for (const [k, d] of deadlines) if (!seen.has(k)) unnotified.push(end - d);
    const keysLeft = await redis.dbsize();
    await redis.flushall();
    redis.disconnect();
    sub.disconnect();
    return { lags, unnotified, short, missed: unnotified.length, loadMs, keysLeft };
  },
};

serve(handlers);
export type RedisExpiryApi = typeof handlers;
