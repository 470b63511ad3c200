/**
 * The request-reply API over NATS (CONTRACT.md §4): a request on `presence.api.<method>` with
 * the params as JSON, answered `{"result": …}` or `{"error": {code, message}}`.
 */
import { subjects } from "@herald/contract";
import type { NatsConnection } from "@nats-io/nats-core";
import { ApiError, CliError } from "./errors.js";
import { natsErrorMessage } from "./nats.js";

interface Reply {
  result?: unknown;
  error?: { code?: unknown; message?: unknown };
}

/** Decodes a reply body; throws {@link ApiError} for an error reply. */
export function decodeReply(method: string, body: string): Record<string, unknown> {
  let reply: Reply;
  try {
    reply = JSON.parse(body) as Reply;
  } catch {
    throw new CliError(`${method}: the reply is not JSON: ${body.slice(0, 200)}`);
  }
  if (typeof reply !== "object" || reply === null)
    throw new CliError(`${method}: unexpected reply ${body.slice(0, 200)}`);
  if (reply.error !== undefined) {
    const code = typeof reply.error.code === "number" ? reply.error.code : 500;
    const message =
      typeof reply.error.message === "string" ? reply.error.message : JSON.stringify(reply.error);
    throw new ApiError(method, code, message);
  }
  if (typeof reply.result !== "object" || reply.result === null)
    throw new CliError(`${method}: the reply has no result: ${body.slice(0, 200)}`);
  return reply.result as Record<string, unknown>;
}

export class Api {
  constructor(
    readonly nc: NatsConnection,
    readonly timeoutMs: number,
    readonly user?: string,
  ) {}

  /** Calls `method`; resolves with its result, rejects with {@link ApiError} or {@link CliError}. */
  async call<T = Record<string, unknown>>(method: string, params: unknown): Promise<T> {
    const subject = subjects.method(method);
    let body: string;
    try {
      const m = await this.nc.request(subject, JSON.stringify(params), { timeout: this.timeoutMs });
      body = m.string();
    } catch (err) {
      throw new CliError(natsErrorMessage(err, subject, this.timeoutMs, this.user));
    }
    return decodeReply(method, body) as T;
  }
}
