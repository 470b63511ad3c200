/**
 * Schemas of Herald's internal messages: the `presence_members` value, the facts on the events
 * stream and the stamped command batches of the command stream. The public schemas (API params
 * and results, live events, the `presence_status` value) are in @herald/contract.
 */
import { schemas as publicSchemas } from "@herald/contract";
import { type Static, type TSchema, Type } from "@sinclair/typebox";

const { Channel, ConnId, Data, SetStatusName, StatusDoc, StatusEmoji, StatusText, TimeMs, TtlMs, UserId } =
  publicSchemas;

const closed = { additionalProperties: false } as const;

/** A `presence_members` value: one conn of a user in one channel. */
export const MemberDoc = Type.Object(
  {
    channel: Channel,
    user: UserId,
    conn: ConnId,
    data: Data,
    joined_at_ms: TimeMs,
    updated_at_ms: TimeMs,
    /** The user is invisible: kept for when they reappear, shown to nobody. */
    hidden: Type.Optional(Type.Literal(true)),
  },
  closed,
);
export type MemberDoc = Static<typeof MemberDoc>;

// ---- internal: facts (msgpack on the events stream, `herald.fact.>`) ----------------------

/** The new `presence_status` document of a user; `doc: null` removes it. */
export const UserFact = Type.Object(
  { type: Type.Literal("user"), user: UserId, doc: Type.Union([StatusDoc, Type.Null()]) },
  closed,
);
export type UserFact = Static<typeof UserFact>;
/** The new state of one member; `doc: null` removes it. */
export const MemberFact = Type.Object(
  {
    type: Type.Literal("member"),
    channel: Channel,
    user: UserId,
    conn: ConnId,
    doc: Type.Union([MemberDoc, Type.Null()]),
  },
  closed,
);
export type MemberFact = Static<typeof MemberFact>;
export const Fact = Type.Union([UserFact, MemberFact]);
export type Fact = Static<typeof Fact>;

// ---- internal: stamped commands (msgpack on the command stream) ---------------------------

const stamped = { at_ms: TimeMs };
/** `join` and `update` carry the same fields. */
const membershipCommand = <T extends "join" | "update">(type: T) =>
  Type.Object(
    {
      type: Type.Literal(type),
      user: UserId,
      conn: ConnId,
      channel: Channel,
      data: Data,
      ttl_ms: TtlMs,
      reply: Type.Optional(Reply),
      ...stamped,
    },
    closed,
  );
/**
 * Where the verdict on a command goes, when its sender waits for one: `<gateway>.<id>` (the
 * gateway's token and its own number for the request).
 */
export const Reply = Type.String({
  pattern: "^[A-Za-z0-9_-]{1,64}\\.[0-9]{1,15}$",
  errorMessage: "must be <gateway>.<number>",
});

export const Command = Type.Union([
  Type.Object(
    { type: Type.Literal("heartbeat"), user: UserId, conn: ConnId, ttl_ms: TtlMs, ...stamped },
    closed,
  ),
  Type.Object({ type: Type.Literal("disconnect"), user: UserId, conn: ConnId, ...stamped }, closed),
  /** `update_user_status`, one per user. */
  Type.Object({ type: Type.Literal("activity"), user: UserId, ...stamped }, closed),
  /** `delete_user_status`, one per user. */
  Type.Object({ type: Type.Literal("forget"), user: UserId, ...stamped }, closed),
  membershipCommand("join"),
  membershipCommand("update"),
  Type.Object(
    { type: Type.Literal("leave"), user: UserId, conn: ConnId, channel: Channel, ttl_ms: TtlMs, ...stamped },
    closed,
  ),
  Type.Object(
    {
      type: Type.Literal("set_status"),
      user: UserId,
      status: SetStatusName,
      text: Type.Optional(StatusText),
      emoji: Type.Optional(StatusEmoji),
      expires_at_ms: Type.Optional(TimeMs),
      ...stamped,
    },
    closed,
  ),
]);
export type Command = Static<typeof Command>;
export type CommandType = Command["type"];

/**
 * Version of the command batch format written by this code. A reader accepts every version up
 * to the one it knows and dead-letters newer ones (a rolling upgrade updates readers first).
 * Version 2 carries member `data` as JSON text (msgpack maps cannot hold every JSON object:
 * a `__proto__` key would be renamed), version 1 as a map.
 */
export const COMMAND_BATCH_VERSION = 2;
/**
 * One message of the command stream: commands of one partition, in the order received, and/or
 * a clock tick. The partition's owner appends a tick (`tick_ms`, its wall clock, and no
 * commands) when a timer is due, and timers fire only when a command or tick says time has
 * come, so the stream alone decides every output and a replay repeats it exactly.
 */
export const CommandBatch = Type.Object(
  {
    v: Type.Integer({ minimum: 1, maximum: COMMAND_BATCH_VERSION }),
    cmds: Type.Array(Command),
    tick_ms: Type.Optional(TimeMs),
  },
  closed,
);
export type CommandBatch = Static<typeof CommandBatch>;
/**
 * The envelope of a command batch, checked before its commands: a bad envelope makes the whole
 * message unusable; a bad command inside a good envelope is rejected alone.
 */
export const CommandBatchEnvelope = Type.Object(
  {
    v: Type.Integer({
      minimum: 1,
      maximum: COMMAND_BATCH_VERSION,
      errorMessage: `must be a format version from 1 to ${COMMAND_BATCH_VERSION}`,
    }),
    cmds: Type.Array(Type.Unknown(), { errorMessage: "must be an array" }),
    tick_ms: Type.Optional(
      Type.Integer({ minimum: 0, errorMessage: "must be a time in milliseconds (an integer ≥ 0)" }),
    ),
  },
  closed,
);

/** The verdict on a command that asked for one: applied (no code), or refused with its error. */
export const Verdict = Type.Object(
  {
    id: Type.Integer({ minimum: 0 }),
    code: Type.Optional(Type.Integer({ minimum: 400, maximum: 599 })),
    message: Type.Optional(Type.String()),
  },
  closed,
);
export type Verdict = Static<typeof Verdict>;

/** Every internal schema by name, for tests. */
export const internalSchemas: Readonly<Record<string, TSchema>> = {
  MemberDoc,
  UserFact,
  MemberFact,
  Fact,
  Command,
  CommandBatch,
  CommandBatchEnvelope,
  Verdict,
};
