/**
 * A Herald deployment for the robustness tools (test/fuzz.test.ts, `pnpm fuzz`, `pnpm soak`):
 * a real nats-server (testkit, temp store) and the three workers as separate processes
 * (testkit `WorkerProcess`), plus connections "as" a given NATS user, the processes' RSS and
 * their `herald.admin.stats.<component>` answers.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { COMPONENTS, type Component, internalSubjects, subjects } from "@herald/protocol";
import { NatsServer, type NatsUser, StopWaiting, WorkerProcess, waitFor } from "@herald/testkit";
import { type ConnectionOptions, createInbox, type NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";

/**
 * Whether the server runs with one NATS user per component (nats-auth.conf, the testkit's
 * `auth: true`): the one line to change to run without. Every connection below connects as the
 * user named where it is opened — workers with `urlFor(user)` in NATS_URL, the tools' own
 * connections with `optionsFor(user)` (credentials and the user's inbox prefix) — so garbage
 * reaches a subject only from a user allowed to publish there.
 */
export const AUTH: boolean = true;

/** Who a connection acts as: a component, an API client, or an operator (stats requests). */
export type { NatsUser };

export interface StackOptions {
  /** HERALD_PARTITIONS (the same for every process). */
  readonly partitions: number;
  /** Extra worker environment (every process). */
  readonly env?: Readonly<Record<string, string>>;
  /** Extra lines of the server's configuration (e.g. a larger max_payload). */
  readonly serverConfig?: string;
  /**
   * The gateway's HTTP API (CONTRACT.md §7) on a free loopback port, with this HTTP_API_KEY;
   * {@link Stack.httpUrl} tells where. (The gateway then logs at info at least: that is where
   * it says which port it took.)
   */
  readonly http?: { readonly apiKey: string };
}

/**
 * The environment of workers under fuzz or soak: rate limits far above what the tools send
 * (a 429 would hide what comes after the limiter), logs as JSON, warnings and up.
 */
export const TOOL_ENV: Readonly<Record<string, string>> = {
  LOG_FORMAT: "json",
  LOG_LEVEL: "warn",
  HERALD_USER_RATE: "1000000",
  HERALD_CLIENT_RATE: "10000000",
};

/** A process's resident set size in bytes (Linux /proc), or undefined when it is gone. */
export function rssOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/** What a worker answers on `herald.admin.stats.<component>` (runtime/worker.ts). */
export interface WorkerStats {
  readonly component: string;
  readonly pid: number;
  readonly memory: NodeJS.MemoryUsage;
  readonly gc: boolean;
  readonly [counter: string]: unknown;
}

export class Stack implements AsyncDisposable {
  readonly workers: WorkerProcess[] = [];
  readonly #conns: NatsConnection[] = [];

  private constructor(
    readonly server: NatsServer,
    readonly env: Readonly<Record<string, string>>,
    /** The tools' own client connection (as `client`). */
    readonly nc: NatsConnection,
    /** An operator's connection (as `admin`): stats requests. */
    readonly admin: NatsConnection,
  ) {}

  /** Starts nats-server and one of each worker, and waits until they serve. */
  static async start(opts: StackOptions): Promise<Stack> {
    const server = await NatsServer.start({
      auth: AUTH,
      ...(opts.serverConfig !== undefined ? { extraConfig: opts.serverConfig } : {}),
    });
    let stack: Stack | undefined;
    try {
      const nc = await connect({ ...optionsFor(server, "client"), name: "herald-tools" });
      const admin = await connect({ ...optionsFor(server, "admin"), name: "herald-tools-admin" });
      const env: Record<string, string> = {
        ...TOOL_ENV,
        ...opts.env,
        HERALD_PARTITIONS: String(opts.partitions),
      };
      stack = new Stack(server, env, nc, admin);
      stack.#conns.push(nc, admin);
      for (const name of COMPONENTS) {
        const http =
          name === "gateway" && opts.http !== undefined
            ? {
                HTTP_ADDR: "127.0.0.1:0",
                HTTP_API_KEY: opts.http.apiKey,
                ...(["info", "debug", "trace"].includes(env.LOG_LEVEL ?? "") ? {} : { LOG_LEVEL: "info" }),
              }
            : {};
        stack.workers.push(WorkerProcess.spawn(name, { ...env, ...http, NATS_URL: urlFor(server, name) }));
      }
      await stack.waitReady(opts.partitions);
      return stack;
    } catch (err) {
      if (stack !== undefined) await stack[Symbol.asyncDispose]();
      else await server[Symbol.asyncDispose]();
      throw err;
    }
  }

  /** The gateway's HTTP listener, `http://127.0.0.1:<port>` (with the `http` option). */
  async httpUrl(): Promise<string> {
    const gateway = this.workers.find((w) => w.name === "gateway");
    if (gateway === undefined) throw new Error("no gateway");
    return gateway.httpUrl();
  }

  /** The URL a process acting as `user` connects with. */
  urlFor(user: NatsUser): string {
    return urlFor(this.server, user);
  }

  /** A new connection acting as `user` (closed with the stack). */
  async connectAs(user: NatsUser, name = `herald-tools-${user}`): Promise<NatsConnection> {
    const nc = await connect({ ...optionsFor(this.server, user), name });
    this.#conns.push(nc);
    return nc;
  }

  /** The workers that exited, each with how, and the end of its output. */
  exited(): string[] {
    return this.workers
      .filter((w) => w.exited !== undefined)
      .map((w) => `${w.name} (pid ${w.pid}) exited ${JSON.stringify(w.exited)}:\n${w.output.slice(-3000)}`);
  }

  /** Throws when a worker exited (for `waitFor` probes). */
  checkAlive(): void {
    const gone = this.exited();
    if (gone.length > 0) throw new StopWaiting(gone.join("\n"));
  }

  /** The server's log lines that report a permissions violation (none without auth). */
  violations(): string[] {
    return AUTH ? this.server.permissionViolations() : [];
  }

  /** Writes each worker's output and the server's log to `dir`; returns the files. */
  saveLogs(dir: string): string[] {
    mkdirSync(dir, { recursive: true });
    const files = this.workers.map((w) => {
      const file = join(dir, `${w.name}-${w.pid}.log`);
      writeFileSync(file, w.output);
      return file;
    });
    const server = join(dir, "nats-server.log");
    writeFileSync(server, this.server.log());
    return [...files, server];
  }

  /** RSS of nats-server and of every worker, by name. */
  rss(): Record<string, number | undefined> {
    const out: Record<string, number | undefined> = { "nats-server": rssOf(this.server.pid) };
    for (const w of this.workers) out[w.name] = rssOf(w.pid);
    return out;
  }

  /**
   * Every process of `component` answers with its counters and memory; `gc` collects garbage
   * first (when it runs with --expose-gc). Resolves with the replies that came within
   * `timeoutMs`.
   */
  async stats(component: Component, opts: { gc?: boolean; timeoutMs?: number } = {}): Promise<WorkerStats[]> {
    const expected = this.workers.filter((w) => w.name === component && w.exited === undefined).length;
    const inbox = createInbox(optionsFor(this.server, "admin").inboxPrefix);
    const replies: WorkerStats[] = [];
    const sub = this.admin.subscribe(inbox);
    const timer = setTimeout(() => sub.unsubscribe(), opts.timeoutMs ?? 5000);
    const done = (async () => {
      for await (const m of sub) {
        replies.push(m.json<WorkerStats>());
        if (replies.length >= expected) break;
      }
    })();
    this.admin.publish(internalSubjects.stats(component), JSON.stringify({ gc: opts.gc === true }), {
      reply: inbox,
    });
    await done;
    clearTimeout(timer);
    sub.unsubscribe();
    return replies;
  }

  /**
   * Waits until presence-actor owns and has caught up with every partition, status-projector
   * answers, and the gateway answers queries (its view is loaded).
   */
  async waitReady(partitions: number, timeoutMs = 60_000): Promise<void> {
    await waitFor(
      async () => {
        this.checkAlive();
        const [actor] = await this.stats("presence-actor", { timeoutMs: 1000 });
        const held = (actor?.partitions as number[] | undefined)?.length ?? 0;
        return held === partitions && actor?.caught_up === partitions;
      },
      { timeoutMs, intervalMs: 100, what: `presence-actor to own and catch up ${partitions} partitions` },
    );
    await waitFor(
      async () => {
        this.checkAlive();
        return (await this.stats("status-projector", { timeoutMs: 1000 })).length === 1;
      },
      { timeoutMs, intervalMs: 100, what: "status-projector to answer" },
    );
    await waitFor(
      async () => {
        this.checkAlive();
        const m = await this.nc.request(subjects.method("get_user_status"), '{"users":["x"]}', {
          timeout: 1000,
        });
        return m.string().startsWith('{"result"');
      },
      { timeoutMs, intervalMs: 100, what: "the gateway to answer queries" },
    );
  }

  /** Stops the workers (SIGTERM; SIGKILL after 10 s), closes the connections, stops the server. */
  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all(
      this.workers.map(async (w) => {
        if (w.exited !== undefined) return;
        const timer = setTimeout(() => w.proc.kill("SIGKILL"), 10_000);
        await w.stop("SIGTERM");
        clearTimeout(timer);
      }),
    );
    await Promise.all(this.#conns.map((nc) => nc.close().catch(() => undefined)));
    await this.server[Symbol.asyncDispose]();
  }
}

function urlFor(server: NatsServer, user: NatsUser): string {
  return AUTH ? server.urlFor(user) : server.url;
}

function optionsFor(server: NatsServer, user: NatsUser): ConnectionOptions {
  return AUTH ? server.optionsFor(user) : { servers: server.url };
}
