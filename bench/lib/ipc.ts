/**
 * Helper processes of the bench (load generators, subscribers, the naive baseline) run as
 * separate Node processes, so the load they make and the time they spend do not share the
 * bench's event loop. They are TypeScript files in bench/procs run through tsx and answer
 * calls over Node's IPC channel: the child `serve`s an object of handlers and exports its type,
 * the parent `spawn`s it and `call`s those handlers with type checking.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { defer } from "./cleanup.js";

/** The handlers a helper process serves. */
// biome-ignore lint/suspicious/noExplicitAny: handler parameters are checked at the call site
export type Handlers = Record<string, (params: any) => unknown>;

interface Request {
  readonly id?: number;
  readonly method: string;
  readonly params: unknown;
}

type Reply =
  | { readonly id: number; readonly result: unknown }
  | { readonly id: number; readonly error: string };

/** The repository root (this file is bench/lib/ipc.ts). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** In a helper process: answers the parent's calls with `handlers`; exits when the parent goes. */
export function serve(handlers: Handlers): void {
  const send = process.send?.bind(process);
  if (send === undefined) throw new Error("a bench helper must be started by the bench (no IPC channel)");
  process.on("message", (msg: Request) => {
    const handler = handlers[msg.method];
    void (async () => {
      try {
        if (handler === undefined) throw new Error(`unknown method ${msg.method}`);
        const result = await handler(msg.params);
        if (msg.id !== undefined) send({ id: msg.id, result: result ?? null } satisfies Reply);
      } catch (err) {
        if (msg.id !== undefined)
          send({ id: msg.id, error: (err as Error).stack ?? String(err) } satisfies Reply);
        else process.stderr.write(`${(err as Error).stack}\n`);
      }
    })();
  });
  process.on("disconnect", () => process.exit(0));
  send({ ready: true });
}

type Params<F> = F extends (params: infer P) => unknown ? P : never;
type Result<F> = F extends (...args: never[]) => infer R ? Awaited<R> : never;

/** A running helper process, seen from the bench. */
export class Child<H extends Handlers> {
  #next = 1;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly #exit: Promise<void>;
  #exited = false;
  readonly #dispose: () => Promise<void>;

  private constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    proc.on("message", (msg: Reply | { ready: true }) => {
      if (!("id" in msg)) return;
      const waiter = this.#pending.get(msg.id);
      if (waiter === undefined) return;
      this.#pending.delete(msg.id);
      if ("error" in msg) waiter.reject(new Error(`${name}: ${msg.error}`));
      else waiter.resolve(msg.result);
    });
    this.#exit = new Promise((resolve) =>
      proc.once("exit", (code, signal) => {
        this.#exited = true;
        for (const w of this.#pending.values()) w.reject(new Error(`${name} exited (${code ?? signal})`));
        this.#pending.clear();
        resolve();
      }),
    );
    this.#dispose = defer(`helper ${name}`, () => this.#kill());
  }

  /**
   * Starts `bench/procs/<script>.ts` and waits until it serves. `nodeArgs` go before the script
   * (for example `--expose-gc`).
   */
  static async spawn<H extends Handlers>(
    script: string,
    nodeArgs: readonly string[] = [],
  ): Promise<Child<H>> {
    const file = join(repoRoot, "bench", "procs", `${script}.ts`);
    const proc = spawn(process.execPath, [...nodeArgs, "--import", "tsx", file], {
      cwd: repoRoot,
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const child = new Child<H>(script, proc);
    await new Promise<void>((resolve, reject) => {
      const onMessage = (msg: unknown) => {
        if (typeof msg === "object" && msg !== null && "ready" in msg) {
          proc.off("message", onMessage);
          resolve();
        }
      };
      proc.on("message", onMessage);
      proc.once("exit", (code) => reject(new Error(`helper ${script} exited during start (${code})`)));
    });
    return child;
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** Calls a handler of the helper and waits for its result. */
  call<M extends keyof H & string>(method: M, params?: Params<H[M]>): Promise<Result<H[M]>> {
    if (this.#exited) return Promise.reject(new Error(`${this.name} has exited`));
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send({ id, method, params } satisfies Request);
    });
  }

  /** Calls a handler without waiting for (or getting) a result. */
  notify<M extends keyof H & string>(method: M, params?: Params<H[M]>): void {
    if (!this.#exited) this.proc.send({ method, params } satisfies Request);
  }

  /** Stops the helper (it exits when its IPC channel closes; SIGKILL after 5 s). */
  stop(): Promise<void> {
    return this.#dispose();
  }

  async #kill(): Promise<void> {
    if (this.#exited) return;
    if (this.proc.connected) this.proc.disconnect();
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), 5000);
    await this.#exit;
    clearTimeout(timer);
  }
}
