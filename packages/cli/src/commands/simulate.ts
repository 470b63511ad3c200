/**
 * `herald simulate`: a realistic load over the NATS API as an application would send it (user
 * client): see simulation.ts for the model. A progress bar with a live summary (commands per
 * second, errors by code) while it runs; every conn disconnected at the end or on Ctrl-C.
 */
import { SingleBar } from "cli-progress";
import type { Command } from "commander";
import type { Api } from "../api.js";
import { type Context, examples } from "../context.js";
import { ApiError, CliError, UsageError } from "../errors.js";
import { count, rate, shortDuration } from "../format.js";
import { reportStatus, untilSignal } from "../lifecycle.js";
import { parseDuration, parseIntIn, parsePositive } from "../parse.js";
import { Simulation, type Step, type StepKind, seededRandom } from "../simulation.js";
import { describeTarget } from "../target.js";

interface SimulateOptions {
  users: string;
  channels: string;
  rate: string;
  duration: string;
  ttl: string;
  grace?: string;
  prefix: string;
  seed?: string;
  maxInFlight: string;
}

const TICK_MS = 20;

/** Counts of a run: calls by method and outcome, errors by code, steps by kind. */
export class Tally {
  calls = 0;
  ok = 0;
  heartbeatItems = 0;
  /** Conns disconnected when the run ended. */
  closedAtEnd = 0;
  readonly byMethod = new Map<string, number>();
  readonly errors = new Map<string, number>();
  readonly steps = new Map<StepKind, number>();
  /** Times of recent calls, for the rate of the last second. */
  readonly #recent: number[] = [];

  called(method: string, nowMs: number, items = 1): void {
    this.calls++;
    this.byMethod.set(method, (this.byMethod.get(method) ?? 0) + 1);
    if (method === "heartbeat") this.heartbeatItems += items;
    this.#recent.push(nowMs);
  }

  failed(code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  stepped(kind: StepKind): void {
    this.steps.set(kind, (this.steps.get(kind) ?? 0) + 1);
  }

  /** Calls in the last second. */
  perSecond(nowMs: number): number {
    while (this.#recent.length > 0 && (this.#recent[0] as number) <= nowMs - 1000) this.#recent.shift();
    return this.#recent.length;
  }

  get errorCount(): number {
    return [...this.errors.values()].reduce((a, b) => a + b, 0);
  }

  /** `429×3 409×1`, most frequent first; `none`. */
  errorsText(): string {
    if (this.errors.size === 0) return "none";
    return [...this.errors]
      .sort((a, b) => b[1] - a[1])
      .map(([code, n]) => `${code}×${count(n)}`)
      .join(" ");
  }
}

/** The code an error is counted under: the API's code, or what went wrong on NATS. */
function errorCode(err: unknown): string {
  if (err instanceof ApiError) return String(err.code);
  const message = (err as Error).message;
  if (message.startsWith("no answer")) return "timeout";
  if (message.startsWith("no one answers")) return "no-gateway";
  return "nats";
}

export function registerSimulate(program: Command, ctx: Context): void {
  program
    .command("simulate")
    .summary("send a realistic load over the API")
    .description(
      "Simulates users of an application over the NATS API (user client): tabs opening and closing (heartbeats with ttl_ms, disconnects), page refreshes within the grace period (a disconnect, then the same conn back and its channels joined again), users going idle (no activity: they turn away) and coming back, channel churn (join, update and leave with data), and now and then dnd or invisible. Users are <prefix>-u1.. and channels <prefix>:room-1..; popular rooms get more members. Stops after --duration or on Ctrl-C, disconnecting every conn it opened and clearing the statuses it set.",
    )
    .option("--users <n>", "simulated users", "100")
    .option("--channels <n>", "channels", "10")
    .option("--rate <n>", "user actions per second (heartbeat batches and rejoins come on top)", "50")
    .option("--duration <duration>", "how long to run", "30s")
    .option("--ttl <duration>", "ttl_ms of heartbeats (a conn heartbeats every third of it)", "30s")
    .option(
      "--grace <duration>",
      "PRESENCE_GRACE_MS of the system: refreshes come back within half of it (default: PRESENCE_GRACE_MS or 5s)",
    )
    .option("--prefix <name>", "prefix of user and channel ids", "sim")
    .option("--seed <n>", "seed of the random choices, to repeat a run")
    .option("--max-in-flight <n>", "requests waiting for an answer at most", "500")
    .addHelpText(
      "after",
      examples([
        ["herald simulate", "100 users, 10 channels, 50 actions/s for 30 s"],
        ["herald simulate --users 1000 --channels 50 --rate 500 --duration 5m", "a bigger load"],
        [
          "herald simulate --users 20 --rate 5 --duration 1h --prefix demo",
          "a slow, long demo next to `herald watch`",
        ],
      ]),
    )
    .action(async (opts: SimulateOptions, cmd: Command) => {
      const users = parseIntIn(opts.users, "--users", 1, 1_000_000);
      const channels = parseIntIn(opts.channels, "--channels", 1, 1_000_000);
      const actionsPerSecond = parsePositive(opts.rate, "--rate");
      const durationMs = parseDuration(opts.duration, "--duration");
      const ttlMs = parseDuration(opts.ttl, "--ttl");
      if (ttlMs < 1000)
        throw new UsageError("invalid --ttl: must be at least 1s (the API's smallest ttl_ms)");
      const envGrace = ctx.io.env.PRESENCE_GRACE_MS;
      const graceMs =
        opts.grace !== undefined
          ? parseDuration(opts.grace, "--grace")
          : envGrace !== undefined && envGrace !== ""
            ? parseIntIn(envGrace, "PRESENCE_GRACE_MS", 0, 86_400_000)
            : 5000;
      const maxInFlight = parseIntIn(opts.maxInFlight, "--max-in-flight", 1, 100_000);
      if (!/^[A-Za-z0-9_.-]{1,32}$/.test(opts.prefix))
        throw new UsageError("invalid --prefix: 1..32 of letters, digits, _ . -");
      const seed = opts.seed === undefined ? Date.now() : parseIntIn(opts.seed, "--seed", 0, 2 ** 32 - 1);
      const sim = new Simulation({
        users,
        channels,
        graceMs,
        ttlMs,
        prefix: opts.prefix,
        random: seededRandom(seed),
      });
      await ctx.withSession(
        cmd,
        "client",
        async (s) => {
          reportStatus(s.nc, ctx);
          // Fails at once, with the reason, when no gateway answers or the user may not call.
          await s.api.call("presence_stats", { channel: sim.channelIds[0] as string });
          ctx.err(
            `simulating ${count(users)} users in ${count(channels)} channels at ${actionsPerSecond}/s for ${shortDuration(durationMs)} on ${describeTarget(s.target)} (seed ${seed}; Ctrl-C stops)`,
          );
          const t0 = ctx.io.now();
          const tally = await run(sim, s.api, ctx, { actionsPerSecond, durationMs, maxInFlight });
          ctx.out(summary(tally, sim, ctx.io.now() - t0));
          if (tally.calls > 0 && tally.ok === 0) throw new CliError("every call failed");
        },
        { longLived: true },
      );
    });
}

interface RunOptions {
  readonly actionsPerSecond: number;
  readonly durationMs: number;
  readonly maxInFlight: number;
}

async function run(sim: Simulation, api: Api, ctx: Context, o: RunOptions): Promise<Tally> {
  const tally = new Tally();
  const busy = new Set<string>();
  const inFlight = new Set<Promise<void>>();
  const now = () => ctx.io.now();

  const perform = (step: Step): void => {
    tally.stepped(step.kind);
    if (step.calls.length === 0) return;
    if (step.user !== undefined) busy.add(step.user);
    const p = (async () => {
      for (const call of step.calls) {
        const items = Array.isArray(call.params.heartbeats) ? call.params.heartbeats.length : 1;
        tally.called(call.method, now(), items);
        try {
          await api.call(call.method, call.params);
          tally.ok++;
        } catch (err) {
          tally.failed(errorCode(err));
        }
      }
    })().finally(() => {
      if (step.user !== undefined) busy.delete(step.user);
      inFlight.delete(p);
    });
    inFlight.add(p);
  };

  const bar = new SingleBar({
    stream: ctx.io.stderr as NodeJS.WritableStream,
    format:
      "simulate [{bar}] {percentage}% {elapsed}/{total_time} | {cps} calls/s | {conns} conns, {connected} users | ok {ok} | errors {errors}",
    barsize: 20,
    barCompleteChar: "#",
    barIncompleteChar: ".",
    hideCursor: ctx.io.stderr.isTTY === true,
    noTTYOutput: true,
    notTTYSchedule: 5000,
    clearOnComplete: false,
  });
  const payload = () => {
    const counts = sim.counts;
    return {
      elapsed: shortDuration(Math.min(now() - start, o.durationMs)),
      total_time: shortDuration(o.durationMs),
      cps: rate(tally.perSecond(now())).replace("/s", ""),
      conns: count(counts.conns),
      connected: count(counts.connected),
      ok: count(tally.ok),
      errors: tally.errorsText(),
    };
  };
  const start = now();
  bar.start(o.durationMs, 0, payload());
  const signal = untilSignal();
  let stopped = false;
  void signal.promise.then(() => {
    stopped = true;
  });
  let budget = 0;
  let last = start;
  let lastDraw = 0;
  try {
    while (!stopped && now() - start < o.durationMs) {
      const t = now();
      budget = Math.min(budget + ((t - last) * o.actionsPerSecond) / 1000, Math.max(1, o.actionsPerSecond));
      last = t;
      for (const step of sim.due(t)) perform(step);
      while (budget >= 1 && inFlight.size < o.maxInFlight) {
        const step = sim.next(t, busy);
        if (step === undefined) break;
        perform(step);
        budget -= 1;
      }
      if (t - lastDraw >= 200) {
        bar.update(Math.min(t - start, o.durationMs), payload());
        lastDraw = t;
      }
      await new Promise((r) => setTimeout(r, TICK_MS));
    }
    bar.update(Math.min(now() - start, o.durationMs), payload());
  } finally {
    signal.cancel();
    bar.stop();
  }
  if (stopped) ctx.err("stopping…");
  await Promise.allSettled([...inFlight]);
  // The end: every conn disconnected (a few at a time), statuses cleared.
  const teardown = sim.teardown();
  tally.closedAtEnd = teardown.reduce(
    (n, st) => n + st.calls.filter((c) => c.method === "disconnect").length,
    0,
  );
  for (let i = 0; i < teardown.length; i += o.maxInFlight) {
    for (const step of teardown.slice(i, i + o.maxInFlight)) perform(step);
    await Promise.allSettled([...inFlight]);
  }
  return tally;
}

function summary(t: Tally, sim: Simulation, elapsedMs: number): string {
  const seconds = Math.max(elapsedMs, 1) / 1000;
  const methods = [...t.byMethod]
    .sort((a, b) => b[1] - a[1])
    .map(([m, n]) => `${m} ${count(n)}`)
    .join(", ");
  const steps = [...t.steps]
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${count(n)}`)
    .join(", ");
  return [
    `calls: ${count(t.calls)} in ${shortDuration(elapsedMs)} (${rate(t.calls / seconds)}), ok ${count(t.ok)}, errors ${count(t.errorCount)} (${t.errorsText()})`,
    `by method: ${methods}; heartbeats in batches: ${count(t.heartbeatItems)}`,
    `actions: ${steps}`,
    `users: ${count(sim.userIds.length)} (${sim.userIds[0]}..), channels: ${count(sim.channelIds.length)}; ${count(t.closedAtEnd)} conns disconnected at the end`,
  ].join("\n");
}
