/**
 * Requests to Herald's API (`subjects.method(name)`) for system tests, sent again until they
 * are answered: while nats-server nodes or workers die, a request may get no reply or a 503.
 */
import { subjects } from "@herald/protocol";
import type { NatsConnection } from "@nats-io/nats-core";

/** A reply of the API: a result, or an error with the contract's code. */
export interface ApiReply {
  readonly result?: Record<string, unknown>;
  readonly error?: { readonly code: number; readonly message: string };
}

export interface CallOptions {
  /** How long to wait for each reply (default 5 s). */
  readonly timeoutMs?: number;
  /** Give up (throw) when there is still no result after this long (default 60 s). */
  readonly giveUpMs?: number;
  /** Error codes answered that are sent again (default: 503, not ready or overloaded). */
  readonly retryCodes?: readonly number[];
  /** Told of every attempt that is sent again, with why. */
  readonly onRetry?: (why: string) => void;
}

/**
 * Sends `params` to the API method `method` until it is answered with a result, and returns it.
 * No reply (timeout, no responders, a dropped connection) and the `retryCodes` are sent again;
 * another error code throws at once. A command sent again after no reply may be stored twice,
 * so use it for commands that mean the same when applied twice.
 */
export async function callUntilAnswered(
  nc: NatsConnection,
  method: string,
  params: unknown,
  opts: CallOptions = {},
): Promise<Record<string, unknown>> {
  const timeout = opts.timeoutMs ?? 5000;
  const giveUpAt = Date.now() + (opts.giveUpMs ?? 60_000);
  const retryCodes = opts.retryCodes ?? [503];
  const body = JSON.stringify(params);
  for (let attempt = 1; ; attempt++) {
    let why = "no reply";
    let reply: ApiReply | undefined;
    try {
      reply = (await nc.request(subjects.method(method), body, { timeout })).json<ApiReply>();
    } catch (err) {
      why = err instanceof Error ? err.message : String(err);
    }
    if (reply !== undefined) {
      if (reply.error === undefined) return reply.result ?? {};
      why = `${reply.error.code} ${reply.error.message}`;
      if (!retryCodes.includes(reply.error.code)) throw new Error(`${method} ${body}: ${why}`);
    }
    if (Date.now() >= giveUpAt)
      throw new Error(`${method} ${body}: no result after ${attempt} tries: ${why}`);
    opts.onRetry?.(why);
    await new Promise((r) => setTimeout(r, Math.min(500, 25 * attempt)));
  }
}
