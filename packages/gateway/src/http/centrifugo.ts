/**
 * Centrifugo's server API over Herald (CONTRACT.md §7), pure: which Centrifugo methods Herald
 * serves and how, Centrifugo's error codes and their HTTP statuses in transport error mode, and
 * the shape of Centrifugo's `presence` result.
 */
import { ErrorCode, encodeToken, type Member } from "@herald/protocol";

/** Centrifugo's error codes that Herald answers with. */
export const CentrifugoCode = {
  Internal: 100,
  Unauthorized: 101,
  MethodNotFound: 104,
  BadRequest: 107,
  NotAvailable: 108,
  TooManyRequests: 111,
  Conflict: 113,
} as const;
export type CentrifugoCode = (typeof CentrifugoCode)[keyof typeof CentrifugoCode];

/** Methods served as Herald serves them: the same params and results (Centrifugo PRO's shapes). */
export const PASSED_THROUGH = new Set([
  "update_user_status",
  "get_user_status",
  "delete_user_status",
  "presence_stats",
]);

/**
 * Centrifugo v5/v6 server API methods Herald does not serve (error 108, not available), as
 * opposed to names Centrifugo does not have at all (error 104, method not found).
 */
export const NOT_SERVED = new Set([
  "publish",
  "broadcast",
  "subscribe",
  "unsubscribe",
  "disconnect",
  "refresh",
  "history",
  "history_remove",
  "channels",
  "connections",
  "rate_limit",
  "block_user",
  "unblock_user",
  "revoke_token",
  "invalidate_user_tokens",
  "device_register",
  "device_update",
  "device_remove",
  "device_list",
  "device_topic_list",
  "device_topic_update",
  "user_topic_list",
  "user_topic_update",
  "send_push_notification",
  "update_push_status",
  "cancel_push",
]);

/** Herald's error code (CONTRACT.md §4) as Centrifugo's. */
export function centrifugoCode(code: number): CentrifugoCode {
  switch (code) {
    case ErrorCode.InvalidParams:
    case ErrorCode.TooLarge:
      return CentrifugoCode.BadRequest;
    case ErrorCode.UnknownMethod:
      return CentrifugoCode.MethodNotFound;
    case ErrorCode.Conflict:
      return CentrifugoCode.Conflict;
    case ErrorCode.RateLimited:
      return CentrifugoCode.TooManyRequests;
    case ErrorCode.NotReady:
      return CentrifugoCode.NotAvailable;
    default:
      return CentrifugoCode.Internal;
  }
}

/** The HTTP status of a Centrifugo error in transport error mode (`X-Centrifugo-Error-Mode: transport`). */
export function transportStatus(code: CentrifugoCode): number {
  switch (code) {
    case CentrifugoCode.MethodNotFound:
      return 404;
    case CentrifugoCode.BadRequest:
    case CentrifugoCode.NotAvailable:
      return 400;
    case CentrifugoCode.TooManyRequests:
      return 429;
    case CentrifugoCode.Conflict:
      return 409;
    case CentrifugoCode.Unauthorized:
      return 401;
    default:
      return 500;
  }
}

export interface ClientInfo {
  readonly client: string;
  readonly user: string;
  /** The member's data, when it has any. */
  readonly chan_info?: Record<string, unknown>;
}

/** Centrifugo's `presence` result: members by client id, `token(user).token(conn)`. */
export function presenceResult(members: readonly Member[]): { presence: Record<string, ClientInfo> } {
  const presence: Record<string, ClientInfo> = {};
  for (const m of members) {
    const client = `${encodeToken(m.user)}.${encodeToken(m.conn)}`;
    presence[client] =
      Object.keys(m.data).length > 0 ? { client, user: m.user, chan_info: m.data } : { client, user: m.user };
  }
  return { presence };
}

/** One gateway in Centrifugo's `info` result. */
export interface NodeInfo {
  readonly uid: string;
  readonly name: string;
  readonly version: string;
  /** Seconds since the gateway started. */
  readonly uptime: number;
  readonly num_clients: number;
  readonly num_users: number;
  readonly num_channels: number;
}
