/**
 * What a long-running command (watch, top, simulate) needs to end well: Ctrl-C and SIGTERM as
 * a promise, and connection trouble reported while it runs.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { Context } from "./context.js";

/** Resolves on SIGINT or SIGTERM (Ctrl-C), and stops listening for them. */
export function untilSignal(): { promise: Promise<string>; cancel(): void } {
  let done: (signal: string) => void = () => {};
  const promise = new Promise<string>((resolve) => {
    done = resolve;
  });
  const onInt = () => done("SIGINT");
  const onTerm = () => done("SIGTERM");
  process.once("SIGINT", onInt);
  process.once("SIGTERM", onTerm);
  return {
    promise,
    cancel() {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
    },
  };
}

/** Reports connection trouble of a long-running command on stderr. */
export function reportStatus(nc: NatsConnection, ctx: Context): void {
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") ctx.err(`herald: disconnected from ${s.server}; reconnecting…`);
      else if (s.type === "reconnect") ctx.err(`herald: reconnected to ${s.server}`);
    }
  })();
}
