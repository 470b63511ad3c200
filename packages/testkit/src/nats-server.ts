/**
 * Real nats-server processes for tests: one server with JetStream on a random loopback port and
 * a temporary store, a 3-node JetStream cluster, and restarts that keep the store. Started from
 * `nats-server` on PATH; disposed of with `await using` or `stop()`. With `auth: true` a server
 * runs with the repository's users and permissions (nats-auth.conf) and random passwords.
 */
import { type ChildProcess, spawn } from "node:child_process";
import {
  accessSync,
  constants,
  createWriteStream,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join, relative } from "node:path";
import { type NatsUser, natsAuthConf, passwordVariable, testCredentials } from "./auth.js";
import { NatsServerMissingError, StopWaiting } from "./errors.js";
import { waitFor } from "./wait.js";

/** Where Debian and manual installs put nats-server, which may not be on a user's PATH. */
const FALLBACK_DIRS = ["/usr/sbin", "/usr/local/sbin", "/usr/local/bin"];

/**
 * The path of `nats-server` on `pathEnv` (default: this process's PATH), else in the usual
 * system directories; throws {@link NatsServerMissingError} when it is not installed.
 */
export function natsServerBinary(
  pathEnv: string = process.env.PATH ?? "",
  fallbackDirs: readonly string[] = FALLBACK_DIRS,
): string {
  for (const dir of [...pathEnv.split(delimiter), ...fallbackDirs]) {
    if (dir === "") continue;
    const candidate = join(dir, "nats-server");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new NatsServerMissingError();
}

/** A TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface NatsServerOptions {
  /** Client port; default: any free port. Kept across restarts. */
  readonly port?: number;
  /** JetStream store directory; default: a new temp dir, removed on dispose. */
  readonly storeDir?: string;
  readonly serverName?: string;
  /** Cluster membership (for {@link NatsCluster}). */
  readonly cluster?: { readonly name: string; readonly port: number; readonly routes: readonly number[] };
  /** Extra lines appended to the generated config. */
  readonly extraConfig?: string;
  /** How long to wait for readiness (default 15 s). */
  readonly readyTimeoutMs?: number;
  /**
   * Run with the users and permissions of nats-auth.conf (included from the repository root)
   * and a random password for each user, kept across restarts; connect with
   * {@link NatsServer.urlFor}. Anonymous connections are refused. Default: no auth.
   */
  readonly auth?: boolean;
}

/** Servers still running; killed if the test process exits without disposing of them. */
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const proc of live) proc.kill("SIGKILL");
});

interface Ports {
  nats: string[];
  monitoring?: string[];
}

/** One nats-server process with JetStream. */
export class NatsServer implements AsyncDisposable {
  #proc: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #port: number;
  #monitorPort = 0;
  readonly dir: string;
  readonly storeDir: string;
  readonly #opts: NatsServerOptions;
  readonly #credentials: Readonly<Record<NatsUser, string>> | undefined;

  private constructor(opts: NatsServerOptions) {
    this.#opts = opts;
    this.#port = opts.port ?? -1;
    this.#credentials = opts.auth === true ? testCredentials() : undefined;
    this.dir = mkdtempSync(join(tmpdir(), "herald-nats-"));
    this.storeDir = opts.storeDir ?? join(this.dir, "jetstream");
  }

  /** Starts a server and waits until it accepts clients and JetStream is ready. */
  static async start(opts: NatsServerOptions = {}): Promise<NatsServer> {
    natsServerBinary();
    const server = new NatsServer(opts);
    try {
      await server.#launch();
    } catch (err) {
      await server[Symbol.asyncDispose]();
      throw err;
    }
    return server;
  }

  get port(): number {
    return this.#port;
  }

  /** `nats://127.0.0.1:<port>`. */
  get url(): string {
    return `nats://127.0.0.1:${this.#port}`;
  }

  /** Each user's password (a server started with `auth: true`; throws otherwise). */
  get credentials(): Readonly<Record<NatsUser, string>> {
    if (this.#credentials === undefined)
      throw new Error("this nats-server runs without auth (start it with auth: true)");
    return this.#credentials;
  }

  /** `nats://<user>:<password>@127.0.0.1:<port>`: a URL that connects as `user`. */
  urlFor(user: NatsUser): string {
    const password = this.credentials[user];
    if (password === undefined) throw new Error(`nats-auth.conf has no user ${JSON.stringify(user)}`);
    return `nats://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${this.#port}`;
  }

  /**
   * Connection options of nats.js as `user` (nats.js takes no credentials from a URL; the
   * workers do, from `NATS_URL`: {@link urlFor}), with the inbox prefix nats-auth.conf gives
   * that user (`_INBOX_<user>`; applications, `client`, keep the default `_INBOX`).
   */
  optionsFor(user: NatsUser): { servers: string; user: string; pass: string; inboxPrefix?: string } {
    const opts = { servers: this.url, user, pass: this.credentials[user] };
    return user === "client" ? opts : { ...opts, inboxPrefix: `_INBOX_${user}` };
  }

  /**
   * The lines of the server's log that report a permissions violation ("Publish Violation",
   * "Subscription Violation"; "Permissions Violation" in other versions of nats-server).
   */
  permissionViolations(): string[] {
    return this.log()
      .split("\n")
      .filter((line) => /\b(Publish|Subscription|Permissions) Violation\b/.test(line));
  }

  get running(): boolean {
    return this.#proc !== undefined;
  }

  get pid(): number | undefined {
    return this.#proc?.pid;
  }

  /** The server's own log (stdout and stderr). */
  log(): string {
    const file = join(this.dir, "server.log");
    return existsSync(file) ? readFileSync(file, "utf8") : "";
  }

  #config(): string {
    const lines = [
      `listen: 127.0.0.1:${this.#port}`,
      "http: 127.0.0.1:-1",
      `ports_file_dir: ${JSON.stringify(this.dir)}`,
      `server_name: ${JSON.stringify(this.#opts.serverName ?? `herald-test-${process.pid}`)}`,
      "jetstream {",
      `  store_dir: ${JSON.stringify(this.storeDir)}`,
      "  max_memory_store: 268435456",
      "  max_file_store: 17179869184",
      "}",
    ];
    const cluster = this.#opts.cluster;
    if (cluster !== undefined) {
      lines.push(
        "cluster {",
        `  name: ${JSON.stringify(cluster.name)}`,
        `  listen: 127.0.0.1:${cluster.port}`,
        `  routes: [${cluster.routes.map((p) => JSON.stringify(`nats-route://127.0.0.1:${p}`)).join(", ")}]`,
        "}",
      );
    }
    // nats-server resolves an include relative to the including file, even an absolute path.
    if (this.#credentials !== undefined)
      lines.push(`include ${JSON.stringify(relative(this.dir, natsAuthConf()))}`);
    if (this.#opts.extraConfig !== undefined) lines.push(this.#opts.extraConfig);
    return `${lines.join("\n")}\n`;
  }

  async #launch(): Promise<void> {
    for (const f of readdirSync(this.dir)) if (f.endsWith(".ports")) rmSync(join(this.dir, f));
    const confFile = join(this.dir, "server.conf");
    writeFileSync(confFile, this.#config());
    const out = createWriteStream(join(this.dir, "server.log"), { flags: "a" });
    const passwords = Object.entries(this.#credentials ?? {}).map(([user, pass]) => [
      passwordVariable(user),
      pass,
    ]);
    const proc = spawn(natsServerBinary(), ["-c", confFile], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...Object.fromEntries(passwords) },
    });
    proc.stdout?.pipe(out);
    proc.stderr?.pipe(out);
    this.#proc = proc;
    live.add(proc);
    this.#exited = new Promise((resolve) => {
      const gone = () => {
        live.delete(proc);
        if (this.#proc === proc) this.#proc = undefined;
        resolve();
      };
      proc.once("exit", gone);
      // A spawn failure (no binary, no permission) ends the process too.
      proc.once("error", (err) => {
        out.write(`spawn failed: ${err.message}\n`);
        gone();
      });
    });
    const timeoutMs = this.#opts.readyTimeoutMs ?? 15_000;
    const ports = await waitFor(
      () => {
        if (this.#proc !== proc) throw new StopWaiting(`nats-server exited during start:\n${this.log()}`);
        const file = readdirSync(this.dir).find((f) => f.endsWith(`_${proc.pid}.ports`));
        return file === undefined
          ? undefined
          : (JSON.parse(readFileSync(join(this.dir, file), "utf8")) as Ports);
      },
      { timeoutMs, what: "nats-server ports file" },
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n--- server log ---\n${this.log()}`);
    });
    this.#port = Number(new URL(ports.nats[0] ?? "").port);
    this.#monitorPort = Number(new URL(ports.monitoring?.[0] ?? "").port);
    if (this.#opts.cluster === undefined) await this.waitHealthy(timeoutMs);
  }

  /** Waits until the server's `/healthz` reports JetStream healthy. */
  async waitHealthy(timeoutMs = 15_000): Promise<void> {
    await waitFor(
      async () => {
        const res = await fetch(`http://127.0.0.1:${this.#monitorPort}/healthz`);
        return res.ok;
      },
      { timeoutMs, what: `nats-server on port ${this.#port} to be healthy` },
    );
  }

  /** Stops the server (SIGTERM, then SIGKILL after 5 s). The store is kept. */
  async stop(): Promise<void> {
    const proc = this.#proc;
    if (proc === undefined) return;
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
    await this.#exited;
    clearTimeout(timer);
  }

  /** Kills the server at once (SIGKILL), as a crash would. The store is kept. */
  async kill(): Promise<void> {
    const proc = this.#proc;
    if (proc === undefined) return;
    proc.kill("SIGKILL");
    await this.#exited;
  }

  /** Starts the server again on the same port with the same store. */
  async start(): Promise<void> {
    if (this.#proc !== undefined) throw new Error("nats-server is already running");
    await this.#launch();
  }

  /** Stops and starts again on the same port with the same store. */
  async restart(): Promise<void> {
    await this.stop();
    await this.#launch();
  }

  /** Stops the server and removes its temp dir; a store dir given by the caller is kept. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A 3-node (or n-node) JetStream cluster on loopback. */
export class NatsCluster implements AsyncDisposable {
  private constructor(readonly servers: readonly NatsServer[]) {}

  /**
   * Starts `size` nodes. Their ports are chosen before the nodes bind them (the routes name
   * them), so another process may take one in between: then the nodes are stopped and started
   * again on other ports (up to three times, and only for that).
   */
  static async start(size = 3, opts: { readonly readyTimeoutMs?: number } = {}): Promise<NatsCluster> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await NatsCluster.#startOnce(size, opts);
      } catch (err) {
        if (attempt >= 3 || !/address already in use/.test((err as Error).message)) throw err;
      }
    }
  }

  static async #startOnce(size: number, opts: { readonly readyTimeoutMs?: number }): Promise<NatsCluster> {
    const clientPorts: number[] = [];
    const clusterPorts: number[] = [];
    for (let i = 0; i < size; i++) {
      clientPorts.push(await freePort());
      clusterPorts.push(await freePort());
    }
    const name = `herald-${process.pid}-${clientPorts[0]}`;
    const servers: NatsServer[] = [];
    try {
      const started = await Promise.allSettled(
        clientPorts.map((port, i) =>
          NatsServer.start({
            port,
            serverName: `n${i}`,
            cluster: {
              name,
              port: clusterPorts[i] as number,
              routes: clusterPorts.filter((_, j) => j !== i),
            },
          }),
        ),
      );
      // Every node that did start is stopped again if another failed.
      for (const r of started) if (r.status === "fulfilled") servers.push(r.value);
      const failed = started.find((r) => r.status === "rejected");
      if (failed !== undefined) throw failed.reason;
      const cluster = new NatsCluster(servers);
      await cluster.waitHealthy(opts.readyTimeoutMs ?? 30_000);
      return cluster;
    } catch (err) {
      await Promise.all(servers.map((s) => s[Symbol.asyncDispose]()));
      throw err;
    }
  }

  /** Client URLs of every node. */
  get urls(): string[] {
    return this.servers.map((s) => s.url);
  }

  server(i: number): NatsServer {
    const s = this.servers[i];
    if (s === undefined) throw new RangeError(`no node ${i}`);
    return s;
  }

  /** Waits until every running node reports JetStream healthy (a meta leader is elected). */
  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    await Promise.all(this.servers.filter((s) => s.running).map((s) => s.waitHealthy(timeoutMs)));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all(this.servers.map((s) => s[Symbol.asyncDispose]()));
  }
}
