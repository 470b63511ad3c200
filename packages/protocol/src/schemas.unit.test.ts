import { compile, json, limits, schemas as publicSchemas } from "@herald/contract";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeCommandBatch,
  decodeFact,
  encodeCommandBatch,
  encodeFact,
  encodeTick,
  msgpack,
} from "./codec.js";
import { InvalidMessageError } from "./errors.js";
import * as internal from "./schemas.js";

/** The public and the internal schemas, and one registry of both. */
const S = {
  ...publicSchemas,
  ...internal,
  schemas: { ...publicSchemas.schemas, ...internal.internalSchemas },
};

const ID_RULE = "must be a string of 1 to 128 UTF-8 bytes without control characters";
const CHANNEL_RULE = "must be a string of 1 to 256 UTF-8 bytes without control characters";

const statusEvent = {
  type: "status",
  user: "u",
  status: "away",
  prev: "online",
  at_ms: 1,
  online: 1,
  active: 1,
};
const memberDoc = {
  channel: "c",
  user: "u",
  conn: "k",
  data: { x: 1 },
  joined_at_ms: 1,
  updated_at_ms: 2,
};
const joinEvent = { type: "join", channel: "c", user: "u", conn: "k", data: { x: 1 }, first: true, at_ms: 1 };
const leaveEvent = {
  type: "leave",
  channel: "c",
  user: "u",
  conn: "k",
  reason: "timeout",
  last: true,
  at_ms: 2,
};

/** Every command type of the command stream, valid. */
const commands: internal.Command[] = [
  { type: "heartbeat", user: "u", conn: "k", ttl_ms: 30_000, at_ms: 1 },
  { type: "disconnect", user: "u", conn: "k", at_ms: 2 },
  { type: "activity", user: "u", at_ms: 3 },
  { type: "forget", user: "u", at_ms: 4 },
  { type: "join", user: "u", conn: "k", channel: "c", data: {}, ttl_ms: 30_000, at_ms: 5 },
  { type: "update", user: "u", conn: "k", channel: "c", data: { typing: true }, ttl_ms: 30_000, at_ms: 6 },
  { type: "leave", user: "u", conn: "k", channel: "c", ttl_ms: 30_000, at_ms: 7 },
  { type: "set_status", user: "u", status: "dnd", text: "away", emoji: "🌴", expires_at_ms: 9, at_ms: 8 },
  { type: "set_status", user: "u", status: "auto", at_ms: 9 },
];

interface Examples {
  valid: unknown[];
  /** A value and what its explanation must say (a string is matched exactly). */
  invalid: [unknown, string | RegExp][];
}

/** Valid and invalid examples of every schema in `schemas`. */
const examples: Record<string, Examples> = {
  HeartbeatOneParams: {
    valid: [
      { user: "u", conn: "c" },
      { user: "u", conn: "c", ttl_ms: 1000 },
    ],
    invalid: [
      [{ conn: "c" }, "user is required"],
      [{ user: "u" }, "conn is required"],
      [{ user: "u", conn: "c", ttl_ms: 999 }, "ttl_ms: must be an integer of at least 1000 milliseconds"],
      [{ user: "u", conn: "c", ttl_ms: 1500.5 }, /^ttl_ms: /],
      [{ user: "u", conn: "c", x: 1 }, 'unknown field "x"'],
      [[], "params must be a JSON object"],
    ],
  },
  HeartbeatBatchParams: {
    valid: [
      {
        heartbeats: [
          { user: "u", conn: "c" },
          { user: "v", conn: "d", ttl_ms: 5000 },
        ],
      },
    ],
    invalid: [
      [{ heartbeats: [] }, "heartbeats: must be a non-empty array of {user, conn, ttl_ms?}"],
      [{ heartbeats: [{ user: "u" }] }, "heartbeats[0].conn is required"],
      [
        {
          heartbeats: [
            { user: "u", conn: "c" },
            { user: "", conn: "c" },
          ],
        },
        `heartbeats[1].user: ${ID_RULE}`,
      ],
      [{}, "heartbeats is required"],
    ],
  },
  DisconnectParams: {
    valid: [{ user: "u", conn: "c" }],
    invalid: [
      [{ user: "u" }, "conn is required"],
      [{ user: 42, conn: "c" }, `user: ${ID_RULE}`],
    ],
  },
  UpdateUserStatusParams: {
    valid: [{ users: ["a", "b"] }],
    invalid: [
      [{ users: [] }, "users: must be a non-empty array of user ids"],
      [{ users: ["ok", ""] }, `users[1]: ${ID_RULE}`],
      [{ users: "a" }, "users: must be a non-empty array of user ids"],
    ],
  },
  DeleteUserStatusParams: {
    valid: [{ users: ["a"] }],
    invalid: [
      [{}, "users is required"],
      [{ users: ["a\u0000"] }, `users[0]: ${ID_RULE}`],
    ],
  },
  JoinParams: {
    valid: [
      { user: "u", conn: "c", channel: "ch" },
      { user: "u", conn: "c", channel: "ch", data: { name: "Ann", nested: { a: [1, 2] } } },
    ],
    invalid: [
      [{ user: "u", conn: "c", channel: "ch", data: [] }, "data: must be a JSON object"],
      [{ user: "u", conn: "c", channel: "ch", data: null }, "data: must be a JSON object"],
      [{ user: "u", conn: "c", channel: "" }, `channel: ${CHANNEL_RULE}`],
      [{ user: "u", conn: "c" }, "channel is required"],
    ],
  },
  UpdateParams: {
    valid: [{ user: "u", conn: "c", channel: "ch", data: {} }],
    invalid: [
      [{ user: "u", conn: "c", channel: "ch" }, "data is required"],
      [{ user: "u", conn: "c", channel: "ch", data: "x" }, "data: must be a JSON object"],
    ],
  },
  LeaveParams: {
    valid: [{ user: "u", conn: "c", channel: "ch" }],
    invalid: [
      [{ user: "u", conn: "c", channel: "ch", data: {} }, 'unknown field "data"'],
      [{ user: "u", channel: "ch" }, "conn is required"],
    ],
  },
  SetStatusParams: {
    valid: [
      { user: "u", status: "dnd", text: "in a meeting", emoji: "📅", expires_at_ms: 1_900_000_000_000 },
      { user: "u", status: "invisible" },
      { user: "u", status: "auto" },
    ],
    invalid: [
      [{ user: "u", status: "busy" }, "status: must be dnd, invisible or auto"],
      [{ user: "u" }, "status is required"],
      [{ user: "u", status: "dnd", text: "" }, /^text: must be a string of 1 to 256 UTF-8 bytes/],
      [{ user: "u", status: "dnd", text: "x".repeat(257) }, /^text: /],
      [
        { user: "u", status: "dnd", emoji: `${"😀".repeat(16)}x` },
        /^emoji: must be a string of 1 to 64 UTF-8 bytes/,
      ],
      [
        { user: "u", status: "dnd", expires_at_ms: -1 },
        `expires_at_ms: must be unix milliseconds (an integer from 0 to ${limits.timeMaxMs})`,
      ],
    ],
  },
  GetUserStatusParams: {
    valid: [{ users: ["a"] }, { users: ["a", "b"], include_hidden: true }],
    invalid: [
      [{ users: ["a"], include_hidden: "yes" }, "include_hidden: must be true or false"],
      [{ users: [] }, "users: must be a non-empty array of user ids"],
    ],
  },
  ChannelParams: {
    valid: [{ channel: "public:test" }],
    invalid: [
      [{}, "channel is required"],
      [{ channel: "c", user: "u" }, 'unknown field "user"'],
    ],
  },
  UserChannelsParams: {
    valid: [{ user: "u" }],
    invalid: [[{ user: 5 }, `user: ${ID_RULE}`]],
  },
  IsPresentParams: {
    valid: [{ channel: "c", user: "u" }],
    invalid: [
      [{ channel: "c" }, "user is required"],
      [{ user: "u", channel: "c".repeat(257) }, `channel: ${CHANNEL_RULE}`],
    ],
  },
  HistoryParams: {
    valid: [{ user: "u" }, { channel: "c", since_ms: 0, until_ms: 10, limit: 1000 }, { user: "u", limit: 1 }],
    invalid: [
      [{ user: "u", limit: 0 }, "limit: must be an integer from 1 to 1000"],
      [{ user: "u", limit: 1001 }, "limit: must be an integer from 1 to 1000"],
      [
        { user: "u", since_ms: -1 },
        `since_ms: must be unix milliseconds (an integer from 0 to ${limits.timeMaxMs})`,
      ],
      [
        { user: "u", until_ms: 1.5 },
        `until_ms: must be unix milliseconds (an integer from 0 to ${limits.timeMaxMs})`,
      ],
    ],
  },
  StatusAtParams: {
    valid: [{ users: ["u"], at_ms: 0 }],
    invalid: [
      [{ users: ["u"] }, "at_ms is required"],
      [
        { users: ["u"], at_ms: "now" },
        `at_ms: must be unix milliseconds (an integer from 0 to ${limits.timeMaxMs})`,
      ],
    ],
  },
  EmptyResult: {
    valid: [{}],
    invalid: [[{ x: 1 }, 'unknown field "x"']],
  },
  GetUserStatusResult: {
    valid: [
      { statuses: [] },
      {
        statuses: [
          { user: "u", status: "online", online: 1, active: 1, manual: { status: "dnd", text: "t" } },
          { user: "v", status: "offline" },
        ],
      },
    ],
    invalid: [
      [{ statuses: [{ user: "u", status: "busy" }] }, "statuses[0].status: must be online, away or offline"],
      [{ statuses: [{ user: "u", status: "away", online: -1 }] }, /^statuses\[0\]\.online: /],
      [
        { statuses: [{ user: "u", status: "away", manual: { status: "auto" } }] },
        /^statuses\[0\]\.manual\.status: /,
      ],
    ],
  },
  PresenceResult: {
    valid: [{ members: [{ user: "u", conn: "c", data: {}, joined_at_ms: 1, updated_at_ms: 2 }] }],
    invalid: [
      [
        { members: [{ user: "u", conn: "c", data: {}, joined_at_ms: 1 }] },
        "members[0].updated_at_ms is required",
      ],
    ],
  },
  PresenceStatsResult: {
    valid: [{ num_clients: 2, num_users: 1 }],
    invalid: [
      [{ num_clients: 2, num_users: -1 }, /^num_users: /],
      [{ num_clients: 2 }, "num_users is required"],
    ],
  },
  ChannelUsersResult: {
    valid: [{ users: [] }, { users: ["a", "b"] }],
    invalid: [[{ users: [""] }, `users[0]: ${ID_RULE}`]],
  },
  UserChannelsResult: {
    valid: [{ channels: ["c"] }],
    invalid: [[{ channels: "c" }, /^channels: /]],
  },
  IsPresentResult: {
    valid: [{ present: true }, { present: false }],
    invalid: [[{ present: "yes" }, /^present: /]],
  },
  StatusAtResult: {
    valid: [{ statuses: [{ user: "u", status: "away" }] }],
    invalid: [
      [{ statuses: [{ user: "u", status: "away", online: 1 }] }, 'unknown field "statuses[0].online"'],
      [{ statuses: [{ status: "away" }] }, "statuses[0].user is required"],
    ],
  },
  HistoryResult: {
    valid: [{ events: [] }, { events: [statusEvent, joinEvent, leaveEvent] }],
    invalid: [
      [{ events: [{ type: "status" }] }, /^events\[0\]\.(user|status|prev|at_ms) is required$/],
      [{ events: [statusEvent, { ...leaveEvent, reason: "kicked" }] }, /^events\[1\]\.reason: /],
      [{ events: [{ ...statusEvent, prev: "gone" }] }, "events[0].prev: must be online, away or offline"],
    ],
  },
  StatusEvent: {
    valid: [statusEvent, { ...statusEvent, manual: { status: "invisible", expires_at_ms: 5 } }],
    invalid: [
      [{ ...statusEvent, prev: "x" }, "prev: must be online, away or offline"],
      [{ ...statusEvent, type: "join" }, /^type: /],
    ],
  },
  JoinEvent: {
    valid: [joinEvent, { type: "join", channel: "c", user: "u", conn: "k", data: {}, at_ms: 1 }],
    invalid: [
      [{ ...joinEvent, channel: "x".repeat(257) }, `channel: ${CHANNEL_RULE}`],
      [{ ...joinEvent, first: false }, /^first: /],
      [{ type: "join", channel: "c", user: "u", conn: "k", at_ms: 1 }, "data is required"],
      [{ ...joinEvent, reason: "leave" }, 'unknown field "reason"'],
    ],
  },
  UpdateEvent: {
    valid: [{ type: "update", channel: "c", user: "u", conn: "k", data: {}, at_ms: 3 }],
    invalid: [[{ type: "update", channel: "c", user: "u", conn: "k", at_ms: 3 }, "data is required"]],
  },
  LeaveEvent: {
    valid: [leaveEvent],
    invalid: [
      [{ ...leaveEvent, reason: "kicked" }, "reason: must be leave, disconnect or timeout"],
      [{ type: "leave", channel: "c", user: "u", conn: "k", at_ms: 1 }, "reason is required"],
    ],
  },
  StatusDoc: {
    valid: [
      { user: "u", status: "online", online: 1, active: 1, conns: 2, updated_at_ms: 3 },
      {
        user: "u",
        status: "offline",
        manual: { status: "invisible" },
        conns: 1,
        updated_at_ms: 3,
        hidden: true,
        actual: { status: "online", online: 1 },
      },
    ],
    invalid: [
      [{ user: "u", status: "online", conns: -1, updated_at_ms: 3 }, /^conns: /],
      [{ user: "u", status: "online", conns: 0, updated_at_ms: 3, hidden: false }, /^hidden: /],
      [{ user: "u", status: "online", updated_at_ms: 3 }, "conns is required"],
    ],
  },
  Command: {
    valid: commands,
    invalid: [
      [{ type: "heartbeat", user: "", conn: "k", ttl_ms: 30_000, at_ms: 1 }, `user: ${ID_RULE}`],
      [{ type: "heartbeat", user: "u", conn: "k", at_ms: 1 }, "ttl_ms is required"],
      [{ type: "activity", user: "u", conn: "k", at_ms: 1 }, 'unknown field "conn"'],
      [
        { type: "join", user: "u", conn: "k", channel: "c", data: [], ttl_ms: 1000, at_ms: 1 },
        "data: must be a JSON object",
      ],
      [{ type: "set_status", user: "u", status: "busy", at_ms: 1 }, /^status: /],
    ],
  },
  CommandBatch: {
    valid: [
      { v: 1, cmds: commands },
      { v: 1, cmds: [], tick_ms: 5 },
    ],
    invalid: [
      [{ v: 3, cmds: commands }, /^v: /],
      [{ v: 1, cmds: [{ type: "explode" }] }, /^cmds\[0\]/],
      [{ v: 1, cmds: [], tick_ms: -1 }, /^tick_ms: /],
      [
        { v: 1, cmds: [commands[0], { type: "forget", user: "a\u007f", at_ms: 1 }] },
        `cmds[1].user: ${ID_RULE}`,
      ],
      [{ cmds: commands }, "v is required"],
    ],
  },
  MemberDoc: {
    valid: [memberDoc, { ...memberDoc, hidden: true }],
    invalid: [
      [{ ...memberDoc, hidden: false }, /^hidden: /],
      [{ ...memberDoc, joined_at_ms: -1 }, /^joined_at_ms: /],
    ],
  },
  UserFact: {
    valid: [
      { type: "user", user: "u", doc: { user: "u", status: "offline", conns: 0, updated_at_ms: 1 } },
      { type: "user", user: "u", doc: null },
    ],
    invalid: [[{ type: "user", user: "u" }, "doc is required"]],
  },
  MemberFact: {
    valid: [
      { type: "member", channel: "c", user: "u", conn: "k", doc: memberDoc },
      { type: "member", channel: "c", user: "u", conn: "k", doc: null },
    ],
    invalid: [[{ type: "member", channel: "", user: "u", conn: "k", doc: null }, `channel: ${CHANNEL_RULE}`]],
  },
  Fact: {
    valid: [{ type: "user", user: "u", doc: null }],
    invalid: [[{ type: "member", user: "u", conn: "k", doc: null }, "channel is required"]],
  },
  CommandBatchEnvelope: {
    valid: [
      { v: 1, cmds: commands },
      { v: 1, cmds: [{ anything: true }] },
    ],
    invalid: [
      [{ v: 3, cmds: commands }, "v: must be a format version from 1 to 2"],
      [{ v: 1, cmds: "x" }, "cmds: must be an array"],
      [{ v: 1, cmds: [], tick_ms: 1.5 }, /^tick_ms: /],
      [{ v: 1, cmds: commands, x: 1 }, 'unknown field "x"'],
    ],
  },
  Verdict: {
    valid: [{ id: 0 }, { id: 7, code: 409, message: "update: not joined" }],
    invalid: [
      [{}, "id is required"],
      [{ id: -1 }, /^id: /],
      [{ id: 1, code: 200 }, /^code: /],
      [{ id: 1, extra: true }, 'unknown field "extra"'],
    ],
  },
};

describe("schemas: every message type", () => {
  it("has examples for every exported schema", () => {
    expect(Object.keys(examples).sort()).toEqual(Object.keys(S.schemas).sort());
  });

  for (const [name, schema] of Object.entries(S.schemas)) {
    describe(name, () => {
      const validator = compile(schema);
      const { valid, invalid } = examples[name] ?? { valid: [], invalid: [] };

      it("accepts valid examples", () => {
        expect(valid.length).toBeGreaterThan(0);
        for (const value of valid) {
          expect(validator.explain(value), JSON.stringify(value)).toBeUndefined();
          expect(validator.check(value)).toBe(true);
        }
      });

      it("rejects invalid examples, naming the field", () => {
        expect(invalid.length).toBeGreaterThan(0);
        for (const [value, message] of invalid) {
          expect(validator.check(value), JSON.stringify(value)).toBe(false);
          const explained = validator.explain(value);
          if (typeof message === "string") expect(explained).toBe(message);
          else expect(explained).toMatch(message);
        }
      });

      it("rejects values that are not objects", () => {
        for (const value of [null, undefined, 1, "x", true]) expect(validator.check(value)).toBe(false);
      });
    });
  }
});

describe("id rules (CONTRACT §1)", () => {
  const user = compile(S.DisconnectParams);
  const channel = compile(S.ChannelParams);
  const withUser = (id: unknown) => ({ user: id, conn: "c" });
  const withConn = (id: unknown) => ({ user: "u", conn: id });

  it.each([
    ["128 ASCII bytes", "a".repeat(128)],
    ["64 × é (128 bytes)", "é".repeat(64)],
    ["42 × € + 2 (128 bytes)", `${"€".repeat(42)}ab`],
    ["32 emoji (128 bytes)", "😀".repeat(32)],
    [".", "."],
    ["*", "*"],
    [">", ">"],
    ["a.b.*.>", "a.b.*.>"],
    ["a space", " "],
    ["spaces", "user with spaces"],
    [":", "public:test"],
    ["=", "=3A"],
    ["/", "a/b"],
    ["unicode", "ユーザー"],
    ["emoji", "🎉"],
    ["a ZWJ sequence", "👩‍💻"],
    ["U+0080 (C1, not a control character per CONTRACT)", "\u0080"],
    ["U+FEFF", "\uFEFF"],
    ["U+FFFD", "\uFFFD"],
  ])("accepts %s as user and conn", (_what, id) => {
    expect(user.explain(withUser(id))).toBeUndefined();
    expect(user.explain(withConn(id))).toBeUndefined();
  });

  it.each([
    ["empty", ""],
    ["129 ASCII bytes", "a".repeat(129)],
    ["64 × é + a (129 bytes)", `${"é".repeat(64)}a`],
    ["65 × é (130 bytes)", "é".repeat(65)],
    ["43 × € (129 bytes)", "€".repeat(43)],
    ["32 emoji + a (129 bytes)", `${"😀".repeat(32)}a`],
    ["U+0000", "a\u0000b"],
    ["U+001F", "\u001f"],
    ["U+007F", "abc\u007f"],
    ["a tab", "a\tb"],
    ["a newline", "a\n"],
    ["a lone high surrogate", "a\ud800"],
    ["a lone low surrogate", "\udc00a"],
    ["reversed surrogates", "\ude00\ud83d"],
    ["a number", 42],
    ["null", null],
  ])("rejects %s as user and conn, naming the field", (_what, id) => {
    expect(user.check(withUser(id))).toBe(false);
    expect(user.explain(withUser(id))).toBe(`user: ${ID_RULE}`);
    expect(user.explain(withConn(id))).toBe(`conn: ${ID_RULE}`);
  });

  it("bounds channels at 256 bytes", () => {
    expect(channel.check({ channel: "c".repeat(256) })).toBe(true);
    expect(channel.check({ channel: "é".repeat(128) })).toBe(true);
    expect(channel.check({ channel: "😀".repeat(64) })).toBe(true);
    expect(channel.explain({ channel: "c".repeat(257) })).toBe(`channel: ${CHANNEL_RULE}`);
    expect(channel.explain({ channel: `${"é".repeat(128)}c` })).toBe(`channel: ${CHANNEL_RULE}`);
    expect(channel.explain({ channel: "" })).toBe(`channel: ${CHANNEL_RULE}`);
    expect(channel.explain({ channel: "a\u0000" })).toBe(`channel: ${CHANNEL_RULE}`);
    expect(channel.explain({ channel: "a\u001f" })).toBe(`channel: ${CHANNEL_RULE}`);
    expect(channel.explain({ channel: "a\u007f" })).toBe(`channel: ${CHANNEL_RULE}`);
    expect(channel.check({ channel: "room.*.>: ☕" })).toBe(true);
  });

  it("matches the rule for any string", () => {
    const wellFormed = (s: string) => /^(?:[^\ud800-\udfff]|[\ud800-\udbff][\udc00-\udfff])*$/.test(s);
    const rule = (s: string, max: number) => {
      const bytes = new TextEncoder().encode(s).length;
      return bytes >= 1 && bytes <= max && ![...s].some((c) => c < " " || c === "\u007f") && wellFormed(s);
    };
    const strings = fc.oneof(
      fc.string({ unit: "binary", maxLength: 140 }),
      fc.string({ unit: "grapheme", minLength: 20, maxLength: 80 }),
      fc.string({ unit: fc.constantFrom("a", "é", "€", "😀", "\u0000", "\u007f", "\ud800"), maxLength: 70 }),
    );
    fc.assert(
      fc.property(strings, (s) => {
        expect(user.check(withUser(s))).toBe(rule(s, limits.idMaxBytes));
        expect(channel.check({ channel: s })).toBe(rule(s, limits.channelMaxBytes));
      }),
      { numRuns: 1000 },
    );
  });
});

describe("command batch codec", () => {
  it("round-trips every command type", () => {
    const bytes = encodeCommandBatch(commands);
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(decodeCommandBatch(bytes)).toEqual({ cmds: commands, rejected: [] });
  });

  it("round-trips odd ids, data and large times", () => {
    const cmds: internal.Command[] = [
      {
        type: "join",
        user: "ユーザー.*>",
        conn: "😀 tab",
        channel: "public:test",
        data: { nested: { list: [1, "two", null, true], n: -1.5 }, empty: {} },
        ttl_ms: 3_600_000,
        at_ms: 1_900_000_000_123,
      },
      { type: "heartbeat", user: "é".repeat(64), conn: "k", ttl_ms: 1000, at_ms: limits.timeMaxMs },
    ];
    expect(decodeCommandBatch(encodeCommandBatch(cmds))).toEqual({ cmds, rejected: [] });
  });

  it("round-trips generated commands", () => {
    const id = fc.string({ unit: "grapheme", minLength: 1, maxLength: 20 });
    const cmd = fc.record({
      type: fc.constant("heartbeat" as const),
      user: id,
      conn: id,
      ttl_ms: fc.integer({ min: 1000, max: 3_600_000 }),
      at_ms: fc.nat(),
    });
    fc.assert(
      fc.property(fc.array(cmd, { minLength: 1, maxLength: 5 }), (cmds) => {
        expect(decodeCommandBatch(encodeCommandBatch(cmds))).toEqual({ cmds, rejected: [] });
      }),
    );
  });

  function invalidMessage(bytes: Uint8Array): InvalidMessageError {
    try {
      decodeCommandBatch(bytes);
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidMessageError);
      return err as InvalidMessageError;
    }
    throw new Error("decodeCommandBatch did not throw");
  }

  it("rejects garbage bytes", () => {
    expect(invalidMessage(new Uint8Array([0xc1])).message).toMatch(/^command batch/);
    expect(invalidMessage(new Uint8Array([0xff, 0xff, 0xff])).name).toBe("InvalidMessageError");
    expect(invalidMessage(new Uint8Array([0x81, 0xa1])).message).toMatch(/^command batch/);
    expect(invalidMessage(new Uint8Array(0)).message).toMatch(/^command batch/);
    expect(invalidMessage(json.encode({ v: 1, cmds: commands })).message).toMatch(/^command batch/);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(() => decodeCommandBatch(bytes)).toThrow(InvalidMessageError);
      }),
    );
  });

  it("rejects a version newer than it knows, and a missing one", () => {
    const err = invalidMessage(msgpack.encode({ v: S.COMMAND_BATCH_VERSION + 1, cmds: commands }));
    expect(err.message).toBe(
      `command batch: v: must be a format version from 1 to ${S.COMMAND_BATCH_VERSION}`,
    );
    expect(invalidMessage(msgpack.encode({ v: 0, cmds: commands })).message).toMatch(/^command batch: v: /);
    expect(invalidMessage(msgpack.encode({ cmds: commands })).message).toBe("command batch: v is required");
  });

  it("rejects an empty cmds array without a tick, and decodes a tick", () => {
    expect(invalidMessage(encodeCommandBatch([])).message).toMatch(/^command batch: cmds: /);
    expect(decodeCommandBatch(encodeTick(1234))).toEqual({ cmds: [], rejected: [], tick: 1234 });
    expect(invalidMessage(msgpack.encode({ v: 1, cmds: [], tick_ms: -5 })).message).toMatch(
      /^command batch: tick_ms: /,
    );
  });

  it("rejects a bad command alone and keeps the others in order", () => {
    const bad = { type: "activity", user: "a\u0000", at_ms: 1 } as unknown as internal.Command;
    const first = commands[0] as internal.Command;
    const last = commands[1] as internal.Command;
    const decoded = decodeCommandBatch(encodeCommandBatch([first, bad, last]));
    expect(decoded.cmds).toEqual([first, last]);
    expect(decoded.rejected).toEqual([{ index: 1, reason: `cmds[1].user: ${ID_RULE}`, value: bad }]);
    const long = { type: "forget", user: "x".repeat(129), at_ms: 1 } as unknown as internal.Command;
    expect(decodeCommandBatch(encodeCommandBatch([long])).rejected[0]?.reason).toBe(
      `cmds[0].user: ${ID_RULE}`,
    );
  });

  it("rejects an unknown command type and unknown fields", () => {
    const unknown = { type: "explode", user: "u", at_ms: 1 } as unknown as internal.Command;
    const decoded = decodeCommandBatch(encodeCommandBatch([unknown]));
    expect(decoded.cmds).toEqual([]);
    expect(decoded.rejected[0]?.reason).toMatch(/^cmds\[0\]/);
    const extra = msgpack.encode({ v: 1, cmds: commands, x: 1 });
    expect(invalidMessage(extra).message).toBe('command batch: unknown field "x"');
  });
});

describe("fact codec", () => {
  it("round-trips facts and rejects bad ones", () => {
    const fact: internal.Fact = { type: "member", channel: "c.d", user: "é", conn: "*", doc: memberDoc };
    expect(decodeFact(encodeFact(fact))).toEqual(fact);
    expect(() => decodeFact(new Uint8Array([0xc1]))).toThrow(InvalidMessageError);
    const bad = msgpack.encode({ type: "user", user: "", doc: null });
    expect(() => decodeFact(bad)).toThrow(`fact.user: ${ID_RULE}`);
  });
});

describe("json codec", () => {
  it("round-trips JSON as UTF-8", () => {
    const value = { user: "é😀", n: 1, list: [true, null] };
    const bytes = json.encode(value);
    expect(new TextDecoder().decode(bytes)).toBe(JSON.stringify(value));
    expect(json.decode(bytes)).toEqual(value);
    expect(() => json.decode(new TextEncoder().encode("{"))).toThrow(SyntaxError);
  });
});
