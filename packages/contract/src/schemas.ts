/**
 * Schemas of the public contract: API params and results (CONTRACT.md §4), live events (§5) and
 * the `presence_status` value (§6). Each is a TypeBox schema, which gives both the TypeScript
 * type (`Static`) and a compiled runtime check (see validate.ts).
 */
import { FormatRegistry, type Static, type TSchema, Type } from "@sinclair/typebox";
import { isValidId, limits } from "./limits.js";

FormatRegistry.Set("herald-id", (s) => isValidId(s, limits.idMaxBytes));
FormatRegistry.Set("herald-channel", (s) => isValidId(s, limits.channelMaxBytes));
FormatRegistry.Set("herald-status-text", (s) => isValidId(s, limits.statusTextMaxBytes));
FormatRegistry.Set("herald-status-emoji", (s) => isValidId(s, limits.statusEmojiMaxBytes));

const closed = { additionalProperties: false } as const;

// ---- building blocks ----------------------------------------------------------------------

export const UserId = Type.String({
  format: "herald-id",
  errorMessage: `must be a string of 1 to ${limits.idMaxBytes} UTF-8 bytes without control characters`,
});
export const ConnId = UserId;
export const Channel = Type.String({
  format: "herald-channel",
  errorMessage: `must be a string of 1 to ${limits.channelMaxBytes} UTF-8 bytes without control characters`,
});
/** Unix milliseconds. */
export const TimeMs = Type.Integer({
  minimum: 0,
  maximum: limits.timeMaxMs,
  errorMessage: `must be unix milliseconds (an integer from 0 to ${limits.timeMaxMs})`,
});
/** Unix seconds (`online`, `active`: Centrifugo PRO compatible). */
export const TimeS = Type.Integer({ minimum: 0 });
/** Member data: a JSON object (size is checked separately, 413 when too large). */
export const Data = Type.Object({}, { additionalProperties: true, errorMessage: "must be a JSON object" });
export const TtlMs = Type.Integer({
  minimum: limits.ttlMinMs,
  errorMessage: `must be an integer of at least ${limits.ttlMinMs} milliseconds`,
});
export const Users = Type.Array(UserId, {
  minItems: 1,
  errorMessage: "must be a non-empty array of user ids",
});

export const Status = Type.Union([Type.Literal("online"), Type.Literal("away"), Type.Literal("offline")], {
  errorMessage: "must be online, away or offline",
});
export type Status = Static<typeof Status>;

export const ManualStatusName = Type.Union([Type.Literal("dnd"), Type.Literal("invisible")], {
  errorMessage: "must be dnd or invisible",
});
/** What `set_status` accepts: a manual status, or `auto` to clear it. */
export const SetStatusName = Type.Union(
  [Type.Literal("dnd"), Type.Literal("invisible"), Type.Literal("auto")],
  {
    errorMessage: "must be dnd, invisible or auto",
  },
);
export const StatusText = Type.String({
  format: "herald-status-text",
  errorMessage: `must be a string of 1 to ${limits.statusTextMaxBytes} UTF-8 bytes without control characters`,
});
export const StatusEmoji = Type.String({
  format: "herald-status-emoji",
  errorMessage: `must be a string of 1 to ${limits.statusEmojiMaxBytes} UTF-8 bytes without control characters`,
});
export const ManualStatus = Type.Object(
  {
    status: ManualStatusName,
    text: Type.Optional(StatusText),
    emoji: Type.Optional(StatusEmoji),
    expires_at_ms: Type.Optional(TimeMs),
  },
  closed,
);
export type ManualStatus = Static<typeof ManualStatus>;

export const LeaveReason = Type.Union(
  [Type.Literal("leave"), Type.Literal("disconnect"), Type.Literal("timeout")],
  { errorMessage: "must be leave, disconnect or timeout" },
);
export type LeaveReason = Static<typeof LeaveReason>;

// ---- API params (CONTRACT.md §4) ----------------------------------------------------------

export const HeartbeatItem = Type.Object(
  { user: UserId, conn: ConnId, ttl_ms: Type.Optional(TtlMs) },
  closed,
);
export const HeartbeatOneParams = HeartbeatItem;
export const HeartbeatBatchParams = Type.Object(
  {
    heartbeats: Type.Array(HeartbeatItem, {
      minItems: 1,
      errorMessage: "must be a non-empty array of {user, conn, ttl_ms?}",
    }),
  },
  closed,
);
export const DisconnectParams = Type.Object({ user: UserId, conn: ConnId }, closed);
export const UpdateUserStatusParams = Type.Object({ users: Users }, closed);
export const DeleteUserStatusParams = Type.Object({ users: Users }, closed);
export const JoinParams = Type.Object(
  { user: UserId, conn: ConnId, channel: Channel, data: Type.Optional(Data) },
  closed,
);
export const UpdateParams = Type.Object({ user: UserId, conn: ConnId, channel: Channel, data: Data }, closed);
export const LeaveParams = Type.Object({ user: UserId, conn: ConnId, channel: Channel }, closed);
export const SetStatusParams = Type.Object(
  {
    user: UserId,
    status: SetStatusName,
    text: Type.Optional(StatusText),
    emoji: Type.Optional(StatusEmoji),
    expires_at_ms: Type.Optional(TimeMs),
  },
  closed,
);

export const GetUserStatusParams = Type.Object(
  { users: Users, include_hidden: Type.Optional(Type.Boolean({ errorMessage: "must be true or false" })) },
  closed,
);
export const ChannelParams = Type.Object({ channel: Channel }, closed);
export const PresenceParams = ChannelParams;
export const PresenceStatsParams = ChannelParams;
export const ChannelUsersParams = ChannelParams;
export const UserChannelsParams = Type.Object({ user: UserId }, closed);
export const IsPresentParams = Type.Object({ channel: Channel, user: UserId }, closed);
export const HistoryParams = Type.Object(
  {
    user: Type.Optional(UserId),
    channel: Type.Optional(Channel),
    since_ms: Type.Optional(TimeMs),
    until_ms: Type.Optional(TimeMs),
    limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: limits.historyMax,
        errorMessage: `must be an integer from 1 to ${limits.historyMax}`,
      }),
    ),
  },
  closed,
);
export const StatusAtParams = Type.Object({ users: Users, at_ms: TimeMs }, closed);

export type HeartbeatItem = Static<typeof HeartbeatItem>;
export type DisconnectParams = Static<typeof DisconnectParams>;
export type UpdateUserStatusParams = Static<typeof UpdateUserStatusParams>;
export type DeleteUserStatusParams = Static<typeof DeleteUserStatusParams>;
export type JoinParams = Static<typeof JoinParams>;
export type UpdateParams = Static<typeof UpdateParams>;
export type LeaveParams = Static<typeof LeaveParams>;
export type SetStatusParams = Static<typeof SetStatusParams>;
export type GetUserStatusParams = Static<typeof GetUserStatusParams>;
export type ChannelParams = Static<typeof ChannelParams>;
export type UserChannelsParams = Static<typeof UserChannelsParams>;
export type IsPresentParams = Static<typeof IsPresentParams>;
export type HistoryParams = Static<typeof HistoryParams>;
export type StatusAtParams = Static<typeof StatusAtParams>;

// ---- API results --------------------------------------------------------------------------

export const EmptyResult = Type.Object({}, closed);
export const UserStatus = Type.Object(
  {
    user: UserId,
    status: Status,
    online: Type.Optional(TimeS),
    active: Type.Optional(TimeS),
    manual: Type.Optional(ManualStatus),
  },
  closed,
);
export type UserStatus = Static<typeof UserStatus>;
export const GetUserStatusResult = Type.Object({ statuses: Type.Array(UserStatus) }, closed);
export const Member = Type.Object(
  { user: UserId, conn: ConnId, data: Data, joined_at_ms: TimeMs, updated_at_ms: TimeMs },
  closed,
);
export type Member = Static<typeof Member>;
export const PresenceResult = Type.Object({ members: Type.Array(Member) }, closed);
export const PresenceStatsResult = Type.Object(
  { num_clients: Type.Integer({ minimum: 0 }), num_users: Type.Integer({ minimum: 0 }) },
  closed,
);
export const ChannelUsersResult = Type.Object({ users: Type.Array(UserId) }, closed);
export const UserChannelsResult = Type.Object({ channels: Type.Array(Channel) }, closed);
export const IsPresentResult = Type.Object({ present: Type.Boolean() }, closed);
export const StatusAtResult = Type.Object(
  { statuses: Type.Array(Type.Object({ user: UserId, status: Status }, closed)) },
  closed,
);

// ---- live events (CONTRACT.md §5) ---------------------------------------------------------

export const StatusEvent = Type.Object(
  {
    type: Type.Literal("status"),
    user: UserId,
    status: Status,
    prev: Status,
    at_ms: TimeMs,
    online: Type.Optional(TimeS),
    active: Type.Optional(TimeS),
    manual: Type.Optional(ManualStatus),
  },
  closed,
);
export type StatusEvent = Static<typeof StatusEvent>;

const member = { channel: Channel, user: UserId, conn: ConnId };
/** A conn entered a channel; `first` when no other conn of the user is in it. */
export const JoinEvent = Type.Object(
  {
    type: Type.Literal("join"),
    ...member,
    data: Data,
    first: Type.Optional(Type.Literal(true)),
    at_ms: TimeMs,
  },
  closed,
);
/** A member's data was replaced. */
export const UpdateEvent = Type.Object(
  { type: Type.Literal("update"), ...member, data: Data, at_ms: TimeMs },
  closed,
);
/** A conn left a channel; `last` when no other conn of the user is in it. */
export const LeaveEvent = Type.Object(
  {
    type: Type.Literal("leave"),
    ...member,
    data: Type.Optional(Data),
    reason: LeaveReason,
    last: Type.Optional(Type.Literal(true)),
    at_ms: TimeMs,
  },
  closed,
);
export const ChannelEvent = Type.Union([JoinEvent, UpdateEvent, LeaveEvent]);
export type ChannelEvent = Static<typeof ChannelEvent>;
export const PresenceEvent = Type.Union([StatusEvent, JoinEvent, UpdateEvent, LeaveEvent]);
export type PresenceEvent = Static<typeof PresenceEvent>;
export const HistoryResult = Type.Object({ events: Type.Array(PresenceEvent) }, closed);

// ---- KV projection (CONTRACT.md §6) -------------------------------------------------------

export const StatusDoc = Type.Object(
  {
    user: UserId,
    status: Status,
    online: Type.Optional(TimeS),
    active: Type.Optional(TimeS),
    manual: Type.Optional(ManualStatus),
    conns: Type.Integer({ minimum: 0 }),
    updated_at_ms: TimeMs,
    hidden: Type.Optional(Type.Literal(true)),
    actual: Type.Optional(
      Type.Object({ status: Status, online: Type.Optional(TimeS), active: Type.Optional(TimeS) }, closed),
    ),
  },
  closed,
);
export type StatusDoc = Static<typeof StatusDoc>;

/** Every public schema by name, for tests and for generated documentation. */
export const schemas: Readonly<Record<string, TSchema>> = {
  HeartbeatOneParams,
  HeartbeatBatchParams,
  DisconnectParams,
  UpdateUserStatusParams,
  DeleteUserStatusParams,
  JoinParams,
  UpdateParams,
  LeaveParams,
  SetStatusParams,
  GetUserStatusParams,
  ChannelParams,
  UserChannelsParams,
  IsPresentParams,
  HistoryParams,
  StatusAtParams,
  EmptyResult,
  GetUserStatusResult,
  PresenceResult,
  PresenceStatsResult,
  ChannelUsersResult,
  UserChannelsResult,
  IsPresentResult,
  StatusAtResult,
  HistoryResult,
  StatusEvent,
  JoinEvent,
  UpdateEvent,
  LeaveEvent,
  StatusDoc,
};
