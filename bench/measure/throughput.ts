/**
 * `heartbeats`: end-to-end heartbeat throughput and its baselines; `queries`: bulk queries
 * under load; and the scaling runs (item 4).
 *
 * `heartbeats`: N live users (loaded through the command stream first, so every heartbeat of
 * the window is the hot path of a live conn). A generator process publishes
 * `presence.api.heartbeat` bodies, batched (`{heartbeats: [100]}`, the headline) and single;
 * the rate is heartbeats applied by presence-actor (its `commands` counter) over the sustained
 * window, with the backlog bounded by credit (lib/window.ts). Baselines in the same run: the
 * same bodies published to a plain subject through the same nats-server and counted by a
 * subscriber in another process (heartbeats = messages × batch), and the seed Redis design
 * (`SET key 1 EX ttl` per heartbeat, pipelined) for the same users.
 *
 * `queries`: `get_user_status` for 1,000 random loaded users, one request after another,
 * while the batched load runs at half the rate `heartbeats` measured; the same queries on the
 * idle system are the reference.
 */
import { type Command, subjects } from "@herald/protocol";
import type { NatsConnection } from "@nats-io/nats-core";
import { HeraldStack } from "../lib/herald.js";
import { Child } from "../lib/ipc.js";
import { loadThroughStream } from "../lib/loader.js";
import { note } from "../lib/log.js";
import type { Options } from "../lib/options.js";
import type { RedisServer } from "../lib/redis.js";
import type { Figure } from "../lib/results.js";
import { type Percentiles, percentiles, round, sleep } from "../lib/stats.js";
import { CONN, LONG_TTL_MS, userId } from "../lib/users.js";
import { drain, sustainedWindow, type WindowResult } from "../lib/window.js";
import type { HeartbeatsApi } from "../procs/heartbeats.js";
import type { SinkApi } from "../procs/nats-sink.js";
import type { RedisHeartbeatsApi } from "../procs/redis-heartbeats.js";

/** Heartbeats per message of the headline figure. */
export const BATCH = 100;
export const PREFIX = "hb-";
const SINK_SUBJECT = "bench.sink.heartbeat";
/** Redis pipelines: as many SETs per round trip as heartbeats per message, several in flight. */
const REDIS_PIPELINE = 100;
const REDIS_INFLIGHT = 16;

/** Makes `users` live (one heartbeat each, long ttl) through the command stream. */
export async function preload(stack: HeraldStack, users: number, label: string): Promise<void> {
  const result = await loadThroughStream(stack.nc, {
    label,
    count: users,
    partitions: stack.partitions,
    commands: (i, at): Command[] => [
      { type: "heartbeat", user: userId(PREFIX, i), conn: CONN, ttl_ms: LONG_TTL_MS, at_ms: at },
    ],
    applied: () => stack.users(),
    expected: users,
    unit: "users",
    check: () => stack.checkAlive(),
  });
  note(`${label}: ${users.toLocaleString("en")} live users loaded in ${(result.ms / 1000).toFixed(1)} s`);
}

/** Heartbeats applied by Herald since this call (a refused message counts as done, so credit flows). */
async function heraldProgress(stack: HeraldStack, batch: number): Promise<() => Promise<number>> {
  const read = async () => {
    const [applied, plain] = await Promise.all([stack.applied(), stack.gatewayPlainCounters()]);
    return applied + (plain.dropped + plain.failed) * batch;
  };
  const base = await read();
  return async () => (await read()) - base;
}

/** One Herald window of `batch`-sized messages. */
async function heraldWindow(
  stack: HeraldStack,
  gen: Child<HeartbeatsApi>,
  opts: Options,
  batch: number,
  extra: { rate?: number; during?: () => Promise<void>; windowMs?: number; label: string },
): Promise<WindowResult & { refusedMessages: number }> {
  await gen.call("setup", {
    url: stack.server.url,
    subject: subjects.method("heartbeat"),
    prefix: PREFIX,
    users: opts.hbUsers,
    batch,
    ttlMs: LONG_TTL_MS,
  });
  const before = await stack.gatewayPlainCounters();
  const applied = await heraldProgress(stack, batch);
  const result = await sustainedWindow({
    label: extra.label,
    gen,
    applied,
    warmupMs: opts.warmupMs,
    windowMs: extra.windowMs ?? opts.windowMs,
    bound: 50_000,
    ...(extra.rate !== undefined ? { rate: extra.rate } : {}),
    ...(extra.during !== undefined ? { during: extra.during } : {}),
  });
  const { sent } = await gen.call("stop");
  await drain(applied, sent);
  const after = await stack.gatewayPlainCounters();
  const refusedMessages = after.dropped + after.failed - before.dropped - before.failed;
  note(
    `${extra.label}: ${result.rate.toLocaleString("en")} heartbeats/s, refused messages ${refusedMessages}` +
      (result.counterResets > 0
        ? `; applied count went down ${result.counterResets}× (partition restarts)`
        : ""),
  );
  return { ...result, refusedMessages };
}

/** The core NATS pub→sub baseline with the same bodies. */
async function natsWindow(
  stack: HeraldStack,
  gen: Child<HeartbeatsApi>,
  sink: Child<SinkApi>,
  opts: Options,
  batch: number,
): Promise<WindowResult> {
  await gen.call("setup", {
    url: stack.server.url,
    subject: SINK_SUBJECT,
    prefix: PREFIX,
    users: opts.hbUsers,
    batch,
    ttlMs: LONG_TTL_MS,
  });
  const base = (await sink.call("count")).messages;
  const applied = async () => ((await sink.call("count")).messages - base) * batch;
  const result = await sustainedWindow({
    label: `heartbeats: core NATS ×${batch}`,
    gen,
    applied,
    warmupMs: opts.warmupMs,
    windowMs: opts.windowMs,
    bound: 200_000,
  });
  note(`heartbeats: core NATS pub→sub ×${batch}: ${result.rate.toLocaleString("en")} heartbeats/s`);
  return result;
}

/** The Redis baseline: pipelined SET EX for the same users over the same window. */
async function redisWindow(redis: RedisServer, opts: Options): Promise<{ rate: number; seconds: number }> {
  const child = await Child.spawn<RedisHeartbeatsApi>("redis-heartbeats");
  try {
    await child.call("setup", {
      port: redis.port,
      prefix: PREFIX,
      users: opts.hbUsers,
      ttlMs: LONG_TTL_MS,
      pipeline: REDIS_PIPELINE,
      inflight: REDIS_INFLIGHT,
    });
    await child.call("start");
    await sleep(opts.warmupMs);
    const t0 = performance.now();
    const a0 = (await child.call("count")).acked;
    await sleep(opts.windowMs);
    const a1 = (await child.call("count")).acked;
    const seconds = (performance.now() - t0) / 1000;
    await child.call("stop");
    const rate = round((a1 - a0) / seconds, 0);
    note(`heartbeats: Redis SET EX pipelined: ${rate.toLocaleString("en")} heartbeats/s`);
    return { rate, seconds: round(seconds, 2) };
  } finally {
    await child.stop();
  }
}

/** Sequential `get_user_status` requests for 1,000 users each, until `untilMs` or `count` done. */
async function queryLatencies(
  nc: NatsConnection,
  users: number,
  limit: { count?: number; ms?: number },
): Promise<{ samples: number[]; errors: number }> {
  const bodies = Array.from({ length: 64 }, () => {
    const picked = Array.from({ length: 1000 }, () => userId(PREFIX, Math.floor(Math.random() * users)));
    return JSON.stringify({ users: picked });
  });
  const samples: number[] = [];
  let errors = 0;
  const t0 = performance.now();
  const subject = subjects.method("get_user_status");
  for (let k = 0; ; k++) {
    if (limit.count !== undefined && k >= limit.count) break;
    if (limit.ms !== undefined && performance.now() - t0 >= limit.ms) break;
    const started = performance.now();
    try {
      const m = await nc.request(subject, bodies[k % bodies.length] as string, { timeout: 5000 });
      if (m.string().startsWith('{"result"')) samples.push(performance.now() - started);
      else errors++;
    } catch {
      errors++;
    }
  }
  return { samples, errors };
}

const pct = (p: Percentiles) => ({ p50: p.p50, p99: p.p99, max: p.max, count: p.count, missed: p.missed });

/**
 * Runs `heartbeats` with its baselines and, when asked, `queries`; adds their figures to `out`
 * as soon as each is measured (a later failure keeps them) and returns the batched rate of
 * `heartbeats` (measured either way: `queries` runs at half of it).
 */
export async function measureThroughput(
  opts: Options,
  redis: RedisServer,
  which: { heartbeats: boolean; queries: boolean },
  out: Figure[],
): Promise<number> {
  const label = "heartbeats/queries";
  note(`${label}: starting Herald (1 gateway, 1 presence-actor, 1 status-projector)`);
  const stack = await HeraldStack.start({ label });
  let gen: Child<HeartbeatsApi> | undefined;
  let sink: Child<SinkApi> | undefined;
  try {
    await preload(stack, opts.hbUsers, `${label}: load`);
    await stack.waitQueries();
    gen = await Child.spawn<HeartbeatsApi>("heartbeats");
    const batched = await heraldWindow(stack, gen, opts, BATCH, { label: `heartbeats: Herald ×${BATCH}` });
    if (which.heartbeats) {
      const single = await heraldWindow(stack, gen, opts, 1, { label: "heartbeats: Herald ×1" });
      sink = await Child.spawn<SinkApi>("nats-sink");
      await sink.call("setup", { url: stack.server.url, subject: SINK_SUBJECT });
      const natsBatched = await natsWindow(stack, gen, sink, opts, BATCH);
      const natsSingle = await natsWindow(stack, gen, sink, opts, 1);
      const redisResult = await redisWindow(redis, opts);
      const target = batched.rate >= 100_000 && batched.rate >= redisResult.rate;
      out.push(
        {
          id: "heartbeats",
          name: `heartbeats: applied/s, ${BATCH} per message (headline)`,
          value: batched.rate,
          unit: "heartbeats/s",
          better: "higher",
          baselines: [
            { name: `core NATS pub→sub ×${BATCH}`, value: natsBatched.rate },
            { name: "Redis SET EX pipelined", value: redisResult.rate },
          ],
          target: "≥ 100,000/s and ≥ Redis",
          targetValue: 100_000,
          pass: target,
          detail: {
            users: opts.hbUsers,
            herald: batched,
            nats: natsBatched,
            redis: { ...redisResult, pipeline: REDIS_PIPELINE, inflight: REDIS_INFLIGHT },
          },
        },
        {
          id: "heartbeats.single",
          name: "heartbeats: applied/s, 1 per message",
          value: single.rate,
          unit: "heartbeats/s",
          better: "higher",
          baselines: [
            { name: "core NATS pub→sub ×1", value: natsSingle.rate },
            { name: "Redis SET EX pipelined", value: redisResult.rate },
          ],
          detail: { users: opts.hbUsers, herald: single, nats: natsSingle },
        },
      );
    }
    if (which.queries) {
      note("queries: get_user_status ×1000 users, idle");
      const idle = await queryLatencies(stack.nc, opts.hbUsers, { count: opts.quick ? 50 : 200 });
      const rate = Math.max(1000, Math.round(batched.rate / 2));
      note(`queries: get_user_status ×1000 users while heartbeats run at ${rate.toLocaleString("en")}/s`);
      let loaded: { samples: number[]; errors: number } = { samples: [], errors: 0 };
      const underLoad = await heraldWindow(stack, gen, opts, BATCH, {
        label: "queries: load at half rate",
        rate,
        windowMs: Math.max(5000, opts.windowMs / 2),
        during: async () => {
          loaded = await queryLatencies(stack.nc, opts.hbUsers, {
            ms: Math.max(5000, opts.windowMs / 2) - 500,
          });
        },
      });
      const p = percentiles(loaded.samples, loaded.errors);
      const pIdle = percentiles(idle.samples, idle.errors);
      out.push(
        {
          id: "queries.p50",
          name: "queries: get_user_status ×1000 under half load, p50",
          value: p.p50 === null ? null : round(p.p50, 2),
          unit: "ms",
          better: "lower",
          baselines: [
            { name: "same query, idle system", value: pIdle.p50 === null ? null : round(pIdle.p50, 2) },
          ],
          detail: { loaded: pct(p), idle: pct(pIdle), load: { asked: rate, applied: underLoad.rate } },
        },
        {
          id: "queries.p99",
          name: "queries: get_user_status ×1000 under half load, p99",
          value: p.p99 === null ? null : round(p.p99, 2),
          unit: "ms",
          better: "lower",
          baselines: [
            { name: "same query, idle system", value: pIdle.p99 === null ? null : round(pIdle.p99, 2) },
          ],
          target: "≤ 10 ms",
          targetValue: 10,
          pass: p.p99 === null ? false : p.p99 <= 10,
        },
      );
    }
    return batched.rate;
  } finally {
    await gen?.stop();
    await sink?.stop();
    await stack.dispose();
  }
}

/** Item 4: `heartbeats` batched with k presence-actor processes, each k on a fresh deployment. */
export async function measureScaling(opts: Options, oneActorRate: number | undefined): Promise<Figure[]> {
  const rates = new Map<number, number>();
  if (oneActorRate !== undefined) rates.set(1, oneActorRate);
  for (const k of opts.scaling) {
    if (rates.has(k)) continue;
    const label = `scaling ×${k}`;
    note(`${label}: starting Herald with ${k} presence-actor process(es)`);
    const stack = await HeraldStack.start({ label, actors: k });
    const gen = await Child.spawn<HeartbeatsApi>("heartbeats");
    try {
      await preload(stack, opts.hbUsers, `${label}: load`);
      const w = await heraldWindow(stack, gen, opts, BATCH, { label: `${label}: Herald ×${BATCH}` });
      rates.set(k, w.rate);
    } finally {
      await gen.stop();
      await stack.dispose();
    }
  }
  const one = rates.get(1) ?? null;
  return opts.scaling.map((k) => ({
    id: `scaling.${k}`,
    name: `scaling: heartbeats applied/s with ${k} presence-actor${k === 1 ? "" : "s"}`,
    value: rates.get(k) ?? null,
    unit: "heartbeats/s",
    better: "higher" as const,
    baselines: k === 1 ? [] : [{ name: "1 presence-actor", value: one }],
    detail: { users: opts.hbUsers, batch: BATCH },
  }));
}
