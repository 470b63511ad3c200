/**
 * The large population: one presence-actor process tracking `--users` users (a million by
 * default), each with one conn and one channel membership, loaded through the command stream.
 * Only presence-actor runs (no gateway, no projector): `offline`, `memory` and `recovery` need
 * nothing else, and the projections of a million loads would only compete for the two cores.
 *
 * `memory`: heap and RSS of that process after a GC, minus the same before loading, per user.
 *     Baseline: one xstate actor per user for 20,000 users in a separate process.
 * `offline`: offline detection lag: every 10th user heartbeats with a short ttl so the
 *     deadlines fall evenly over the window (the others stay live); lag = offline event
 *     received − its `at_ms` (deadline + grace, and grace is 0). Baseline: the same keys and
 *     ttls in Redis and its keyspace `expired` notifications. Measured again at the end with
 *     the same users spread over 4 presence-actor processes (3 join; the partitions rebalance
 *     onto them).
 * `recovery`: the process stops cleanly (snapshots written) and a new one starts: time until
 *     every partition is caught up. Then one heartbeat per user more, kill -9, and a new one
 *     again: it restores the snapshots and replays everything after them (periodic snapshots
 *     come every 60 s, the default, and the heartbeats take less); replay rate =
 *     commands replayed / replay time: from the first partition started to the last caught up
 *     (the workers' logs), less the same span of the clean restart, which restored as much
 *     and replayed nothing (partitions restore and replay interleaved on one event loop).
 */
import { type Command, objectStores } from "@herald/protocol";
import type { WorkerProcess } from "@herald/testkit";
import { Objm } from "@nats-io/obj";
import { type ActorStats, HeraldStack, sum } from "../lib/herald.js";
import { Child } from "../lib/ipc.js";
import { loadThroughStream } from "../lib/loader.js";
import { note } from "../lib/log.js";
import type { Options } from "../lib/options.js";
import type { RedisServer } from "../lib/redis.js";
import type { Figure } from "../lib/results.js";
import { percentiles, round, sleep } from "../lib/stats.js";
import { CONN, channelOf, LONG_TTL_MS, userId } from "../lib/users.js";
import type { OfflineEventsApi } from "../procs/offline-events.js";
import type { RedisExpiryApi } from "../procs/redis-expiry.js";
import type { XstateActorsApi } from "../procs/xstate-actors.js";

const PREFIX = "pop-";
/** One user in ten times out during `offline`. */
const SHORT_EVERY = 10;
const NAIVE_USERS = 20_000;
/**
 * `offline` is measured again with the same users spread over this many presence-actor
 * processes (joined to the running one: the partitions rebalance onto them): a major GC pause
 * grows with the heap of one process, and the lag's p99 with it.
 */
const SPREAD = 4;

/** Redis keyspace-notification lags of `offline`, measured once and shown next to both runs. */
interface RedisLag {
  readonly base: ReturnType<typeof percentiles>;
  readonly atLeast: boolean;
  readonly detail: Record<string, unknown>;
}
/**
 * Partition leases of this deployment: the default ttl. After the kill -9 of `recovery` the
 * bench waits this long before starting the new process (until the dead one's leases
 * expired); that wait is not counted as recovery.
 */
const LEASE_TTL_MS = 5_000;

export interface PopulationWhich {
  readonly offline: boolean;
  readonly memory: boolean;
  readonly recovery: boolean;
}

const kib = (bytes: number) => round(bytes, 0);
const r2 = (x: number | null) => (x === null ? null : round(x, 2));

export async function measurePopulation(
  opts: Options,
  redis: RedisServer,
  which: PopulationWhich,
  /** Figures are added here as soon as each is measured (a later failure keeps them). */
  out: Figure[],
): Promise<void> {
  const label = "offline/memory/recovery";
  const users = opts.users;
  note(`${label}: starting nats-server and one presence-actor (grace 0, lease ttl ${LEASE_TTL_MS / 1000} s)`);
  const stack = await HeraldStack.start({
    label,
    projector: false,
    gateways: 0,
    env: {
      PRESENCE_GRACE_MS: "0",
      HERALD_LEASE_TTL_MS: String(LEASE_TTL_MS),
    },
  });
  try {
    const [before] = await stack.actorStats({ gc: true });
    note(`${label}: loading ${users.toLocaleString("en")} users (heartbeat + join each)`);
    const load = await loadThroughStream(stack.nc, {
      label: `${label}: load`,
      count: users,
      partitions: stack.partitions,
      commands: (i, at): Command[] => {
        const user = userId(PREFIX, i);
        return [
          { type: "heartbeat", user, conn: CONN, ttl_ms: LONG_TTL_MS, at_ms: at },
          { type: "join", user, conn: CONN, channel: channelOf(i), data: {}, ttl_ms: LONG_TTL_MS, at_ms: at },
        ];
      },
      applied: () => stack.users(),
      expected: users,
      unit: "users",
      check: () => stack.checkAlive(),
    });
    const loadRate = round(users / (load.ms / 1000), 0);
    note(`${label}: loaded in ${(load.ms / 1000).toFixed(1)} s (${loadRate.toLocaleString("en")} users/s)`);

    if (which.memory) out.push(...(await memory(stack, before as ActorStats, loadRate)));
    let baseline: RedisLag | undefined;
    if (which.offline) {
      const one = await offline(stack, redis, opts, 1);
      out.push(...one.figures);
      baseline = one.baseline;
    }
    if (which.recovery) out.push(...(await recovery(stack, users)));
    if (which.offline) {
      await spread(stack, SPREAD, users);
      out.push(...(await offline(stack, redis, opts, SPREAD, baseline)).figures);
    }
  } finally {
    await stack.dispose();
  }
}

async function memory(stack: HeraldStack, before: ActorStats, loadRate: number): Promise<Figure[]> {
  const [after] = await stack.actorStats({ gc: true, timeoutMs: 60_000 });
  if (after === undefined || !after.gc || !before.gc)
    throw new Error("presence-actor did not collect garbage");
  const heap = (after.memory.heapUsed - before.memory.heapUsed) / after.users;
  const rss = (after.memory.rss - before.memory.rss) / after.users;
  note(`memory: ${after.users.toLocaleString("en")} users: ${kib(heap)} B heap, ${kib(rss)} B RSS per user`);
  const naive = await Child.spawn<XstateActorsApi>("xstate-actors", ["--expose-gc"]);
  let base: { heapPerUser: number; rssPerUser: number; online: number };
  try {
    base = await naive.call("run", { users: NAIVE_USERS });
  } finally {
    await naive.stop();
  }
  note(
    `memory: naive xstate actors: ${kib(base.heapPerUser)} B heap, ${kib(base.rssPerUser)} B RSS per user`,
  );
  const detail = {
    users: after.users,
    loadUsersPerSecond: loadRate,
    before: before.memory,
    after: after.memory,
    naive: { users: NAIVE_USERS, online: base.online },
  };
  return [
    {
      id: "memory.heap",
      name: `memory: heap per tracked user (${after.users.toLocaleString("en")} users, 1 conn + 1 channel)`,
      value: kib(heap),
      unit: "bytes",
      better: "lower",
      baselines: [
        { name: `xstate actor per user (${NAIVE_USERS / 1000}k users)`, value: kib(base.heapPerUser) },
      ],
      target: "≤ 1 KiB",
      targetValue: 1024,
      pass: heap <= 1024,
      detail,
    },
    {
      id: "memory.rss",
      name: "memory: RSS per tracked user",
      value: kib(rss),
      unit: "bytes",
      better: "lower",
      baselines: [
        { name: `xstate actor per user (${NAIVE_USERS / 1000}k users)`, value: kib(base.rssPerUser) },
      ],
    },
  ];
}

/** Starts presence-actors up to `n` and waits until the partitions have moved and caught up. */
async function spread(stack: HeraldStack, n: number, users: number): Promise<void> {
  const started = Date.now();
  note(`offline: ${n - stack.running("presence-actor").length} more presence-actor processes join`);
  while (stack.running("presence-actor").length < n) stack.spawn("presence-actor");
  for (;;) {
    stack.checkAlive();
    const all = await stack.actorStats({ timeoutMs: 30_000 }).catch(() => [] as ActorStats[]);
    const held = all.map((s) => s.partitions.length);
    if (
      all.length === n &&
      held.every((h) => h > 0) &&
      sum(all, "caught_up") === stack.partitions &&
      sum(all, "users") === users
    ) {
      note(
        `offline: partitions spread over ${n} processes (${held.join(" / ")}) in ${Date.now() - started} ms`,
      );
      return;
    }
    if (Date.now() - started > 300_000)
      throw new Error(`offline: partitions did not spread over ${n} processes`);
    await sleep(500);
  }
}

async function offline(
  stack: HeraldStack,
  redis: RedisServer,
  opts: Options,
  processes: number,
  measured?: RedisLag,
): Promise<{ figures: Figure[]; baseline: RedisLag }> {
  const users = opts.users;
  const short = Math.ceil(users / SHORT_EVERY);
  const spreadMs = opts.windowMs;
  // Time to publish and apply the short heartbeats before the first deadline.
  const leadMs = 5000 + Math.ceil(short / 20);
  const waitMs = opts.quick ? 15_000 : 60_000;
  const collector = await Child.spawn<OfflineEventsApi>("offline-events");
  let lags: number[];
  try {
    await collector.call("setup", { url: stack.server.url });
    const firstDeadline = Date.now() + leadMs;
    note(
      `offline: ${short.toLocaleString("en")} users get deadlines over ${spreadMs / 1000} s from +${leadMs / 1000} s`,
    );
    await loadThroughStream(stack.nc, {
      label: "offline: short heartbeats",
      count: short,
      partitions: stack.partitions,
      commands: (j, at): Command[] => {
        const deadline = Math.round(firstDeadline + (j * spreadMs) / short);
        const user = userId(PREFIX, j * SHORT_EVERY);
        return [{ type: "heartbeat", user, conn: CONN, ttl_ms: Math.max(1000, deadline - at), at_ms: at }];
      },
      applied: () => stack.applied(),
      check: () => stack.checkAlive(),
    });
    const giveUp = firstDeadline + spreadMs + waitMs;
    let lastNote = Date.now();
    for (;;) {
      stack.checkAlive();
      const { offline: n } = await collector.call("count");
      if (n >= short || Date.now() > giveUp) break;
      if (Date.now() - lastNote >= 10_000) {
        lastNote = Date.now();
        note(`offline: ${n.toLocaleString("en")}/${short.toLocaleString("en")} offline events`);
      }
      await sleep(200);
    }
    lags = await collector.call("lags");
  } finally {
    await collector.stop();
  }
  const herald = percentiles(lags, Math.max(0, short - lags.length));
  note(
    `offline: Herald offline lag (${processes} presence-actor) p50 ${r2(herald.p50)} p99 ${r2(herald.p99)} max ${r2(herald.max)} ms`,
  );
  const baseline = measured ?? (await redisLag(redis, users, short, spreadMs, waitMs));
  const { base, atLeast } = baseline;
  const detail = {
    users,
    timingOut: short,
    processes,
    spreadMs,
    waitAfterLastDeadlineMs: waitMs,
    herald: { ...herald, p50: r2(herald.p50), p99: r2(herald.p99), max: r2(herald.max) },
    redis: baseline.detail,
  };
  const where = processes === 1 ? "" : `, over ${processes} presence-actors`;
  const row = (id: string, what: "p50" | "p99" | "max"): Figure => ({
    id: processes === 1 ? id : `${id}.x${processes}`,
    name: `offline: detection lag, ${what} (${short.toLocaleString("en")} of ${users.toLocaleString("en")} users time out${where})`,
    value: r2(herald[what]),
    unit: "ms",
    better: "lower",
    baselines: [{ name: "Redis expired notification", value: r2(base[what]), atLeast }],
    ...(what === "p99"
      ? { target: "≤ 250 ms", targetValue: 250, pass: herald.p99 !== null && herald.p99 <= 250 }
      : {}),
    ...(what === "p50" ? { detail } : {}),
  });
  return {
    figures: [row("offline.p50", "p50"), row("offline.p99", "p99"), row("offline.max", "max")],
    baseline,
  };
}

/** The Redis baseline of `offline`: the same keys and ttls, lag of the `expired` notifications. */
async function redisLag(
  redis: RedisServer,
  users: number,
  short: number,
  spreadMs: number,
  waitMs: number,
): Promise<RedisLag> {
  note(`offline: Redis baseline: ${users.toLocaleString("en")} keys, ${short.toLocaleString("en")} expiring`);
  const rx = await Child.spawn<RedisExpiryApi>("redis-expiry");
  let rr: Awaited<ReturnType<RedisExpiryApi["run"]>>;
  try {
    rr = await rx.call("run", {
      port: redis.port,
      prefix: PREFIX,
      users,
      shortEvery: SHORT_EVERY,
      leadMs: 3000,
      spreadMs,
      longTtlMs: LONG_TTL_MS,
      waitMs,
    });
  } finally {
    await rx.stop();
  }
  // Keys never notified count at the time waited for them: the baseline is then a lower bound.
  const base = percentiles([...rr.lags, ...rr.unnotified]);
  const atLeast = rr.missed > 0;
  note(
    `offline: Redis expired-notification lag p50 ${r2(base.p50)} p99 ${r2(base.p99)} ms, missed ${rr.missed}`,
  );
  return {
    base,
    atLeast,
    detail: {
      ...base,
      p50: r2(base.p50),
      p99: r2(base.p99),
      max: r2(base.max),
      notified: rr.lags.length,
      neverNotified: rr.missed,
      keysLeft: rr.keysLeft,
    },
  };
}

/** From a worker's JSON log: the times of its first "partition started" and last "caught up". */
function replaySpan(
  w: WorkerProcess,
): { startedAt: number; caughtUpAt: number; replayedMessages: number } | undefined {
  let startedAt = Number.POSITIVE_INFINITY;
  let caughtUpAt = 0;
  let replayedMessages = 0;
  for (const line of w.output.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const rec = JSON.parse(line) as { msg?: string; time?: number; replayed?: number };
      if (rec.msg === "partition started" && rec.time !== undefined)
        startedAt = Math.min(startedAt, rec.time);
      if (rec.msg === "partition caught up" && rec.time !== undefined) {
        caughtUpAt = Math.max(caughtUpAt, rec.time);
        replayedMessages += rec.replayed ?? 0;
      }
    } catch {
      // not a log record
    }
  }
  return Number.isFinite(startedAt) && caughtUpAt > 0
    ? { startedAt, caughtUpAt, replayedMessages }
    : undefined;
}

/** Starts a new presence-actor and waits until every partition is caught up. */
async function restart(
  stack: HeraldStack,
  label: string,
  timeoutMs: number,
): Promise<{ worker: WorkerProcess; ms: number; stats: ActorStats; spawnedAt: number }> {
  const spawnedAt = Date.now();
  // Info logs: the partition start and catch-up records time the replay.
  const worker = stack.spawn("presence-actor", { LOG_LEVEL: "info" });
  let lastNote = Date.now();
  for (;;) {
    stack.checkAlive();
    const [s] = await stack.actorStats({ timeoutMs: 30_000 }).catch(() => [] as ActorStats[]);
    if (s !== undefined && s.caught_up === stack.partitions)
      return { worker, ms: Date.now() - spawnedAt, stats: s, spawnedAt };
    if (Date.now() - spawnedAt > timeoutMs)
      throw new Error(`${label}: not caught up within ${timeoutMs / 1000} s`);
    if (Date.now() - lastNote >= 5000) {
      lastNote = Date.now();
      note(
        `${label}: ${s?.caught_up ?? 0}/${stack.partitions} partitions caught up, ${s?.commands ?? 0} commands replayed`,
      );
    }
    await sleep(100);
  }
}

async function recovery(stack: HeraldStack, users: number): Promise<Figure[]> {
  const timeoutMs = 120_000 + users / 5;
  const [first] = stack.running("presence-actor");
  if (first === undefined) throw new Error("no presence-actor to stop");
  note("recovery: stopping presence-actor cleanly (SIGTERM: snapshots)");
  const stop = await stack.stopWorker(first, "SIGTERM");
  const snapshots = await new Objm(stack.nc).open(objectStores.snapshots).then((os) => os.list());
  const snapshotBytes = snapshots.reduce((n, o) => n + o.size, 0);
  note(
    `recovery: stopped in ${stop.ms} ms (exit ${stop.code}); ${snapshots.length} snapshots, ${snapshotBytes} bytes`,
  );
  const clean = await restart(stack, "recovery: clean restart", timeoutMs);
  const cleanSpan = replaySpan(clean.worker);
  note(`recovery: clean restart caught up in ${clean.ms} ms, ${clean.stats.restoredUsers} users restored`);

  note(`recovery: one more heartbeat per user (${users.toLocaleString("en")} commands), then kill -9`);
  await loadThroughStream(stack.nc, {
    label: "recovery: heartbeats before the crash",
    count: users,
    partitions: stack.partitions,
    commands: (i, at): Command[] => [
      { type: "heartbeat", user: userId(PREFIX, i), conn: CONN, ttl_ms: LONG_TTL_MS, at_ms: at },
    ],
    applied: () => stack.applied(),
    check: () => stack.checkAlive(),
  });
  await stack.stopWorker(clean.worker, "SIGKILL");
  // Its leases must run out before a new owner may take the partitions; that wait is not recovery.
  await sleep(LEASE_TTL_MS + 500);
  const crash = await restart(stack, "recovery: restart after kill -9", timeoutMs);
  const span = replaySpan(crash.worker);
  const replayed = crash.stats.commands;
  // Partitions restore and replay on one event loop, interleaved: from the first partition
  // started to the last caught up, the others are still restoring. The clean restart restored
  // the same users and replayed nothing, so its span is the restore part; the rest is replay.
  const crashSpanMs = span !== undefined ? span.caughtUpAt - span.startedAt : crash.ms;
  const restoreSpanMs = cleanSpan !== undefined ? cleanSpan.caughtUpAt - cleanSpan.startedAt : 0;
  const replayMs = Math.max(1, crashSpanMs - restoreSpanMs);
  const replayRate = round(replayed / (replayMs / 1000), 0);
  note(
    `recovery: after kill -9: caught up in ${crash.ms} ms, ${replayed} commands replayed in ${replayMs} ms ` +
      `(${crashSpanMs} ms from the first partition started, less ${restoreSpanMs} ms of restoring)`,
  );
  const detail = {
    users,
    cleanStop: { ...stop, snapshots: snapshots.length, snapshotBytes },
    clean: {
      msFromSpawn: clean.ms,
      restoredUsers: clean.stats.restoredUsers,
      replayedCommands: clean.stats.commands,
      fromFirstPartitionStartMs: cleanSpan ? cleanSpan.caughtUpAt - cleanSpan.startedAt : null,
    },
    crash: {
      msFromSpawn: crash.ms,
      leaseWaitMs: LEASE_TTL_MS + 500,
      restoredUsers: crash.stats.restoredUsers,
      replayedCommands: replayed,
      replayedMessages: sum([crash.stats], "replayed"),
      fromFirstPartitionStartMs: crashSpanMs,
      replayMs,
    },
  };
  return [
    {
      id: "recovery.restore",
      name: `recovery: clean stop → new process caught up (${clean.stats.restoredUsers.toLocaleString("en")} users restored)`,
      value: round(clean.ms / 1000, 2),
      unit: "s",
      better: "lower",
      baselines: [],
      target: "1M users ≤ 15 s",
      targetValue: 15,
      pass: clean.ms <= 15_000 && clean.stats.restoredUsers >= Math.min(users, 1_000_000),
      detail,
    },
    {
      id: "recovery.crash",
      name: "recovery: kill -9 → new process caught up (restore + replay)",
      value: round(crash.ms / 1000, 2),
      unit: "s",
      better: "lower",
      baselines: [],
    },
    {
      id: "recovery.replay",
      name: `recovery: replay rate (${replayed.toLocaleString("en")} commands after the snapshot)`,
      value: replayRate,
      unit: "commands/s",
      better: "higher",
      baselines: [],
      target: "≥ 200,000/s",
      targetValue: 200_000,
      pass: replayRate !== null && replayRate >= 200_000,
    },
  ];
}
