/**
 * redis-server for the baselines: installed from apt when missing (the seed design Herald is
 * compared with), started on a free loopback port without persistence, stopped at cleanup.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { freePort, waitFor } from "@herald/testkit";
import { Redis } from "ioredis";
import { defer } from "./cleanup.js";

/** Where apt and manual installs put redis-server, beside PATH. */
const FALLBACK_DIRS = ["/usr/bin", "/usr/local/bin", "/usr/sbin"];

function findRedis(): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(":"), ...FALLBACK_DIRS].filter((d) => d !== "");
  for (const file of dirs.map((d) => `${d}/redis-server`)) {
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The redis-server binary, installed with apt-get (apt-get update first if that fails). */
export function ensureRedis(): string {
  const found = findRedis();
  if (found !== undefined) return found;
  process.stderr.write("redis-server is missing: installing it with apt-get (needs root)…\n");
  const install = () =>
    spawnSync("apt-get", ["install", "-y", "redis-server"], {
      stdio: ["ignore", "inherit", "inherit"],
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    }).status === 0;
  if (!install()) {
    spawnSync("apt-get", ["update"], { stdio: ["ignore", "inherit", "inherit"] });
    if (!install()) throw new Error("could not install redis-server: run `apt-get install -y redis-server`");
  }
  const installed = findRedis();
  if (installed === undefined) throw new Error("redis-server is still missing after apt-get install");
  return installed;
}

/** `redis-server --version`, e.g. "7.0.15". */
export function redisVersion(binary: string): string {
  const out = execFileSync(binary, ["--version"], { encoding: "utf8" });
  return /v=(\S+)/.exec(out)?.[1] ?? out.trim();
}

/** One redis-server process on loopback. */
export class RedisServer {
  private constructor(
    readonly port: number,
    readonly version: string,
    readonly stop: () => Promise<void>,
  ) {}

  static async start(): Promise<RedisServer> {
    const binary = ensureRedis();
    const port = await freePort();
    const proc: ChildProcess = spawn(
      binary,
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--loglevel",
        "warning",
      ],
      { stdio: ["ignore", "ignore", "inherit"] },
    );
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    const stop = defer("redis-server", async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    });
    await waitFor(
      async () => {
        const r = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0 });
        r.on("error", () => undefined); // refused until the server listens: try again
        try {
          await r.connect();
          return (await r.ping()) === "PONG";
        } finally {
          r.disconnect();
        }
      },
      { timeoutMs: 10_000, what: "redis-server to answer PING" },
    );
    return new RedisServer(port, redisVersion(binary), stop);
  }
}
