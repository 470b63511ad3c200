/**
 * Parsing of API requests (CONTRACT.md §4): size, JSON, schema and the rules a schema cannot
 * say (ranges that come from config, sizes answered 413, exclusive fields). A request that
 * parses is safe to apply; one that does not throws a HeraldError naming the problem, so a
 * rejected command changes nothing.
 */

import { InvalidParamsError, TooLargeError, UnknownMethodError } from "./errors.js";
import { json } from "./json.js";
import { echo, jsonDepth, limits, utf8Length } from "./limits.js";
import { isMethod, type Method } from "./methods.js";
import * as S from "./schemas.js";
import { compile, type Validator } from "./validate.js";

/** The params of each method after parsing; `heartbeat` is always the batch form. */
export interface ParamsByMethod {
  heartbeat: { heartbeats: S.HeartbeatItem[] };
  disconnect: S.DisconnectParams;
  update_user_status: S.UpdateUserStatusParams;
  delete_user_status: S.DeleteUserStatusParams;
  join: S.JoinParams;
  update: S.UpdateParams;
  leave: S.LeaveParams;
  set_status: S.SetStatusParams;
  get_user_status: S.GetUserStatusParams;
  presence: S.ChannelParams;
  presence_stats: S.ChannelParams;
  channel_users: S.ChannelParams;
  user_channels: S.UserChannelsParams;
  is_present: S.IsPresentParams;
  history: S.HistoryParams;
  status_at: S.StatusAtParams;
}

export type ApiRequest = { [M in Method]: { method: M; params: ParamsByMethod[M] } }[Method];

export interface ParseOptions {
  /** PRESENCE_MAX_TTL_MS. */
  readonly maxTtlMs: number;
  /** The server time the request is stamped with (unix ms). */
  readonly nowMs: number;
}

const validators: { [M in Exclude<Method, "heartbeat">]: Validator<ParamsByMethod[M]> } = {
  disconnect: compile(S.DisconnectParams),
  update_user_status: compile(S.UpdateUserStatusParams),
  delete_user_status: compile(S.DeleteUserStatusParams),
  join: compile(S.JoinParams),
  update: compile(S.UpdateParams),
  leave: compile(S.LeaveParams),
  set_status: compile(S.SetStatusParams),
  get_user_status: compile(S.GetUserStatusParams),
  presence: compile(S.ChannelParams),
  presence_stats: compile(S.ChannelParams),
  channel_users: compile(S.ChannelParams),
  user_channels: compile(S.UserChannelsParams),
  is_present: compile(S.IsPresentParams),
  history: compile(S.HistoryParams),
  status_at: compile(S.StatusAtParams),
};
const heartbeatOne = compile(S.HeartbeatOneParams);
const heartbeatBatch = compile(S.HeartbeatBatchParams);

/** The field holding a batch, per method: checked for size before the schema (413, not 400). */
const BATCH_FIELD: Partial<Record<Method, string>> = {
  heartbeat: "heartbeats",
  update_user_status: "users",
  delete_user_status: "users",
  get_user_status: "users",
  status_at: "users",
};

function checkBatchSize(method: Method, params: Record<string, unknown>): void {
  const field = BATCH_FIELD[method];
  if (field !== undefined) {
    const items = params[field];
    if (Array.isArray(items) && items.length > limits.batchMax) {
      throw new TooLargeError(`${field} has ${items.length} items; at most ${limits.batchMax} are allowed`);
    }
  }
}

function checkTtl(ttl: number | undefined, field: string, opts: ParseOptions): void {
  if (ttl !== undefined && ttl > opts.maxTtlMs) {
    throw new InvalidParamsError(
      `${field}: must be at most ${opts.maxTtlMs} (PRESENCE_MAX_TTL_MS), got ${ttl}`,
    );
  }
}

function checkData(data: object | undefined): void {
  if (data === undefined) return;
  if (jsonDepth(data, limits.dataMaxDepth) < 0) {
    throw new InvalidParamsError(`data: nested deeper than ${limits.dataMaxDepth} levels`);
  }
  const size = utf8Length(JSON.stringify(data));
  if (size > limits.dataMaxBytes) {
    throw new TooLargeError(`data: ${size} bytes of JSON; at most ${limits.dataMaxBytes} are allowed`);
  }
}

function validated<T>(validator: Validator<T>, params: unknown): T {
  const problem = validator.explain(params);
  if (problem !== undefined) throw new InvalidParamsError(problem);
  return params as T;
}

/** Checks that a schema cannot express. */
function checkRules(req: ApiRequest, opts: ParseOptions): void {
  switch (req.method) {
    case "heartbeat":
      for (const [i, hb] of req.params.heartbeats.entries()) {
        checkTtl(hb.ttl_ms, `heartbeats[${i}].ttl_ms`, opts);
      }
      return;
    case "join":
    case "update":
      checkData(req.params.data);
      return;
    case "set_status": {
      const p = req.params;
      if (p.status === "auto") {
        for (const field of ["text", "emoji", "expires_at_ms"] as const) {
          if (p[field] !== undefined)
            throw new InvalidParamsError(`${field}: not allowed with status "auto"`);
        }
      } else if (p.expires_at_ms !== undefined && p.expires_at_ms <= opts.nowMs) {
        throw new InvalidParamsError(`expires_at_ms: ${p.expires_at_ms} is not in the future`);
      } else if (
        p.expires_at_ms !== undefined &&
        p.expires_at_ms > opts.nowMs + limits.manualExpiryMaxAheadMs
      ) {
        throw new InvalidParamsError(
          `expires_at_ms: ${p.expires_at_ms} is more than ${limits.manualExpiryMaxAheadMs / 86_400_000} days ahead`,
        );
      }
      return;
    }
    case "history": {
      const p = req.params;
      if ((p.user === undefined) === (p.channel === undefined)) {
        throw new InvalidParamsError("exactly one of user and channel is required");
      }
      if (p.since_ms !== undefined && p.until_ms !== undefined && p.since_ms > p.until_ms) {
        throw new InvalidParamsError("since_ms: must not be after until_ms");
      }
      return;
    }
    default:
      return;
  }
}

/** Parses already-decoded params of `method`. Throws HeraldError (400, 404, 413). */
export function parseParams(method: string, params: unknown, opts: ParseOptions): ApiRequest {
  if (!isMethod(method)) throw new UnknownMethodError(method);
  if (typeof params === "object" && params !== null && !Array.isArray(params)) {
    checkBatchSize(method, params as Record<string, unknown>);
  }
  let req: ApiRequest;
  if (method === "heartbeat") {
    const isBatch = typeof params === "object" && params !== null && "heartbeats" in params;
    if (isBatch) {
      req = { method, params: validated(heartbeatBatch, params) };
    } else {
      const one = validated(heartbeatOne, params);
      checkTtl(one.ttl_ms, "ttl_ms", opts);
      req = { method, params: { heartbeats: [one] } };
    }
  } else {
    req = { method, params: validated(validators[method] as Validator<unknown>, params) } as ApiRequest;
  }
  checkRules(req, opts);
  return req;
}

/**
 * Decodes a request body: UTF-8 JSON, empty meaning `{}`. Throws HeraldError: 413 over
 * `limits.requestMaxBytes`, 400 for anything that is not UTF-8 JSON.
 */
export function decodeBody(body: Uint8Array): unknown {
  if (body.length > limits.requestMaxBytes) {
    throw new TooLargeError(
      `request body has ${body.length} bytes; at most ${limits.requestMaxBytes} are allowed`,
    );
  }
  if (body.length === 0) return {};
  try {
    return json.decode(body);
  } catch (err) {
    if (err instanceof SyntaxError) {
      throw new InvalidParamsError(`body is not valid JSON: ${echo((err as Error).message)}`);
    }
    if (err instanceof RangeError) throw new InvalidParamsError("body is not valid JSON: nested too deep");
    throw new InvalidParamsError("body is not valid UTF-8");
  }
}

/**
 * Parses a request body (UTF-8 JSON; empty means `{}`) for `method`. Throws HeraldError:
 * 404 unknown method, 413 too large, 400 anything else wrong.
 */
export function parseRequest(method: string, body: Uint8Array, opts: ParseOptions): ApiRequest {
  if (!isMethod(method)) throw new UnknownMethodError(method);
  return parseParams(method, decodeBody(body), opts);
}
