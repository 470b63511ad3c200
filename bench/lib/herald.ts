/**
 * A Herald deployment for one measurement: its own nats-server (testkit, temp store) and the
 * real workers as separate processes (testkit `WorkerProcess`), plus a client connection for
 * the bench. Processes are registered for cleanup when started.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Component, internalSubjects, SERVICE_NAME, subjects } from "@herald/protocol";
import { NatsServer, StopWaiting, WorkerProcess, waitFor } from "@herald/testkit";
import { createInbox, type NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { defer } from "./cleanup.js";

/** The worker environment every bench deployment uses; a measurement adds or overrides. */
export const BASE_ENV: Readonly<Record<string, string>> = {
  LOG_LEVEL: "warn",
  LOG_FORMAT: "json",
  // GC on demand for memory figures; room for a million users and their snapshots.
  NODE_OPTIONS: "--expose-gc --max-old-space-size=12288",
  HERALD_PARTITIONS: "16",
  // Nobody turns away during a run: away transitions would be load nobody asked for.
  PRESENCE_AWAY_AFTER_MS: String(30 * 86_400_000),
  PRESENCE_MAX_TTL_MS: String(7 * 86_400_000),
};

/** Where the workers' output (warnings and errors; info for recovery runs) is kept after a run. */
export const logDir = join(tmpdir(), `herald-bench-logs-${process.pid}`);

/** What a worker answers on `herald.admin.stats.<component>`. */
export interface WorkerStats {
  readonly component: string;
  readonly pid: number;
  readonly uptime_ms: number;
  readonly memory: NodeJS.MemoryUsage;
  readonly gc: boolean;
  readonly [counter: string]: unknown;
}

/** presence-actor's counters (the ones the bench reads). */
export interface ActorStats extends WorkerStats {
  readonly users: number;
  readonly commands: number;
  readonly caught_up: number;
  readonly partitions: readonly number[];
  readonly restoredUsers: number;
  readonly replayed: number;
  readonly snapshots: number;
}

export interface StackOptions {
  readonly actors?: number;
  readonly gateways?: number;
  /** Run status-projector (queries need it; the 1M-user stack does without). */
  readonly projector?: boolean;
  readonly env?: Record<string, string>;
  /** Free-form label for progress lines. */
  readonly label: string;
}

/** The sum of a numeric counter over replies. */
export function sum(replies: readonly WorkerStats[], counter: string): number {
  let total = 0;
  for (const r of replies) total += Number(r[counter] ?? 0);
  return total;
}

export class HeraldStack {
  readonly workers: WorkerProcess[] = [];
  /** Workers the bench stopped on purpose (their exit is not a failure). */
  readonly #stopped = new WeakSet<WorkerProcess>();
  #disposeServer: () => Promise<void> = async () => {};
  #disposeWorkers: () => Promise<void> = async () => {};

  private constructor(
    readonly label: string,
    readonly server: NatsServer,
    readonly nc: NatsConnection,
    readonly env: Record<string, string>,
    readonly partitions: number,
  ) {}

  /** Starts nats-server, the workers (presence-actor first) and waits until they serve. */
  static async start(opts: StackOptions): Promise<HeraldStack> {
    const server = await NatsServer.start();
    const disposeServer = defer(`nats-server (${opts.label})`, () => server[Symbol.asyncDispose]());
    const nc = await connect({ servers: server.url, name: "herald-bench", maxReconnectAttempts: -1 });
    const env: Record<string, string> = { ...BASE_ENV, ...opts.env, NATS_URL: server.url };
    const stack = new HeraldStack(opts.label, server, nc, env, Number(env.HERALD_PARTITIONS));
    stack.#disposeServer = async () => {
      await nc.close().catch(() => undefined);
      await disposeServer();
    };
    // The stack's own disposer runs before the server's (registered later, run first).
    stack.#disposeWorkers = defer(`workers (${opts.label})`, async () => {
      await stack.#stopWorkers();
      stack.saveLogs();
    });
    for (let i = 0; i < (opts.actors ?? 1); i++) stack.spawn("presence-actor");
    await stack.waitActors(opts.actors ?? 1);
    if (opts.projector ?? true) stack.spawn("status-projector");
    for (let i = 0; i < (opts.gateways ?? 1); i++) stack.spawn("gateway");
    await stack.waitResponding("status-projector", (opts.projector ?? true) ? 1 : 0);
    if ((opts.gateways ?? 1) > 0) await stack.waitQueries();
    return stack;
  }

  /** Starts one more worker process. */
  spawn(name: Component, env: Record<string, string> = {}): WorkerProcess {
    const w = WorkerProcess.spawn(name, { ...this.env, ...env });
    this.workers.push(w);
    return w;
  }

  /** The live workers of a component. */
  running(name: Component): WorkerProcess[] {
    return this.workers.filter((w) => w.name === name && w.exited === undefined);
  }

  /** Fails when a worker exited that nobody stopped. */
  checkAlive(): void {
    for (const w of this.workers) {
      const exit = w.exited;
      if (exit !== undefined && !this.#stopped.has(w)) {
        throw new StopWaiting(
          `${w.name} (pid ${w.pid}) exited: ${JSON.stringify(exit)}\n${w.output.slice(-4000)}`,
        );
      }
    }
  }

  /** Stops one worker with `signal` (SIGTERM: clean; SIGKILL: a crash) and returns how it went. */
  async stopWorker(w: WorkerProcess, signal: NodeJS.Signals): Promise<{ code: number | null; ms: number }> {
    this.#stopped.add(w);
    const exit = await w.stop(signal);
    return { code: exit.code, ms: exit.ms };
  }

  /**
   * Asks every process of `component` for its stats and collects the replies (until `expected`
   * arrived, or `timeoutMs`). With `gc`, each collects garbage first.
   */
  async stats<T extends WorkerStats = WorkerStats>(
    component: Component,
    opts: { expected?: number; gc?: boolean; timeoutMs?: number } = {},
  ): Promise<T[]> {
    const expected = opts.expected ?? this.running(component).length;
    const inbox = createInbox();
    const replies: T[] = [];
    const sub = this.nc.subscribe(inbox);
    const done = (async () => {
      for await (const m of sub) {
        replies.push(m.json<T>());
        if (replies.length >= expected) break;
      }
    })();
    const timer = setTimeout(() => sub.unsubscribe(), opts.timeoutMs ?? 5000);
    this.nc.publish(internalSubjects.stats(component), JSON.stringify({ gc: opts.gc === true }), {
      reply: inbox,
    });
    await done;
    clearTimeout(timer);
    sub.unsubscribe();
    return replies;
  }

  /** presence-actor stats from every running process (all of them, or it throws). */
  async actorStats(opts: { gc?: boolean; timeoutMs?: number } = {}): Promise<ActorStats[]> {
    const expected = this.running("presence-actor").length;
    const replies = await this.stats<ActorStats>("presence-actor", { ...opts, expected });
    if (replies.length < expected) {
      this.checkAlive();
      throw new Error(`only ${replies.length} of ${expected} presence-actor processes answered stats`);
    }
    return replies;
  }

  /** Commands applied by all presence-actor processes so far. */
  async applied(): Promise<number> {
    return sum(await this.actorStats({ timeoutMs: 10_000 }), "commands");
  }

  /** Users held by all presence-actor processes. */
  async users(): Promise<number> {
    return sum(await this.actorStats({ timeoutMs: 10_000 }), "users");
  }

  /**
   * What the gateway API reports in `$SRV.STATS.presence` (its counters, the appender's, its
   * view's); with several gateways, whichever answers first.
   */
  async gatewayData(): Promise<Record<string, unknown>> {
    const m = await this.nc.request(`$SRV.STATS.${SERVICE_NAME}`, "", { timeout: 5000 });
    const body = m.json<{ endpoints?: { data?: Record<string, unknown> }[] }>();
    return body.endpoints?.[0]?.data ?? {};
  }

  /** The gateway API's counters of plain-published commands (from `$SRV.STATS.presence`). */
  async gatewayPlainCounters(): Promise<{ appended: number; dropped: number; failed: number }> {
    const data = (await this.gatewayData()) as Record<string, number | undefined>;
    return {
      appended: data.plain_appended ?? 0,
      dropped: data.plain_dropped ?? 0,
      failed: data.plain_failed ?? 0,
    };
  }

  /**
   * Waits until `count` presence-actor processes answer, together hold every partition, each
   * holds its share (the leases have balanced) and every partition has caught up.
   */
  async waitActors(count: number, timeoutMs = 60_000): Promise<ActorStats[]> {
    const share = Math.floor(this.partitions / count);
    return waitFor(
      async () => {
        this.checkAlive();
        const replies = await this.stats<ActorStats>("presence-actor", { expected: count, timeoutMs: 2000 });
        if (replies.length < count) return false;
        const held = replies.reduce((n, r) => n + r.partitions.length, 0);
        const balanced = replies.every((r) => r.partitions.length >= share);
        const caught = sum(replies, "caught_up");
        return held === this.partitions && balanced && caught === this.partitions ? replies : false;
      },
      {
        timeoutMs,
        intervalMs: 100,
        what: `${count} presence-actor process(es) to own and catch up every partition`,
      },
    );
  }

  /** Waits until `count` processes of `component` answer stats. */
  async waitResponding(component: Component, count: number, timeoutMs = 30_000): Promise<void> {
    if (count === 0) return;
    await waitFor(
      async () => {
        this.checkAlive();
        return (await this.stats(component, { expected: count, timeoutMs: 1000 })).length >= count;
      },
      { timeoutMs, intervalMs: 100, what: `${count} ${component} process(es) to answer` },
    );
  }

  /** Waits until the gateway answers queries (its view of the projections is loaded). */
  async waitQueries(timeoutMs = 60_000): Promise<void> {
    await waitFor(
      async () => {
        this.checkAlive();
        const m = await this.nc.request(
          subjects.method("get_user_status"),
          JSON.stringify({ users: ["x"] }),
          {
            timeout: 1000,
          },
        );
        return m.string().startsWith('{"result"');
      },
      { timeoutMs, intervalMs: 200, what: "the gateway to answer queries" },
    );
  }

  async #stopWorkers(): Promise<void> {
    await Promise.all(
      this.workers.map(async (w) => {
        if (w.exited !== undefined) return;
        this.#stopped.add(w);
        // Clean stop first (fast for a small state); a worker that hangs is killed.
        const timer = setTimeout(() => w.proc.kill("SIGKILL"), 8000);
        await w.stop("SIGTERM");
        clearTimeout(timer);
      }),
    );
  }

  /** Writes each worker's output to {@link logDir}. */
  saveLogs(): void {
    mkdirSync(logDir, { recursive: true });
    const tag = this.label.replace(/[^a-z0-9]+/gi, "_");
    for (const w of this.workers) writeFileSync(join(logDir, `${tag}-${w.name}-${w.pid}.log`), w.output);
  }

  /** Stops every worker, then the server (removing its store); keeps the workers' logs. */
  async dispose(): Promise<void> {
    await this.#disposeWorkers();
    await this.#disposeServer();
  }
}
