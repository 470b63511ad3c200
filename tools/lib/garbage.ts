/**
 * Garbage on Herald's internal subjects, as a component allowed to publish there would send it
 * (ARCHITECTURE.md "Who owns what"): command batches (`herald.cmd.<p>.c`, as gateway), ticks
 * (`herald.cmd.<p>.t`, as presence-actor), events and facts (`herald.ev.…`, `herald.fact.…`, as
 * presence-actor; the nudge as status-projector), verdicts (`herald.verdict.<gateway>`, as
 * presence-actor), KV values (`$KV.presence_status.*`, `$KV.presence_members.*`, as
 * status-projector) and stats requests (`herald.admin.stats.*`, as an operator).
 *
 * Random bytes, msgpack of anything, nesting deeper than any stack, envelopes with one thing
 * wrong, valid commands with one field broken, times beyond the allowed clock skew, data that
 * is not JSON, `__proto__` keys, and valid messages mixed in. Everything names users, conns and
 * channels of its own (`gz-…`), never the canary's or the API fuzz's, so what it is allowed to
 * change (a `gz-` user's status) changes nothing that is checked. One thing it does not send:
 * a tick or a command stamped ahead of now by less than the allowed skew (60 s), which the
 * owner trusts by design and which would time out the canary's conn; ticks beyond it are sent
 * and must be dead-lettered.
 */
import { encodeToken, internalSubjects, msgpack } from "@herald/protocol";
import fc from "fast-check";
import { CONTRACT, nestedJson, objectOf } from "./inputs.js";
import type { NatsUser } from "./stack.js";

export interface Garbage {
  /** The family, for the figures: `cmd`, `tick`, `event`, `fact`, `verdict`, `kv`, `stats`. */
  readonly family: string;
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers?: Readonly<Record<string, string>>;
  /** Who publishes it. */
  readonly as: NatsUser;
}

export interface GarbageOptions {
  readonly partitions: number;
  /** The id of the running gateway (its verdict subject is `herald.verdict.<id>`). */
  readonly gatewayId: string;
  /** The time now (unix ms), read when each value is made. */
  readonly now: () => number;
}

/** The ids garbage names: `gz-…`. */
export const GARBAGE_USERS = Array.from({ length: 24 }, (_, i) => `gz-u${i}`);
export const GARBAGE_CHANNELS = Array.from({ length: 6 }, (_, i) => `gz-room ${i}`);

const enc = new TextEncoder();
const pack = (v: unknown): Uint8Array => msgpack.encode(v);

/** msgpack of `levels` arrays nested (0x91 = an array of one), deeper than any decoder's stack. */
function deepMsgpack(levels: number): Uint8Array {
  const bytes = new Uint8Array(levels + 1).fill(0x91);
  bytes[levels] = 0xc0;
  return bytes;
}

const randomBytes = fc.uint8Array({ maxLength: 400 });
const anyValue = fc.anything({
  maxDepth: 4,
  withNullPrototype: true,
  withMap: true,
  withSet: true,
  withDate: true,
});
const user = fc.constantFrom(...GARBAGE_USERS);
const channel = fc.constantFrom(...GARBAGE_CHANNELS);
const conn = fc.constantFrom("g0", "g1", "g2");

/**
 * How far ahead of now a stamp or tick is sent to be refused: beyond the 60 s presence-actor
 * allows (tuning.maxClockAheadMs), with room for the time between making it and storing it.
 */
const BEYOND_SKEW_MS = 65_000;
/** Ahead, but within that: applied as at most a second ahead (tuning.clockSkewMs), ending no conn early. */
const WITHIN_SKEW_MS = 30_000;

const BAD_IDS = ["", "\u0000", "x".repeat(CONTRACT.idMaxBytes + 1), "\ud800", 5, null, [], {}];
const BAD_TIMES = [-1, 1.5, CONTRACT.timeMaxMs + 1, 1e300, "1000", null];
/** `data` of a join/update as JSON text (format version 2): broken in every way but valid JSON too. */
const DATA_TEXTS = [
  "not json",
  "[]",
  "5",
  "null",
  '"text"',
  nestedJson(5000),
  nestedJson(CONTRACT.dataMaxDepth + 1),
  `{"k":"${"x".repeat(CONTRACT.dataMaxBytes)}"}`,
  '{"__proto__":{"polluted":true}}',
  "{}",
];

/** A valid stamped command of a `gz-` user (`at` not ahead of now). */
function command(type: string, u: string, c: string, ch: string, at: number): Record<string, unknown> {
  switch (type) {
    case "heartbeat":
      return { type, user: u, conn: c, ttl_ms: 30_000, at_ms: at };
    case "disconnect":
      return { type, user: u, conn: c, at_ms: at };
    case "activity":
    case "forget":
      return { type, user: u, at_ms: at };
    case "join":
    case "update":
      return { type, user: u, conn: c, channel: ch, data: '{"g":1}', ttl_ms: 30_000, at_ms: at };
    case "leave":
      return { type, user: u, conn: c, channel: ch, ttl_ms: 30_000, at_ms: at };
    default:
      return { type: "set_status", user: u, status: "dnd", at_ms: at };
  }
}

const TYPES = ["heartbeat", "disconnect", "activity", "forget", "join", "update", "leave", "set_status"];

/** A valid command, or one with one field broken. */
function commands(now: () => number): fc.Arbitrary<Record<string, unknown>> {
  const valid = fc
    .tuple(fc.constantFrom(...TYPES), user, conn, channel, fc.integer({ min: 0, max: 3_600_000 }))
    .map(([t, u, c, ch, ago]) => command(t, u, c, ch, now() - ago));
  const broken = valid.chain((cmd) =>
    fc.oneof(
      fc
        .tuple(fc.constantFrom(...Object.keys(cmd)), fc.constantFrom<unknown>(...BAD_IDS, ...BAD_TIMES))
        .map(([field, x]) => ({ ...cmd, [field]: x })),
      // Beyond the clock skew the owner allows: dead-lettered, the partition's clock unmoved;
      // within it: applied as stamped a second ahead at most.
      fc
        .constantFrom(WITHIN_SKEW_MS, BEYOND_SKEW_MS, 3_600_000, 1e9)
        .map((ahead) => ({ ...cmd, at_ms: now() + ahead })),
      fc
        .constantFrom(...DATA_TEXTS)
        .map((data) => ({ ...cmd, type: "join", conn: "g0", channel: "gz-room 0", data, ttl_ms: 30_000 })),
      // Format version 1 carried data as a map: one with a `__proto__` key.
      fc.constant({
        ...command("join", "gz-u0", "g0", "gz-room 0", now()),
        data: objectOf([["__proto__", { polluted: true }]]),
      }),
      fc.constantFrom("bad", "gzgw.1", "x.99999999999999999", 5).map((reply) => ({ ...cmd, reply })),
      fc.constantFrom<unknown>("explode", "__proto__", 5, null).map((type) => ({ ...cmd, type })),
      fc.constant(objectOf([...Object.entries(cmd), ["__proto__", { polluted: true }]])),
      anyValue.map((x) => ({ ...cmd, extra: x })),
    ),
  );
  return fc.oneof(
    { weight: 1, arbitrary: valid },
    { weight: 4, arbitrary: broken },
    { weight: 1, arbitrary: anyValue as fc.Arbitrary<Record<string, unknown>> },
  );
}

function partition(partitions: number): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 20, arbitrary: fc.nat(partitions - 1).map(String) },
    { weight: 1, arbitrary: fc.constantFrom("99", "x", "-1") },
  );
}

export function garbage(opts: GarbageOptions): fc.Arbitrary<Garbage> {
  const { now } = opts;
  const anyPayload = fc.oneof(
    { weight: 4, arbitrary: randomBytes },
    { weight: 4, arbitrary: anyValue.map(pack) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        deepMsgpack(100_000),
        deepMsgpack(5000),
        new Uint8Array(0),
        enc.encode("{}"),
        enc.encode("null"),
      ),
    },
  );

  const cmd = fc
    .tuple(
      partition(opts.partitions),
      fc.oneof(
        { weight: 3, arbitrary: anyPayload },
        {
          weight: 6,
          arbitrary: fc
            .array(commands(now), { minLength: 1, maxLength: 5 })
            .map((cmds) => pack({ v: 2, cmds })),
        },
        {
          weight: 2,
          arbitrary: fc
            .tuple(
              fc.constantFrom<unknown>(0, 3, "2", null, 1.5, undefined),
              fc.array(commands(now), { maxLength: 2 }),
            )
            .map(([v, cmds]) => pack({ v, cmds })),
        },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            pack({ v: 2, cmds: [] }),
            pack({ v: 2, cmds: [], tick_ms: now() - 1000 }),
            pack({ v: 2, cmds: "x" }),
            pack([2, []]),
          ),
        },
      ),
    )
    .map(([p, data]): Garbage => ({ family: "cmd", subject: `herald.cmd.${p}.c`, data, as: "gateway" }));

  const tick = fc
    .tuple(
      partition(opts.partitions),
      fc.oneof(
        { weight: 2, arbitrary: anyPayload },
        {
          weight: 4,
          arbitrary: fc
            .oneof(
              // Read when each value is made: a time fixed when the arbitrary was built would fall
              // within the allowed skew as the run goes on, and move the partition's clock.
              fc
                .constantFrom(WITHIN_SKEW_MS, BEYOND_SKEW_MS, 86_400_000)
                .map((ahead): unknown => now() + ahead),
              fc.constant(3_600_000).map((ago): unknown => now() - ago),
              fc.constantFrom<unknown>(1e300, -1, 1.5, "1000", null, 0, CONTRACT.timeMaxMs + 1),
            )
            .map((t) => pack({ v: 2, cmds: [], tick_ms: t })),
        },
        {
          weight: 1,
          arbitrary: fc
            .array(commands(now), { minLength: 1, maxLength: 2 })
            .map((cmds) => pack({ v: 2, cmds, tick_ms: now() - 1000 })),
        },
      ),
    )
    .map(
      ([p, data]): Garbage => ({ family: "tick", subject: `herald.cmd.${p}.t`, data, as: "presence-actor" }),
    );

  const jsonish = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }).map((v) => enc.encode(JSON.stringify(v) ?? "null")),
    fc
      .record({
        type: fc.constantFrom("status", "join", "leave", "update", "x"),
        at_ms: fc.oneof(fc.integer(), fc.double()),
        status: fc.constantFrom("online", "offline", "away", "x"),
      })
      .map((e) => enc.encode(JSON.stringify(e))),
    randomBytes,
    fc.constant(enc.encode(nestedJson(5000, true))),
  );
  const event = fc
    .tuple(
      fc.constantFrom("user", "channel", ""),
      fc.oneof(user, channel, fc.constantFrom("=ZZ", "x")),
      jsonish,
    )
    .map(
      ([kind, id, data]): Garbage => ({
        family: "event",
        subject:
          kind === "" ? "herald.ev.x" : `herald.ev.${kind}.${id.startsWith("gz") ? encodeToken(id) : id}`,
        data,
        as: "presence-actor",
      }),
    );

  const statusDoc = fc
    .tuple(user, fc.constantFrom("online", "away", "offline", "x"), fc.integer({ min: -1, max: 3 }))
    .map(([u, status, conns]) => ({
      user: u,
      status,
      conns,
      updated_at_ms: now(),
      online: Math.floor(now() / 1000),
    }));
  const memberDoc = fc
    .tuple(user, conn, channel, fc.constantFrom<unknown>('{"g":1}', ...DATA_TEXTS, { map: 1 }))
    .map(([u, c, ch, data]) => ({
      channel: ch,
      user: u,
      conn: c,
      data,
      joined_at_ms: now(),
      updated_at_ms: now(),
    }));
  const fact = fc
    .oneof(
      {
        weight: 2,
        arbitrary: fc
          .tuple(user, anyPayload)
          .map(([u, data]) => ({ subject: internalSubjects.userFact(u), data })),
      },
      {
        weight: 3,
        arbitrary: fc.tuple(statusDoc, fc.boolean(), anyValue).map(([doc, removal, extra]) => ({
          subject: internalSubjects.userFact(doc.user),
          data: pack(
            removal
              ? { type: "user", user: doc.user, doc: null }
              : { type: "user", user: doc.user, doc: { ...doc, extra } },
          ),
        })),
      },
      {
        weight: 3,
        arbitrary: statusDoc.map((doc) => ({
          subject: internalSubjects.userFact(doc.user),
          data: pack({ type: "user", user: doc.user, doc }),
        })),
      },
      {
        weight: 3,
        arbitrary: memberDoc.map((doc) => ({
          subject: internalSubjects.memberFact(doc.channel, doc.user, doc.conn),
          data: pack({ type: "member", channel: doc.channel, user: doc.user, conn: doc.conn, doc }),
        })),
      },
      { weight: 1, arbitrary: anyPayload.map((data) => ({ subject: internalSubjects.factNudge, data })) },
    )
    .map(
      ({ subject, data }): Garbage => ({
        family: "fact",
        subject,
        data,
        as: subject === internalSubjects.factNudge ? "status-projector" : "presence-actor",
      }),
    );

  const verdict = fc
    .tuple(
      fc.oneof(
        { weight: 4, arbitrary: fc.constant(opts.gatewayId) },
        { weight: 1, arbitrary: fc.constantFrom("gzgw", "x") },
      ),
      fc.oneof(
        anyPayload,
        fc
          .tuple(
            fc.oneof(
              fc.integer({ min: 2 ** 40, max: 2 ** 50 }),
              fc.constantFrom<unknown>(-1, 1.5, "1", null),
            ),
            fc.constantFrom<unknown>(undefined, 200, 409, 500, 600, "x"),
            anyValue,
          )
          .map(([id, code, message]) => pack({ id, code, message })),
      ),
    )
    .map(
      ([gw, data]): Garbage => ({
        family: "verdict",
        subject: internalSubjects.verdicts(gw),
        data,
        as: "presence-actor",
      }),
    );

  const kv = fc
    .oneof(
      {
        weight: 3,
        arbitrary: fc
          .tuple(
            fc.oneof(user.map(encodeToken), fc.constantFrom("=ZZ", "gz=2")),
            fc.oneof(
              statusDoc.map((d) => enc.encode(JSON.stringify(d))),
              jsonish,
            ),
          )
          .map(([key, data]) => ({ subject: `$KV.presence_status.${key}`, data })),
      },
      {
        weight: 2,
        arbitrary: fc.tuple(memberDoc, fc.oneof(fc.constant(undefined), jsonish)).map(([doc, data]) => ({
          subject: `$KV.presence_members.${encodeToken(doc.channel)}.${encodeToken(doc.user)}.${encodeToken(doc.conn)}`,
          data: data ?? enc.encode(JSON.stringify({ ...doc, data: { g: 1 } })),
        })),
      },
      {
        weight: 1,
        arbitrary: fc.tuple(user, fc.constantFrom("DEL", "PURGE", "x")).map(([u, op]) => {
          const headers: Record<string, string> = { "KV-Operation": op };
          if (op === "PURGE") headers["Nats-Rollup"] = "sub";
          return { subject: `$KV.presence_status.${encodeToken(u)}`, data: new Uint8Array(0), headers };
        }),
      },
    )
    .map((g): Garbage => ({ family: "kv", ...g, as: "status-projector" }));

  return fc.oneof(
    { weight: 6, arbitrary: cmd },
    { weight: 2, arbitrary: tick },
    { weight: 2, arbitrary: event },
    { weight: 4, arbitrary: fact },
    { weight: 2, arbitrary: verdict },
    { weight: 3, arbitrary: kv },
  );
}

/** Bodies of stats requests (`herald.admin.stats.<component>`, as an operator). */
export const STATS_BODIES: readonly Uint8Array[] = [
  enc.encode("null"),
  enc.encode("[]"),
  enc.encode('"gc"'),
  enc.encode("5"),
  enc.encode('{"gc":"yes"}'),
  enc.encode('{"gc":1}'),
  enc.encode("{"),
  new Uint8Array([0xff, 0xfe]),
  enc.encode('{"__proto__":{"gc":true}}'),
  new Uint8Array(0),
  enc.encode("{}"),
];
