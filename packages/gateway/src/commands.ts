/**
 * Stamping (pure): a parsed command request becomes the internal commands presence-actor
 * applies, each stamped with the gateway's receipt time and a ttl, in request order.
 */
import type { ApiRequest, Command, CommandMethod } from "@herald/protocol";

/** A parsed request of one of the command methods. */
export type CommandRequest = Extract<ApiRequest, { method: CommandMethod }>;

export function isCommandRequest(req: ApiRequest): req is CommandRequest {
  switch (req.method) {
    case "heartbeat":
    case "disconnect":
    case "update_user_status":
    case "delete_user_status":
    case "join":
    case "update":
    case "leave":
    case "set_status":
      return true;
    default:
      return false;
  }
}

/**
 * Whether a command can be refused by the state it meets, so its owner's verdict is awaited:
 * an `update` of a channel not joined (409), a `join` over the conn or channel limits (429, 413).
 */
export function needsVerdict(req: CommandRequest): boolean {
  return req.method === "update" || req.method === "join";
}

/**
 * The stamped commands of `req`: `at_ms` is the receipt time, `ttl_ms` the heartbeat's own or
 * `defaultTtlMs` (PRESENCE_TTL_MS), `reply` where the owner's verdict goes (commands that need
 * one). Optional fields that were not given are left out, not written as null.
 */
export function toCommands(
  req: CommandRequest,
  atMs: number,
  defaultTtlMs: number,
  reply?: string,
): Command[] {
  switch (req.method) {
    case "heartbeat":
      return req.params.heartbeats.map((hb) => ({
        type: "heartbeat",
        user: hb.user,
        conn: hb.conn,
        ttl_ms: hb.ttl_ms ?? defaultTtlMs,
        at_ms: atMs,
      }));
    case "disconnect":
      return [{ type: "disconnect", user: req.params.user, conn: req.params.conn, at_ms: atMs }];
    case "update_user_status":
      return req.params.users.map((user) => ({ type: "activity", user, at_ms: atMs }));
    case "delete_user_status":
      return req.params.users.map((user) => ({ type: "forget", user, at_ms: atMs }));
    case "join": {
      const { user, conn, channel, data } = req.params;
      return [
        {
          type: "join",
          user,
          conn,
          channel,
          data: data ?? {},
          ttl_ms: defaultTtlMs,
          ...(reply !== undefined ? { reply } : {}),
          at_ms: atMs,
        },
      ];
    }
    case "update": {
      const { user, conn, channel, data } = req.params;
      return [
        {
          type: "update",
          user,
          conn,
          channel,
          data,
          ttl_ms: defaultTtlMs,
          ...(reply !== undefined ? { reply } : {}),
          at_ms: atMs,
        },
      ];
    }
    case "leave": {
      const { user, conn, channel } = req.params;
      return [{ type: "leave", user, conn, channel, ttl_ms: defaultTtlMs, at_ms: atMs }];
    }
    case "set_status": {
      const { user, status, text, emoji, expires_at_ms } = req.params;
      return [
        {
          type: "set_status",
          user,
          status,
          ...(text !== undefined ? { text } : {}),
          ...(emoji !== undefined ? { emoji } : {}),
          ...(expires_at_ms !== undefined ? { expires_at_ms } : {}),
          at_ms: atMs,
        },
      ];
    }
  }
}
