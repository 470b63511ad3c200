/**
 * `pnpm soak --minutes N`: a realistic mixed load against nats-server and the three workers as
 * processes for N minutes, sampling every process's memory each --sample-s seconds, failing
 * when memory keeps growing after the warm-up or any error appears.
 *
 * The load (seeded): --users users with 1 to 3 conns each, every live conn heart-beating every
 * 5 s (ttl 15 s, in batch requests); --rate other operations per second: conns that connect,
 * disconnect, or are left to time out (abandoned: no more heartbeats); joins, leaves and data
 * updates on a pool of channels and on short-lived channels of their own; activity; set_status
 * dnd and invisible with expiry within 2 minutes, and auto; delete_user_status; and every query
 * (get_user_status, presence, presence_stats, channel_users, user_channels, is_present,
 * history, status_at). A canary user must stay online and in its channel throughout.
 *
 * Memory: each sample asks every worker for `herald.admin.stats.<component>` with
 * `{"gc": true}` (the workers run with --expose-gc), so `heapUsed` is measured after a full
 * GC, and reads every process's RSS (nats-server's from /proc). Growth is the least-squares
 * slope of a series over the samples taken at or after the warm-up (--warmup-min, default a
 * sixth of the run, at least 1 minute), in MiB per minute. The run fails when a worker's heap
 * after GC grows faster than --max-heap-slope (default 1 MiB/min), or, given at least 5
 * samples after the warm-up, its RSS faster than --max-rss-slope (default 4 MiB/min; RSS
 * settles over minutes as V8 sizes its young generation, so a shorter run only shows it).
 * nats-server's RSS is shown, not judged (it holds the streams' indexes, which grow by
 * design); so are the members bucket's messages (its values and delete markers).
 *
 * Errors (each fails the run): a worker exit, a request without a reply within 10 s, a 500, and
 * a 400 or 404 (every request of the load is valid, so that would be a bug), a canary check
 * that fails. Refusals the state may give (409, 413, 429) and 503 are counted and shown.
 */
import { buckets, COMPONENTS, type Component, kvNames } from "@herald/protocol";
import { seededRandom, waitFor } from "@herald/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { Canary } from "./lib/canary.js";
import type { ApiInput } from "./lib/inputs.js";
import { ask, judge } from "./lib/oracle.js";
import { Examples, mib, numberArgs, Tally, table } from "./lib/report.js";
import { Stack } from "./lib/stack.js";

const USAGE = `usage: pnpm soak [options]

  --minutes N          how long the load runs (default 30)
  --users N            users (default 2000)
  --rate N             operations per second besides heartbeats (default 150)
  --sample-s N         seconds between memory samples (default 60)
  --warmup-min N       minutes before growth is judged (default: minutes / 6, at least 1)
  --max-heap-slope N   MiB per minute a worker's heap after GC may grow (default 1)
  --max-rss-slope N    MiB per minute a worker's RSS may grow (default 4)
  --partitions N       HERALD_PARTITIONS (default 4)
  --seed S             seed of the load (default: random; printed)
  --help               this text
`;

const args = numberArgs(USAGE, {
  minutes: 30,
  users: 2000,
  rate: 150,
  "sample-s": 60,
  "warmup-min": undefined,
  "max-heap-slope": 1,
  "max-rss-slope": 4,
  partitions: 4,
  seed: undefined,
});
const MINUTES = args.minutes as number;
const USERS = args.users as number;
const RATE = args.rate as number;
const SAMPLE_MS = (args["sample-s"] as number) * 1000;
const WARMUP_MIN = args["warmup-min"] ?? Math.max(1, MINUTES / 6);
const MAX_HEAP_SLOPE = args["max-heap-slope"] as number;
const MAX_RSS_SLOPE = args["max-rss-slope"] as number;
const PARTITIONS = args.partitions as number;
const SEED = args.seed ?? Math.floor(Math.random() * 2_000_000_000);

const HEARTBEAT_MS = 5000;
const TTL_MS = 15_000;
const TIMEOUT_MS = 10_000;
/** Requests of the load in flight at most; beyond it an operation is skipped (and counted). */
const MAX_IN_FLIGHT = 256;
const CHANNELS = 200;
const SKIPPED = "skipped: too many in flight";
/** Samples after the warm-up needed before RSS growth is judged. */
const RSS_SAMPLES = 5;

const log = (line: string) => process.stdout.write(`${line}\n`);

const random = seededRandom(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));

/** The least-squares slope of y over x. */
export function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

// ---- the load's model of what it did ----------------------------------------------------------

interface Conn {
  readonly user: string;
  readonly id: string;
  /** Heart-beating; false once disconnected or abandoned. */
  live: boolean;
  readonly channels: Set<string>;
  nextHeartbeatAt: number;
}

const users = Array.from({ length: USERS }, (_, i) => `soak-u${i}`);
const conns = new Map<string, Conn[]>(users.map((u) => [u, []]));
const channels = Array.from({ length: CHANNELS }, (_, i) => `soak-room ${i}`);
let connSeq = 0;
let tempChannelSeq = 0;

const liveConns = (u: string) => (conns.get(u) ?? []).filter((c) => c.live);
function anyLiveConn(): Conn | undefined {
  for (let i = 0; i < 20; i++) {
    const c = pick(liveConns(pick(users)));
    if (c !== undefined) return c;
  }
  return undefined;
}

// ---- requests ---------------------------------------------------------------------------------

const outcomes = new Tally();
const problems = new Examples(5);
let inFlight = 0;
let requests = 0;
let errors = 0;

async function main(): Promise<number> {
  log(
    `soak: seed ${SEED}, ${MINUTES} min, ${USERS} users, ${RATE} operations/s besides heartbeats, samples every ${SAMPLE_MS / 1000} s, growth judged from minute ${WARMUP_MIN}`,
  );
  await using stack = await Stack.start({
    partitions: PARTITIONS,
    env: { NODE_OPTIONS: "--expose-gc", LOG_LEVEL: "warn" },
  });

  const call = async (method: string, params: unknown): Promise<boolean> => {
    const input: ApiInput = {
      label: method,
      method,
      body: JSON.stringify(params),
      expect: { kind: "valid" },
    };
    inFlight++;
    requests++;
    try {
      const answer = await ask(stack.nc, input, TIMEOUT_MS);
      const j = judge(input, answer);
      outcomes.add(`${method} → ${j.outcome}`);
      if (j.problem !== undefined) {
        // A valid request may be refused by the state (409, 413, 429) or an overload (503): counted.
        const refusal = typeof j.outcome === "number" && [409, 413, 429, 503].includes(j.outcome);
        if (!refusal) {
          errors++;
          problems.add(j.problem.kind, `${method} ${input.body.slice(0, 200)}: ${j.problem.detail}`);
        }
      }
      return j.outcome === "result";
    } finally {
      inFlight--;
    }
  };
  /** Sends without waiting; `then` hears whether it got its result (a skipped one did not). */
  const fire = (method: string, params: unknown, then?: (ok: boolean) => void) => {
    if (inFlight >= MAX_IN_FLIGHT) {
      outcomes.add(SKIPPED);
      then?.(false);
      return;
    }
    void call(method, params).then((ok) => then?.(ok));
  };

  // ---- operations -----------------------------------------------------------------------------
  // The load is stationary from the start, so that what memory does after the warm-up is not
  // the population growing: a conn that ends is replaced by a new one (new ids), a channel left
  // by a conn is swapped for another, every conn keeps the number of channels it was given.
  const join = (c: Conn) => {
    const channel = random() < 0.2 ? `soak-temp ${tempChannelSeq++}` : pick(channels);
    if (c.channels.has(channel)) return;
    c.channels.add(channel);
    fire("join", { user: c.user, conn: c.id, channel, data: { n: int(0, 1e6), name: c.user } }, (ok) => {
      if (!ok) c.channels.delete(channel);
    });
  };
  /**
   * A new conn of `user` (new id) in 0 to 2 channels, joined `joinAfterMs` later; its first
   * heartbeat comes with the next batch.
   */
  const connect = (user: string, joinAfterMs = 200) => {
    const conn: Conn = {
      user,
      id: `c${connSeq++}`,
      live: true,
      channels: new Set(),
      nextHeartbeatAt: Date.now(),
    };
    conns.get(user)?.push(conn);
    const k = int(0, 2);
    // Joined once its first heartbeat has been sent (a join of an unknown conn connects it too).
    setTimeout(() => {
      for (let i = 0; i < k && conn.live; i++) join(conn);
    }, joinAfterMs);
  };
  /** Forgets a conn that ended (now, or once its ttl has surely passed for an abandoned one). */
  const forget = (conn: Conn, afterMs = 0) => {
    conn.live = false;
    setTimeout(() => {
      const list = conns.get(conn.user) ?? [];
      list.splice(list.indexOf(conn), 1);
    }, afterMs);
  };
  const operations: [number, () => void][] = [
    [
      // Churn: a conn disconnects or is left to time out (no more heartbeats); a new one comes.
      10,
      () => {
        const c = anyLiveConn();
        if (c === undefined) return;
        if (random() < 0.7) {
          forget(c);
          fire("disconnect", { user: c.user, conn: c.id });
        } else {
          forget(c, TTL_MS * 2);
        }
        const candidates = [pick(users), pick(users), c.user];
        connect(candidates.find((u) => liveConns(u).length < 3) ?? c.user);
      },
    ],
    [
      // A conn leaves one of its channels and joins another.
      10,
      () => {
        const c = anyLiveConn();
        const channel = c === undefined ? undefined : pick([...c.channels]);
        if (c === undefined || channel === undefined) return;
        c.channels.delete(channel);
        fire("leave", { user: c.user, conn: c.id, channel });
        join(c);
      },
    ],
    [
      6,
      () => {
        const c = anyLiveConn();
        const channel = c === undefined ? undefined : pick([...c.channels]);
        if (c === undefined || channel === undefined) return;
        fire("update", { user: c.user, conn: c.id, channel, data: { n: int(0, 1e6), at: Date.now() } });
      },
    ],
    [6, () => fire("update_user_status", { users: Array.from({ length: int(1, 5) }, () => pick(users)) })],
    [
      4,
      () => {
        const user = pick(users);
        const r = random();
        if (r < 0.3) fire("set_status", { user, status: "auto" });
        else
          fire("set_status", {
            user,
            status: r < 0.65 ? "dnd" : "invisible",
            text: "busy",
            expires_at_ms: Date.now() + int(10_000, 120_000),
          });
      },
    ],
    [1, () => fire("delete_user_status", { users: [pick(users)] })],
    [10, () => fire("get_user_status", { users: Array.from({ length: int(1, 50) }, () => pick(users)) })],
    [5, () => fire("presence", { channel: pick(channels) })],
    [3, () => fire("presence_stats", { channel: pick(channels) })],
    [3, () => fire("channel_users", { channel: pick(channels) })],
    [3, () => fire("user_channels", { user: pick(users) })],
    [3, () => fire("is_present", { channel: pick(channels), user: pick(users) })],
    [
      2,
      () =>
        fire(
          "history",
          random() < 0.5 ? { user: pick(users), limit: 20 } : { channel: pick(channels), limit: 20 },
        ),
    ],
    [
      1,
      () =>
        fire("status_at", {
          users: Array.from({ length: 10 }, () => pick(users)),
          at_ms: Date.now() - int(0, 60_000),
        }),
    ],
  ];
  const totalWeight = operations.reduce((s, [w]) => s + w, 0);
  const operate = () => {
    let r = random() * totalWeight;
    for (const [w, op] of operations) {
      r -= w;
      if (r < 0) return op();
    }
  };
  const heartbeatDue = () => {
    const now = Date.now();
    const due: { user: string; conn: string; ttl_ms: number }[] = [];
    for (const list of conns.values()) {
      for (const c of list) {
        if (c.live && c.nextHeartbeatAt <= now) {
          due.push({ user: c.user, conn: c.id, ttl_ms: TTL_MS });
          c.nextHeartbeatAt = now + HEARTBEAT_MS;
        }
      }
    }
    for (let i = 0; i < due.length; i += 200) fire("heartbeat", { heartbeats: due.slice(i, i + 200) });
  };

  // Everyone connects: one or two conns each, their first heartbeats spread over one period.
  for (const user of users) {
    // Joins spread over three periods: at once they would be more than MAX_IN_FLIGHT.
    for (let i = int(1, 2); i > 0; i--) connect(user, int(0, 3 * HEARTBEAT_MS));
    for (const c of liveConns(user)) c.nextHeartbeatAt = Date.now() + int(0, HEARTBEAT_MS);
  }
  const canary = new Canary(await stack.connectAs("client", "soak-canary"), {
    tag: String(SEED),
    heartbeatMs: 2000,
    ttlMs: TTL_MS,
    activityMs: 60_000,
    timeoutMs: TIMEOUT_MS,
  });
  await canary.start();

  // ---- the run --------------------------------------------------------------------------------
  const started = Date.now();
  const end = started + MINUTES * 60_000;
  let debt = 0;
  const load = setInterval(() => {
    heartbeatDue();
    debt += RATE / 10;
    for (; debt >= 1; debt--) operate();
  }, 100);

  interface Sample {
    readonly min: number;
    readonly heap: Record<string, number | undefined>;
    readonly rss: Record<string, number | undefined>;
    readonly requests: number;
    readonly errors: number;
    readonly skipped: number;
    readonly actor: Record<string, unknown>;
    /** The gateway's view: members; and the messages of the members bucket (values and delete markers). */
    readonly members: number;
    readonly memberMsgs: number;
  }
  const samples: Sample[] = [];
  const jsm = await jetstreamManager(stack.admin);
  const sample = async () => {
    const heap: Record<string, number | undefined> = {};
    const rss: Record<string, number | undefined> = {};
    for (const component of COMPONENTS) {
      const [s] = await stack.stats(component as Component, { gc: true, timeoutMs: 10_000 });
      if (s === undefined) problems.add("stats", `${component} did not answer its stats request`);
      else if (!s.gc) problems.add("stats", `${component} did not collect garbage (no --expose-gc?)`);
      heap[component] = s?.memory.heapUsed;
      rss[component] = s?.memory.rss;
    }
    rss["nats-server"] = stack.rss()["nats-server"];
    const [actor] = await stack.stats("presence-actor");
    const [gateway] = await stack.stats("gateway");
    const bucket = await jsm.streams.info(kvNames.stream(buckets.members));
    const min = (Date.now() - started) / 60_000;
    samples.push({
      min,
      heap,
      rss,
      requests,
      errors,
      skipped: outcomes.get(SKIPPED),
      actor: actor ?? {},
      members: Number((gateway?.view as { members?: number } | undefined)?.members ?? 0),
      memberMsgs: bucket.state.messages,
    });
    for (const p of await canary.check()) problems.add("canary", `minute ${min.toFixed(1)}: ${p}`);
    for (const gone of stack.exited()) problems.add("crash", gone);
    log(
      `  ${min.toFixed(1)} min: ${requests} requests, ${errors} errors, heap after GC ${COMPONENTS.map((c) => `${c} ${mib(heap[c])}`).join(", ")}`,
    );
  };
  await sample();
  for (let next = started + SAMPLE_MS; next <= end + 1000; next += SAMPLE_MS) {
    await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
    await sample();
    if (stack.exited().length > 0) break;
  }
  clearInterval(load);
  canary.stop();
  // What is in flight is answered (or times out) before the figures.
  await waitFor(() => inFlight === 0, { timeoutMs: TIMEOUT_MS * 2, what: "the requests in flight" });
  for (const f of canary.failures) if (!f.includes(" check ")) problems.add("canary", f);
  for (const gone of stack.exited()) problems.add("crash", gone);

  // ---- figures --------------------------------------------------------------------------------
  const procs = [...COMPONENTS, "nats-server"];
  log("");
  log(
    table(
      [
        "min",
        "requests",
        "errors",
        ...COMPONENTS.map((c) => `${c} heap`),
        ...procs.map((p) => `${p} RSS`),
        "skipped",
        "users",
        "timers",
        "channel names",
        "members",
        "member msgs",
      ],
      samples.map((s) => [
        s.min.toFixed(1),
        s.requests,
        s.errors,
        ...COMPONENTS.map((c) => mib(s.heap[c])),
        ...procs.map((p) => mib(s.rss[p])),
        s.skipped,
        Number(s.actor.users ?? 0),
        Number(s.actor.timers ?? 0),
        Number(s.actor.channel_names ?? 0),
        s.members,
        s.memberMsgs,
      ]),
    ),
  );
  const judged = samples.filter((s) => s.min >= WARMUP_MIN - 0.05);
  const perMin = (series: (s: Sample) => number | undefined) =>
    slope(
      judged.flatMap((s) => ((v) => (v === undefined ? [] : [[s.min, v / 1048576] as const]))(series(s))),
    );
  const growth: [string, string, number, number][] = [];
  // RSS settles over minutes (V8 sizes its young generation up to --max-semi-space-size): judged
  // only with RSS_SAMPLES samples after the warm-up, shown otherwise.
  const rssLimit = judged.length >= RSS_SAMPLES ? MAX_RSS_SLOPE : Number.POSITIVE_INFINITY;
  for (const c of COMPONENTS) {
    growth.push([c, "heap after GC", perMin((s) => s.heap[c]), MAX_HEAP_SLOPE]);
    growth.push([c, "RSS", perMin((s) => s.rss[c]), rssLimit]);
  }
  growth.push(["nats-server", "RSS", perMin((s) => s.rss["nats-server"]), Number.POSITIVE_INFINITY]);
  const enough = judged.length >= 3;
  if (!enough)
    problems.add(
      "samples",
      `only ${judged.length} samples after the warm-up; growth needs 3 (run longer or sample more often)`,
    );
  log("");
  log(
    table(
      ["process", "series", "slope MiB/min", "limit", "verdict"],
      growth.map(([p, series, s, limit]) => [
        p,
        series,
        s.toFixed(3),
        Number.isFinite(limit) ? limit : "shown only",
        !Number.isFinite(limit) ? "" : s > limit ? "GROWS" : "ok",
      ]),
    ),
  );
  for (const [p, series, s, limit] of growth) {
    if (s > limit)
      problems.add(
        "growth",
        `${p} ${series} grows ${s.toFixed(3)} MiB/min over minutes ${WARMUP_MIN}–${MINUTES} (limit ${limit})`,
      );
  }
  log("");
  log(table(["request → outcome", "count"], outcomes.rows()));
  log(`\ncanary: ${canary.checks} checks, ${canary.heartbeats} heartbeats`);
  const failed =
    errors > 0 || ["crash", "canary", "growth", "stats", "samples"].some((k) => problems.count(k) > 0);
  const listed = problems.print();
  if (listed !== "") log(`\nproblems:\n${listed}`);
  log(`\n${failed ? "FAILED" : "passed"} (seed ${SEED})`);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`soak (seed ${SEED}) failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
