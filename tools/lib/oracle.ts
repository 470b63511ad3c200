/**
 * Sends an API input and judges its answer (CONTRACT.md §4): a reply must come within a bound;
 * it is `{"result": …}` of the method's shape, or `{"error": {code, message}}` with the
 * micro-service error headers; never a 500; for an input with one thing wrong, the code
 * expected and a message that names the field or the rule; for a valid one, its result or a
 * refusal the state may give (409, 413, 429 decided by the user's owner).
 */
import { compile, schemas } from "@herald/protocol";
import type { MsgHdrs, NatsConnection } from "@nats-io/nats-core";
import { type ApiInput, bodyBytes, COMMANDS, METHODS, type Mention, type Method } from "./inputs.js";

/** What came back for one request. */
export interface Answer {
  /** The reply body, or undefined when none came (then `why`). */
  readonly data?: Uint8Array;
  readonly headers?: MsgHdrs;
  readonly why?: string;
  readonly ms: number;
}

/** Sends `input` as a request on `presence.api.<method>` and waits at most `timeoutMs`. */
export async function ask(nc: NatsConnection, input: ApiInput, timeoutMs: number): Promise<Answer> {
  const t0 = performance.now();
  try {
    const m = await nc.request(`presence.api.${input.method}`, bodyBytes(input), { timeout: timeoutMs });
    return {
      data: m.data,
      ...(m.headers !== undefined ? { headers: m.headers } : {}),
      ms: performance.now() - t0,
    };
  } catch (err) {
    return { why: (err as Error).message, ms: performance.now() - t0 };
  }
}

export type ProblemKind = "no-reply" | "500" | "wrong";

export interface Judgement {
  /** `result`, the error code, or `none` (no reply). */
  readonly outcome: "result" | "none" | number;
  readonly problem?: { readonly kind: ProblemKind; readonly detail: string };
}

const empty = compile(schemas.EmptyResult);
const RESULTS: Readonly<Record<string, { explain(v: unknown, at?: string): string | undefined }>> = {
  get_user_status: compile(schemas.GetUserStatusResult),
  presence: compile(schemas.PresenceResult),
  presence_stats: compile(schemas.PresenceStatsResult),
  channel_users: compile(schemas.ChannelUsersResult),
  user_channels: compile(schemas.UserChannelsResult),
  is_present: compile(schemas.IsPresentResult),
  history: compile(schemas.HistoryResult),
  status_at: compile(schemas.StatusAtResult),
};

/** Refusals a valid request may get from the state it meets, or from the rate limits. */
function stateRefusal(method: string, code: number): Mention | undefined {
  const re = (r: RegExp): Mention => ({ text: String(r), test: (m) => r.test(m) });
  if (code === 429) {
    return method === "join" || method === "update"
      ? re(/HERALD_MAX_CONNS_PER_USER|HERALD_USER_RATE|HERALD_CLIENT_RATE/)
      : re(/HERALD_USER_RATE|HERALD_CLIENT_RATE/);
  }
  if (code === 413 && method === "join") return re(/HERALD_MAX_CHANNELS_PER_CONN/);
  if (code === 409 && method === "update") return re(/has not joined/);
  // A query's reply that would not fit in one message.
  if (code === 413 && !COMMANDS.includes(method as (typeof COMMANDS)[number])) return re(/reply/);
  return undefined;
}

/** The longest message an error may have (echoed input is cut to 120 characters). */
const MESSAGE_MAX_CHARS = 1200;

function parseParams(input: ApiInput): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(typeof input.body === "string" ? input.body : new TextDecoder().decode(input.body));
    return typeof v === "object" && v !== null && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** A problem with a result of `method` for `input`, or undefined when it is what the contract says. */
function checkResult(input: ApiInput, result: unknown): string | undefined {
  const method = input.method as Method;
  if (COMMANDS.includes(method as (typeof COMMANDS)[number])) {
    const problem = empty.explain(result, "result");
    return problem === undefined ? undefined : `a command's result must be {}: ${problem}`;
  }
  const problem = RESULTS[method]?.explain(result, "result");
  if (problem !== undefined) return problem;
  if (method === "get_user_status" || method === "status_at") {
    const asked = parseParams(input)?.users as string[] | undefined;
    const got = (result as { statuses: { user: string }[] }).statuses.map((s) => s.user);
    if (asked !== undefined && JSON.stringify(asked) !== JSON.stringify(got)) {
      return `statuses are not the users asked for, in order: asked ${asked.length}, got ${got.length}`;
    }
  }
  return undefined;
}

export interface JudgeOptions {
  /**
   * Whether an error reply must carry the micro-service error headers (default true: over
   * NATS). Over HTTP the body is the same JSON and there are no such headers.
   */
  readonly natsHeaders?: boolean;
}

export function judge(input: ApiInput, answer: Answer, opts: JudgeOptions = {}): Judgement {
  const natsHeaders = opts.natsHeaders ?? true;
  if (answer.data === undefined) {
    return {
      outcome: "none",
      problem: { kind: "no-reply", detail: `no reply after ${Math.round(answer.ms)} ms: ${answer.why}` },
    };
  }
  let reply: { result?: unknown; error?: { code?: unknown; message?: unknown } };
  try {
    reply = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(answer.data));
  } catch {
    return { outcome: "none", problem: { kind: "wrong", detail: "the reply is not UTF-8 JSON" } };
  }
  const wrong = (outcome: Judgement["outcome"], detail: string): Judgement => ({
    outcome,
    problem: { kind: "wrong", detail },
  });
  if (typeof reply !== "object" || reply === null || "result" in reply === "error" in reply) {
    return wrong("none", "the reply has not exactly one of result and error");
  }
  if (reply.error === undefined) {
    if (natsHeaders && answer.headers?.get("Nats-Service-Error-Code"))
      return wrong("result", "a result with an error header");
    const problem = input.expect.kind === "answered" ? undefined : checkResult(input, reply.result);
    if (problem !== undefined) return wrong("result", problem);
    if (input.expect.kind === "invalid") {
      return wrong(
        "result",
        `answered with a result; expected ${input.expect.codes.join("/")} naming ${input.expect.mention.text}`,
      );
    }
    return { outcome: "result" };
  }
  const { code, message } = reply.error;
  if (typeof code !== "number" || typeof message !== "string" || message.length === 0) {
    return wrong("none", "error without a numeric code and a message");
  }
  if (code === 500) return { outcome: 500, problem: { kind: "500", detail: message } };
  if (
    natsHeaders &&
    (answer.headers?.get("Nats-Service-Error-Code") !== String(code) ||
      !answer.headers?.get("Nats-Service-Error"))
  ) {
    return wrong(code, "the error headers do not carry the code and the message");
  }
  if (message.length > MESSAGE_MAX_CHARS) return wrong(code, `a message of ${message.length} characters`);
  const expect = input.expect;
  switch (expect.kind) {
    case "invalid":
      if (!expect.codes.includes(code))
        return wrong(code, `${code} ${message}; expected ${expect.codes.join("/")}`);
      if (!expect.mention.test(message))
        return wrong(code, `${code} ${message}; the message does not name ${expect.mention.text}`);
      return { outcome: code };
    case "valid": {
      const allowed = stateRefusal(input.method, code);
      if (allowed === undefined || !allowed.test(message))
        return wrong(code, `a valid request refused: ${code} ${message}`);
      return { outcome: code };
    }
    case "answered":
    case "any": {
      const ok =
        [400, 404, 409, 413, 429].includes(code) && (code !== 404 || !METHODS.includes(input.method));
      return ok ? { outcome: code } : wrong(code, `${code} ${message}`);
    }
  }
}

/** A short printable form of an input (method, label, the start of the body, its size). */
export function describeInput(input: ApiInput): string {
  const bytes = bodyBytes(input);
  const text =
    typeof input.body === "string"
      ? JSON.stringify(input.body.length > 300 ? `${input.body.slice(0, 300)}…` : input.body)
      : `bytes ${Buffer.from(bytes.subarray(0, 120)).toString("hex")}${bytes.length > 120 ? "…" : ""}`;
  const method = input.method.length > 60 ? `${input.method.slice(0, 60)}…` : input.method;
  return `${input.label} ${method} (${bytes.length} bytes) ${text}`;
}
