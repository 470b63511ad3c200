/**
 * Herald workers as real processes: `node packages/<name>/dist/main.js` with an environment,
 * output captured, and stop/kill that report how the process ended.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Component } from "@herald/protocol";
import { StopWaiting } from "./errors.js";
import { waitFor } from "./wait.js";

/** A worker process name: the components of the protocol package. */
export type WorkerName = Component;

/** The repository root (testkit lives in packages/testkit/{src,dist}). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

/** The built entry point of a worker. */
export function workerEntry(name: WorkerName): string {
  return join(repoRoot, "packages", name, "dist", "main.js");
}

/**
 * Node flags a worker runs with, as `npm start` and docker-compose run it: presence-actor
 * holds every user of its partitions in its heap, and a larger young generation keeps short-
 * lived garbage out of the old one (major GC pauses at a million users are about halved).
 */
export function workerNodeFlags(name: WorkerName): string[] {
  return name === "presence-actor" ? ["--max-semi-space-size=64"] : [];
}

/** Workers still running; killed if the test process exits without disposing of them. */
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const proc of live) proc.kill("SIGKILL");
});

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export class WorkerProcess implements AsyncDisposable {
  #output = "";
  readonly #exit: Promise<Exit>;
  #exited: Exit | undefined;

  private constructor(
    readonly name: WorkerName,
    readonly proc: ChildProcess,
  ) {
    const collect = (chunk: Buffer) => {
      this.#output += chunk.toString("utf8");
    };
    proc.stdout?.on("data", collect);
    proc.stderr?.on("data", collect);
    this.#exit = new Promise((resolve) =>
      proc.once("exit", (code, signal) => {
        this.#exited = { code, signal };
        resolve(this.#exited);
      }),
    );
  }

  /**
   * Spawns a worker with `env` added to a minimal environment (PATH, HOME). Logs are JSON
   * (stdout is a pipe). The worker must have been built (`pnpm build`). A gateway listens for
   * HTTP on a free loopback port unless `env` says otherwise ({@link httpUrl} tells which).
   */
  static spawn(name: WorkerName, env: Record<string, string>): WorkerProcess {
    const entry = workerEntry(name);
    if (!existsSync(entry)) throw new Error(`${entry} does not exist: build the workers first (pnpm build)`);
    const http = name === "gateway" ? { HTTP_ADDR: "127.0.0.1:0" } : {};
    const proc = spawn(process.execPath, [...workerNodeFlags(name), entry], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...http, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    live.add(proc);
    proc.once("exit", () => live.delete(proc));
    return new WorkerProcess(name, proc);
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** Everything the process wrote so far. */
  get output(): string {
    return this.#output;
  }

  /** The exit, once it happened. */
  get exited(): Exit | undefined {
    return this.#exited;
  }

  /** Resolves when the process exits. */
  waitExit(): Promise<Exit> {
    return this.#exit;
  }

  /** Waits until the output matches `pattern` (fails early if the process exits first). */
  async waitForOutput(pattern: RegExp, timeoutMs = 15_000): Promise<void> {
    await waitFor(
      () => {
        if (pattern.test(this.#output)) return true;
        if (this.#exited !== undefined) {
          throw new StopWaiting(`${this.name} exited (${JSON.stringify(this.#exited)})`);
        }
        return false;
      },
      { timeoutMs, what: `${this.name} output ${pattern}` },
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n--- ${this.name} output ---\n${this.#output}`);
    });
  }

  /** The URL of the worker's HTTP listener (HTTP_ADDR, METRICS_ADDR), once it listens. */
  async httpUrl(timeoutMs = 15_000): Promise<string> {
    const pattern = /"url":"(http:\/\/[^"]+)","msg":"HTTP listening"/;
    await this.waitForOutput(pattern, timeoutMs);
    return (pattern.exec(this.#output) as RegExpExecArray)[1] as string;
  }

  /** Sends `signal` and waits for the exit; returns it with the time it took. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<Exit & { readonly ms: number }> {
    const t0 = Date.now();
    if (this.#exited === undefined) this.proc.kill(signal);
    const exit = await this.#exit;
    return { ...exit, ms: Date.now() - t0 };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#exited !== undefined) return;
    this.proc.kill("SIGKILL");
    await this.#exit;
  }
}
