/**
 * The shapes the application sees: members, statuses and the events about them. Wire shapes
 * come from @herald/contract (CONTRACT.md §4, §5, §8); the client adds `synthetic` to the events
 * it derives itself (see README: "Resync and synthetic events").
 */
import type {
  ChannelEvent,
  LeaveReason,
  ManualStatus,
  Status,
  StatusEvent,
  UserStatus,
} from "@herald/contract";

export type { LeaveReason, ManualStatus, Status, StatusEvent, UserStatus };

/** Member data: a JSON object (at most 4096 bytes as JSON, CONTRACT.md §1). */
export type MemberData = Record<string, unknown>;

/** One (user, conn) present in a channel, as `presence` and `subscribe` answer it. */
export interface Member {
  readonly user: string;
  readonly conn: string;
  readonly data: MemberData;
  readonly joined_at_ms: number;
  readonly updated_at_ms: number;
}

/**
 * Where a client-made event comes from: `"resync"` — a difference between what the client held
 * and the fresh snapshot after a reconnect (or a repeated `subscribe`/`watch`); `"interval"` —
 * unfolded from a large channel's interval push. Events the server pushed have no `synthetic`.
 */
export type Synthetic = "resync" | "interval";

type Wire<T extends ChannelEvent["type"]> = Omit<Extract<ChannelEvent, { type: T }>, "data">;

/** A conn entered the channel (`first`: no other conn of its user is in it). */
export type MemberJoinEvent = Wire<"join"> & { data: MemberData; synthetic?: Synthetic };
/** A member's data was replaced. */
export type MemberUpdateEvent = Wire<"update"> & { data: MemberData; synthetic?: Synthetic };
/**
 * A conn left the channel (`last`: no other conn of its user is left in it). `reason` is the
 * server's (`leave`, `disconnect`, `timeout`), or `"resync"` when a resync found the member
 * gone without seeing why. A synthetic leave carries the member's last known `data`.
 */
export type MemberLeaveEvent = Omit<Wire<"leave">, "reason"> & {
  data?: MemberData;
  reason: LeaveReason | "resync";
  synthetic?: Synthetic;
};
export type MemberEvent = MemberJoinEvent | MemberUpdateEvent | MemberLeaveEvent;

/** A large channel's periodic push (CONTRACT.md §8), as the server sent it. */
export interface IntervalEvent {
  readonly type: "interval";
  readonly channel: string;
  readonly joined: readonly { user: string; conn: string; data: MemberData }[];
  readonly left: readonly { user: string; conn: string; reason: LeaveReason }[];
  readonly updated: readonly { user: string; conn: string; data: MemberData }[];
  readonly num_clients: number;
  readonly num_users: number;
  readonly at_ms: number;
}

/**
 * A watched user's status changed. Pushed by the server (a §5 status event), or `synthetic:
 * "resync"` when a resync found the status (or the manual status) different from the one held;
 * `prev` is then the status held before, `at_ms` the client's clock at the resync.
 */
export type WatchStatusEvent = StatusEvent & { synthetic?: "resync" };

/** Counts of a channel (`presence_stats`). */
export interface PresenceStats {
  readonly num_clients: number;
  readonly num_users: number;
}

/** The result of `connect` (CONTRACT.md §8). */
export interface ConnectInfo {
  readonly user: string;
  readonly conn: string;
  readonly ttl_ms: number;
}

export type ClientState = "disconnected" | "connecting" | "connected";

/**
 * Why the state changed:
 * - `connect`: `connect()` was called;
 * - `transport`: the socket closed or could not open (`code`: the close code);
 * - `unauthorized`: closed with 4401 or `connect` answered 401 (retried with a fresh token), or
 *   `getToken()` returned `""` (final);
 * - `timeout`: opening the socket and the `connect` reply took longer than `requestTimeoutMs`;
 * - `token`: `getToken()` threw (retried);
 * - `server`: `connect` answered an error (`code`); 400 and 403 are final, the others retried;
 * - `client`: `close()` was called; `pagehide`: the page was hidden for good (see README).
 */
export type StateReason =
  | "connect"
  | "transport"
  | "unauthorized"
  | "timeout"
  | "token"
  | "server"
  | "client"
  | "pagehide";

export interface StateChange {
  readonly state: ClientState;
  readonly prev: ClientState;
  /** Absent when the state is `connected`. */
  readonly reason?: StateReason;
  /** The close code or the error code, when there is one. */
  readonly code?: number;
  /** The close reason or the error message, when there is one. */
  readonly message?: string;
}
