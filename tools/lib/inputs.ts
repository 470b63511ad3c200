/**
 * Hostile and malformed API requests (CONTRACT.md §4, README "API reference"), each with what
 * its answer must be. A request is a valid one of a method with at most ONE thing made wrong,
 * so the answer can be told exactly (the code, and what the message must name); a few are
 * random through and through (any refusal will do, never a 500). Valid requests are mixed in.
 * Used by test/fuzz.test.ts and tools/fuzz.ts.
 *
 * The contract's numbers are written out here rather than imported from the code under test,
 * so that a limit that moves in the code is caught.
 */
import { COMMAND_METHODS, QUERY_METHODS } from "@herald/protocol";
import fc from "fast-check";

export const CONTRACT = {
  idMaxBytes: 128,
  channelMaxBytes: 256,
  dataMaxBytes: 4096,
  dataMaxDepth: 32,
  batchMax: 1000,
  historyMax: 1000,
  ttlMinMs: 1000,
  /** The end of year 9999, the largest time in milliseconds. */
  timeMaxMs: 253_402_300_799_999,
  manualExpiryMaxAheadMs: 366 * 86_400_000,
  statusTextMaxBytes: 256,
  statusEmojiMaxBytes: 64,
  requestMaxBytes: 1024 * 1024,
  /** Error messages repeat at most this many characters of what they were sent. */
  echoMaxChars: 120,
} as const;

/** Method names come from the contract package; the limits above are written out on purpose. */
export const COMMANDS = COMMAND_METHODS;
export const QUERIES = QUERY_METHODS;
export const METHODS: readonly string[] = [...COMMANDS, ...QUERIES];
export type Method = (typeof COMMANDS)[number] | (typeof QUERIES)[number];

/** What the message of a refusal must say: the field or the rule. */
export interface Mention {
  /** For reports: what was looked for. */
  readonly text: string;
  readonly test: (message: string) => boolean;
}

export type Expect =
  /** Well-formed: its result, or a refusal the state may give (409, 413, 429 from the owner). */
  | { readonly kind: "valid" }
  /** One thing wrong: one of `codes`, with a message that names it. */
  | { readonly kind: "invalid"; readonly codes: readonly number[]; readonly mention: Mention }
  /** Random: a result or any 4xx; never a 500, a 503 or silence. */
  | { readonly kind: "any" }
  /**
   * A probe of what garbage on internal subjects left behind (history of a `gz-` user): a result
   * of any shape (history returns what the events stream holds) or any 4xx.
   */
  | { readonly kind: "answered" };

export interface ApiInput {
  /** What kind of input this is (for the figures), e.g. `missing`, `bad-id`, `valid`. */
  readonly label: string;
  readonly method: string;
  /** The body as sent: text (UTF-8) or raw bytes. */
  readonly body: string | Uint8Array;
  readonly expect: Expect;
}

export interface InputOptions {
  /** The time the inputs are made for (unix ms): expiries are ahead of it, by minutes at least. */
  readonly nowMs: number;
  /** PRESENCE_MAX_TTL_MS of the workers. */
  readonly maxTtlMs: number;
  /** Ids no valid request may use (the canary's), users and channels alike. */
  readonly avoid: ReadonlySet<string>;
  /** Include the inputs of 0.7–1.1 MB (a long field name, a body over 1 MiB). */
  readonly big: boolean;
}

const utf8 = new TextEncoder();

export function bodyBytes(input: ApiInput): Uint8Array {
  return typeof input.body === "string" ? utf8.encode(input.body) : input.body;
}

/** Bytes of `s` as UTF-8. */
export function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, "utf8");
}

/** The contract's id rule: 1..max UTF-8 bytes, no U+0000–U+001F or U+007F, no lone surrogate. */
export function isContractId(s: string, maxBytes: number): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return false;
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return false;
  }
  return utf8Bytes(s) <= maxBytes;
}

// ---- mentions ----------------------------------------------------------------------------------

/** The message names `field` (as `field`, `field[i]` or `field.x`, not as part of another word). */
export function names(field: string): Mention {
  const escaped = field.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const re = new RegExp(`(^|[^A-Za-z0-9_])${escaped}($|[^A-Za-z0-9_])`);
  return { text: field, test: (m) => re.test(m) };
}

function matches(re: RegExp): Mention {
  return { text: String(re), test: (m) => re.test(m) };
}

function all(...mentions: Mention[]): Mention {
  return { text: mentions.map((m) => m.text).join(" and "), test: (m) => mentions.every((x) => x.test(m)) };
}

/** `unknown field "<name>"`: the name, or its first characters when long. */
function unknownField(name: string): Mention {
  const plain = !/[~/]/.test(name) && !/^\d+$/.test(name);
  const shown = JSON.stringify(name.slice(0, 40)).slice(0, -1);
  return plain
    ? all(matches(/unknown field/), { text: shown, test: (m) => m.includes(shown) })
    : matches(/unknown field/);
}

function invalid(
  label: string,
  method: string,
  body: string | Uint8Array,
  codes: number[],
  mention: Mention,
) {
  return { label, method, body, expect: { kind: "invalid", codes, mention } } satisfies ApiInput;
}

// ---- ids, data, values -------------------------------------------------------------------------

/** Valid ids that look like trouble: subject syntax, prototype names, escapes, limits exactly. */
const TRICKY_IDS = [
  "a.b c",
  "*",
  ">",
  "a.*.>",
  " ",
  "é",
  "🎉 party",
  "=41",
  "%2E",
  "../..",
  "__proto__",
  "constructor",
  "toString",
  "hasOwnProperty",
  "0",
  "null",
  "\u0085 next line (C1, allowed)",
  "\u00a0",
  "\u200b",
  "\u2028",
  "$KV.presence_status.x",
  "presence.api.join",
  "_INBOX.x",
  "x".repeat(CONTRACT.idMaxBytes),
  "é".repeat(CONTRACT.idMaxBytes / 2),
  "🎉".repeat(CONTRACT.idMaxBytes / 4),
];

/** Ids that break the rules: empty, too long in bytes, control characters, lone surrogates. */
function badIds(maxBytes: number): string[] {
  return [
    "",
    "\u0000",
    "a\u0000b",
    "tab\there",
    "line\n",
    "\u001f",
    "\u007f",
    "\ud800",
    "x\udc00",
    "\udc00\ud800",
    "x".repeat(maxBytes + 1),
    "é".repeat(maxBytes / 2 + 1),
    `${"🎉".repeat(maxBytes / 4)}x`,
  ];
}

const WRONG_FOR_STRING: unknown[] = [0, 1, -1, 1.5, true, false, null, [], ["a"], {}, { a: "b" }];
const WRONG_FOR_NUMBER: unknown[] = ["1000", "", true, null, [], {}, [1000]];
const WRONG_FOR_BOOL: unknown[] = ["true", 1, 0, null, [], {}];

function validId(
  pool: readonly string[],
  maxBytes: number,
  avoid: ReadonlySet<string>,
): fc.Arbitrary<string> {
  return fc
    .oneof(
      { weight: 6, arbitrary: fc.constantFrom(...pool) },
      { weight: 2, arbitrary: fc.constantFrom(...TRICKY_IDS.filter((s) => utf8Bytes(s) <= maxBytes)) },
      {
        weight: 2,
        arbitrary: fc
          .string({ unit: "binary", minLength: 1, maxLength: 12 })
          .filter((s) => isContractId(s, maxBytes)),
      },
    )
    .map((s) => (avoid.has(s) ? `${s}~` : s));
}

const USER_POOL = Array.from({ length: 16 }, (_, i) => `fz-u${i}`);
const CONN_POOL = Array.from({ length: 6 }, (_, i) => `c${i}`);
const CHANNEL_POOL = Array.from({ length: 8 }, (_, i) => `fz-room ${i}`);

/** An object with the entries as own enumerable properties (a `__proto__` key stays a key). */
export function objectOf(entries: readonly (readonly [string, unknown])[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of entries) {
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return o;
}

/** `levels` objects (or arrays) nested, as JSON text: `{"a":{"a":{}}}`. */
export function nestedJson(levels: number, arrays = false): string {
  return arrays
    ? `${"[".repeat(levels)}${"]".repeat(levels)}`
    : `${'{"a":'.repeat(levels - 1)}{}${"}".repeat(levels - 1)}`;
}

const jsonKey = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 8 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 4 }) },
  { weight: 2, arbitrary: fc.constantFrom("__proto__", "constructor", "prototype", "toString", "", "a.b") },
);

/** Valid member data: small JSON objects (with `__proto__` keys), and the limits exactly. */
function validData(): fc.Arbitrary<Record<string, unknown>> {
  const small = fc
    .array(fc.tuple(jsonKey, fc.jsonValue({ maxDepth: 3 })), { maxLength: 6 })
    .map((entries) => objectOf(entries))
    .filter((d) => utf8Bytes(JSON.stringify(d)) <= CONTRACT.dataMaxBytes);
  const proto = fc.jsonValue({ maxDepth: 2 }).map((v) =>
    objectOf([
      ["__proto__", objectOf([["polluted", v]])],
      ["ok", true],
    ]),
  );
  const deepest = fc.constant(JSON.parse(nestedJson(CONTRACT.dataMaxDepth)) as Record<string, unknown>);
  // `{"k":"xx…"}` of exactly 4096 bytes.
  const largest = fc.constant({ k: "x".repeat(CONTRACT.dataMaxBytes - 8) });
  return fc.oneof(
    { weight: 8, arbitrary: small },
    { weight: 3, arbitrary: proto },
    { weight: 1, arbitrary: deepest },
    { weight: 1, arbitrary: largest },
  );
}

function validText(maxBytes: number): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ unit: "grapheme", minLength: 1, maxLength: 10 }).filter((s) => isContractId(s, maxBytes)),
    fc.constant("x".repeat(maxBytes)),
  );
}

// ---- valid requests ----------------------------------------------------------------------------

type Kind =
  | "user"
  | "conn"
  | "channel"
  | "users"
  | "data"
  | "ttl"
  | "time"
  | "expires"
  | "status"
  | "text"
  | "emoji"
  | "bool"
  | "limit"
  | "heartbeats";

/** A valid request's params, with the kinds of the fields its form takes. */
interface Valid {
  readonly method: Method;
  readonly params: Record<string, unknown>;
  /** Every field this form of the method takes, required or not, with its kind. */
  readonly fields: Readonly<Record<string, Kind>>;
  readonly required: readonly string[];
}

function validRequests(opts: InputOptions): fc.Arbitrary<Valid> {
  const user = validId(USER_POOL, CONTRACT.idMaxBytes, opts.avoid);
  const conn = validId(CONN_POOL, CONTRACT.idMaxBytes, opts.avoid);
  const channel = validId(CHANNEL_POOL, CONTRACT.channelMaxBytes, opts.avoid);
  const ttl = fc.integer({ min: CONTRACT.ttlMinMs, max: opts.maxTtlMs });
  const time = fc.oneof(
    fc.integer({ min: 0, max: CONTRACT.timeMaxMs }),
    fc.constantFrom(0, CONTRACT.timeMaxMs, opts.nowMs),
  );
  const users = fc.oneof(
    { weight: 20, arbitrary: fc.array(user, { minLength: 1, maxLength: 5 }) },
    { weight: 1, arbitrary: fc.array(user, { minLength: CONTRACT.batchMax, maxLength: CONTRACT.batchMax }) },
  );
  const hb = fc
    .record({ user, conn, ttl_ms: fc.option(ttl, { nil: undefined }) })
    .map(({ ttl_ms, ...rest }) => (ttl_ms === undefined ? rest : { ...rest, ttl_ms }));
  const heartbeats = fc.oneof(
    { weight: 20, arbitrary: fc.array(hb, { minLength: 1, maxLength: 8 }) },
    { weight: 1, arbitrary: fc.array(hb, { minLength: CONTRACT.batchMax, maxLength: CONTRACT.batchMax }) },
  );
  const v = (
    method: Method,
    fields: Record<string, Kind>,
    required: string[],
    params: fc.Arbitrary<Record<string, unknown>>,
  ): fc.Arbitrary<Valid> => params.map((p) => ({ method, params: dropUndefined(p), fields, required }));
  const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
  const hbOne = { user: "user", conn: "conn", ttl_ms: "ttl" } as const;
  const member = { user: "user", conn: "conn", channel: "channel" } as const;
  const setStatus = {
    user: "user",
    status: "status",
    text: "text",
    emoji: "emoji",
    expires_at_ms: "expires",
  } as const;
  const expires = fc.integer({ min: 10 * 60_000, max: 365 * 86_400_000 }).map((d) => opts.nowMs + d);
  return fc.oneof(
    v("heartbeat", hbOne, ["user", "conn"], fc.record({ user, conn, ttl_ms: opt(ttl) })),
    v("heartbeat", { heartbeats: "heartbeats" }, ["heartbeats"], fc.record({ heartbeats })),
    v("disconnect", { user: "user", conn: "conn" }, ["user", "conn"], fc.record({ user, conn })),
    v("update_user_status", { users: "users" }, ["users"], fc.record({ users })),
    v("delete_user_status", { users: "users" }, ["users"], fc.record({ users })),
    v(
      "join",
      { ...member, data: "data" },
      ["user", "conn", "channel"],
      fc.record({ user, conn, channel, data: opt(validData()) }),
    ),
    v(
      "update",
      { ...member, data: "data" },
      ["user", "conn", "channel", "data"],
      fc.record({ user, conn, channel, data: validData() }),
    ),
    v("leave", member, ["user", "conn", "channel"], fc.record({ user, conn, channel })),
    v(
      "set_status",
      setStatus,
      ["user", "status"],
      fc.oneof(
        fc.record({
          user,
          status: fc.constantFrom("dnd", "invisible"),
          text: opt(validText(CONTRACT.statusTextMaxBytes)),
          emoji: opt(validText(CONTRACT.statusEmojiMaxBytes)),
          expires_at_ms: opt(expires),
        }),
        fc.record({ user, status: fc.constant("auto") }),
      ),
    ),
    v(
      "get_user_status",
      { users: "users", include_hidden: "bool" },
      ["users"],
      fc.record({ users, include_hidden: opt(fc.boolean()) }),
    ),
    v("presence", { channel: "channel" }, ["channel"], fc.record({ channel })),
    v("presence_stats", { channel: "channel" }, ["channel"], fc.record({ channel })),
    v("channel_users", { channel: "channel" }, ["channel"], fc.record({ channel })),
    v("user_channels", { user: "user" }, ["user"], fc.record({ user })),
    v("is_present", { channel: "channel", user: "user" }, ["channel", "user"], fc.record({ channel, user })),
    v(
      "history",
      { user: "user", channel: "channel", since_ms: "time", until_ms: "time", limit: "limit" },
      [],
      fc
        .record({
          who: fc.oneof(
            user.map((u) => ({ user: u })),
            channel.map((c) => ({ channel: c })),
          ),
          a: opt(time),
          b: opt(time),
          limit: opt(fc.integer({ min: 1, max: CONTRACT.historyMax })),
        })
        .map(({ who, a, b, limit }) => {
          // since ≤ until when both are given.
          const [since_ms, until_ms] = a !== undefined && b !== undefined && a > b ? [b, a] : [a, b];
          return { ...who, since_ms, until_ms, limit };
        }),
    ),
    v("status_at", { users: "users", at_ms: "time" }, ["users", "at_ms"], fc.record({ users, at_ms: time })),
  );
}

function dropUndefined(p: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(p).filter(([, x]) => x !== undefined));
}

// ---- one thing wrong ---------------------------------------------------------------------------

function wrongValues(kind: Kind): unknown[] {
  switch (kind) {
    case "user":
    case "conn":
    case "channel":
      return WRONG_FOR_STRING;
    case "text":
    case "emoji":
      return [...WRONG_FOR_STRING, ""];
    case "users":
      return ["fz-u0", 5, true, null, {}, { 0: "fz-u0" }, []];
    case "heartbeats":
      return ["x", 5, true, null, {}, []];
    case "data":
      return [[], ["a"], "x", "{}", 5, true, null];
    case "ttl":
    case "time":
    case "expires":
    case "limit":
      return [...WRONG_FOR_NUMBER, 1.5, -1];
    case "status":
      return [5, "online", "DND", "Auto", "", null, true, []];
    case "bool":
      return WRONG_FOR_BOOL;
  }
}

/** Values of a time field out of the contract's range. */
const TIMES_OUT_OF_RANGE = [CONTRACT.timeMaxMs + 1, 8.64e15, 1e16, 1e300, -1, 1.5, -8.64e15];

function withField(params: Record<string, unknown>, field: string, value: unknown): Record<string, unknown> {
  return objectOf([...Object.entries(params).filter(([k]) => k !== field), [field, value]]);
}

function without(params: Record<string, unknown>, field: string): Record<string, unknown> {
  return Object.fromEntries(Object.entries(params).filter(([k]) => k !== field));
}

/** Inputs that are a valid request with one thing wrong. */
function oneWrong(opts: InputOptions): fc.Arbitrary<ApiInput> {
  const valid = validRequests(opts);
  const json = (p: unknown) => JSON.stringify(p);

  const missing = valid
    .filter((r) => r.required.length > 0 || r.method === "history")
    .chain((r) =>
      r.method === "history"
        ? fc.constant(
            invalid(
              "missing",
              r.method,
              json(without(without(r.params, "user"), "channel")),
              [400],
              names("user and channel"),
            ),
          )
        : fc.constantFrom(...r.required).map((f) => {
            // Without `heartbeats` a heartbeat is read in its one-conn form: its user is missing.
            const field = f === "heartbeats" ? "(heartbeats|user)" : f;
            const mention = matches(new RegExp(`(^|\\W)${field} is required`));
            return invalid("missing", r.method, json(without(r.params, f)), [400], mention);
          }),
    );

  const wrongType = valid.chain((r) =>
    fc
      .constantFrom(...Object.keys(r.fields))
      .chain((f) =>
        fc
          .constantFrom(...wrongValues(r.fields[f] as Kind))
          .map((x) => invalid("wrong-type", r.method, json(withField(r.params, f, x)), [400], names(f))),
      ),
  );

  const badId = valid
    .filter((r) =>
      Object.values(r.fields).some(
        (k) => k === "user" || k === "conn" || k === "channel" || k === "users" || k === "heartbeats",
      ),
    )
    .chain((r) =>
      fc
        .constantFrom(
          ...Object.keys(r.fields).filter((f) =>
            ["user", "conn", "channel", "users", "heartbeats"].includes(r.fields[f] as string),
          ),
        )
        .chain((f) => {
          const kind = r.fields[f] as Kind;
          if (kind === "users") {
            const items = r.params[f] as string[] | undefined;
            const n = items?.length ?? 1;
            return fc
              .tuple(fc.nat(n - 1), fc.constantFrom(...badIds(CONTRACT.idMaxBytes), ...WRONG_FOR_STRING))
              .map(([i, bad]) => {
                const list = [...(items ?? ["fz-u0"])];
                list[i] = bad as string;
                return invalid(
                  "bad-id",
                  r.method,
                  json(withField(r.params, f, list)),
                  [400],
                  names(`${f}[${i}]`),
                );
              });
          }
          if (kind === "heartbeats") {
            const items = r.params[f] as Record<string, unknown>[];
            return fc
              .tuple(
                fc.nat(items.length - 1),
                fc.constantFrom("user", "conn"),
                fc.constantFrom(...badIds(CONTRACT.idMaxBytes)),
              )
              .map(([i, which, bad]) => {
                const list = [...items];
                list[i] = { ...list[i], [which]: bad };
                return invalid(
                  "bad-id",
                  r.method,
                  json(withField(r.params, f, list)),
                  [400],
                  names(`${f}[${i}].${which}`),
                );
              });
          }
          const max = kind === "channel" ? CONTRACT.channelMaxBytes : CONTRACT.idMaxBytes;
          return fc
            .constantFrom(...badIds(max))
            .map((bad) => invalid("bad-id", r.method, json(withField(r.params, f, bad)), [400], names(f)));
        }),
    );

  const unknown = valid.chain((r) => {
    const known = new Set([
      ...Object.keys(r.fields),
      ...(r.method === "heartbeat" ? ["user", "conn", "ttl_ms", "heartbeats"] : []),
    ]);
    return fc
      .oneof(
        fc.string({ unit: "binary", maxLength: 30 }),
        fc.constantFrom(
          "__proto__",
          "constructor",
          "toString",
          "valueOf",
          "hasOwnProperty",
          "USER",
          "user ",
          "data",
        ),
      )
      .filter((name) => !known.has(name))
      .chain((name) =>
        fc
          .jsonValue({ maxDepth: 2 })
          .map((x) =>
            invalid("unknown-field", r.method, json(withField(r.params, name, x)), [400], unknownField(name)),
          ),
      );
  });

  const methodsOf = (...ms: Method[]) => valid.filter((r) => ms.includes(r.method));

  const ttlOutOfRange = methodsOf("heartbeat").chain((r) =>
    fc.constantFrom(999, 0, -5, 1.5, opts.maxTtlMs + 1, 1e300).chain((ttl) => {
      if ("heartbeats" in r.params) {
        const items = r.params.heartbeats as Record<string, unknown>[];
        return fc.nat(items.length - 1).map((i) => {
          const list = [...items];
          list[i] = { ...list[i], ttl_ms: ttl };
          return invalid(
            "ttl-out-of-range",
            r.method,
            json({ heartbeats: list }),
            [400],
            names(`heartbeats[${i}].ttl_ms`),
          );
        });
      }
      return fc.constant(
        invalid("ttl-out-of-range", r.method, json({ ...r.params, ttl_ms: ttl }), [400], names("ttl_ms")),
      );
    }),
  );

  const timeOutOfRange = fc.oneof(
    methodsOf("history").chain((r) =>
      fc
        .tuple(fc.constantFrom("since_ms", "until_ms"), fc.constantFrom(...TIMES_OUT_OF_RANGE))
        .map(([f, t]) =>
          invalid("time-out-of-range", r.method, json(withField(r.params, f, t)), [400], names(f)),
        ),
    ),
    methodsOf("status_at").chain((r) =>
      fc
        .constantFrom(...TIMES_OUT_OF_RANGE)
        .map((t) =>
          invalid(
            "time-out-of-range",
            r.method,
            json(withField(r.params, "at_ms", t)),
            [400],
            names("at_ms"),
          ),
        ),
    ),
    methodsOf("set_status").chain((r) =>
      fc
        .constantFrom(
          ...TIMES_OUT_OF_RANGE,
          0,
          opts.nowMs - 1000,
          opts.nowMs + CONTRACT.manualExpiryMaxAheadMs + 86_400_000,
          CONTRACT.timeMaxMs,
        )
        .map((t) =>
          invalid(
            "time-out-of-range",
            r.method,
            json({
              ...r.params,
              status: r.params.status === "auto" ? "dnd" : r.params.status,
              expires_at_ms: t,
            }),
            [400],
            names("expires_at_ms"),
          ),
        ),
    ),
  );

  const historyRules = methodsOf("history").chain((r) =>
    fc.oneof(
      fc.constant(
        invalid(
          "history-rule",
          r.method,
          json({ ...r.params, user: "fz-u0", channel: "fz-room 0" }),
          [400],
          names("user and channel"),
        ),
      ),
      fc
        .tuple(fc.integer({ min: 0, max: CONTRACT.timeMaxMs - 1e9 }), fc.integer({ min: 1, max: 1e9 }))
        .map(([until, d]) =>
          invalid(
            "history-rule",
            r.method,
            json({ ...r.params, since_ms: until + d, until_ms: until }),
            [400],
            names("since_ms"),
          ),
        ),
      fc
        .constantFrom(0, CONTRACT.historyMax + 1, 1.5, -1, 1e300)
        .map((l) =>
          invalid("history-rule", r.method, json({ ...r.params, limit: l }), [400], names("limit")),
        ),
    ),
  );

  const setStatusRules = methodsOf("set_status").chain((r) =>
    fc.oneof(
      fc
        .constantFrom<[string, unknown]>(
          ["text", "x"],
          ["emoji", "🎉"],
          ["expires_at_ms", opts.nowMs + 3_600_000],
        )
        .map(([f, x]) =>
          invalid(
            "set-status-rule",
            r.method,
            json({ user: r.params.user, status: "auto", [f]: x }),
            [400],
            names(f),
          ),
        ),
      fc
        .tuple(
          fc.constantFrom(
            ["text", "x".repeat(CONTRACT.statusTextMaxBytes + 1)],
            ["text", "line\nbreak"],
            ["emoji", "🎉".repeat(CONTRACT.statusEmojiMaxBytes / 4 + 1)],
            ["emoji", "\u0000"],
          ),
        )
        .map(([[f, x]]) =>
          invalid(
            "set-status-rule",
            r.method,
            json({ user: r.params.user, status: "dnd", [f as string]: x }),
            [400],
            names(f as string),
          ),
        ),
    ),
  );

  const dataLimits = methodsOf("join", "update").chain((r) =>
    fc.oneof(
      fc.constantFrom(CONTRACT.dataMaxDepth + 1, 100, 5000).chain((levels) =>
        fc.boolean().map((arrays) => {
          const data = arrays ? `{"a":${nestedJson(levels - 1, true)}}` : nestedJson(levels);
          // A marker no valid id holds (a control character), replaced by the nested text.
          const body = json({ ...r.params, data: "\u0000" }).replace('"\\u0000"', data);
          return invalid("data-too-deep", r.method, body, [400], all(names("data"), matches(/nested|deep/)));
        }),
      ),
      fc
        .integer({ min: CONTRACT.dataMaxBytes - 7, max: 60_000 })
        .map((n) =>
          invalid(
            "data-too-large",
            r.method,
            json({ ...r.params, data: { k: "é".repeat(Math.ceil(n / 2)) } }),
            [413],
            all(names("data"), matches(/4096/)),
          ),
        ),
    ),
  );

  const batchSizes = valid
    .filter((r) => Object.values(r.fields).some((k) => k === "users" || k === "heartbeats"))
    .chain((r) => {
      const f = Object.keys(r.fields).find(
        (k) => r.fields[k] === "users" || r.fields[k] === "heartbeats",
      ) as string;
      const item = r.fields[f] === "users" ? "fz-u1" : { user: "fz-u1", conn: "c1" };
      return fc.oneof(
        fc.constant(invalid("empty-batch", r.method, json(withField(r.params, f, [])), [400], names(f))),
        fc.integer({ min: CONTRACT.batchMax + 1, max: CONTRACT.batchMax + 200 }).map((n) =>
          invalid(
            "oversized-batch",
            r.method,
            json(
              withField(
                r.params,
                f,
                Array.from({ length: n }, () => item),
              ),
            ),
            [413],
            all(names(f), matches(/1000/)),
          ),
        ),
      );
    });

  const notObject = fc
    .tuple(
      fc.constantFrom(...METHODS),
      fc.constantFrom(
        "[]",
        '[{"user":"a"}]',
        "5",
        '"str"',
        "null",
        "true",
        "false",
        "1e999",
        "-0",
        nestedJson(5000, true),
      ),
    )
    .map(([method, body]) => invalid("not-object", method, body, [400], matches(/JSON object/)));

  const emptyBody = fc
    .constantFrom(...METHODS)
    .map((method) => invalid("empty-body", method, "", [400], matches(/is required|exactly one of/)));

  const badJson = fc
    .tuple(
      fc.constantFrom(...METHODS),
      fc.oneof(
        fc.constantFrom(
          "{",
          '{"user":',
          "{'user':'a'}",
          '{user: "a"}',
          "[1,2",
          "undefined",
          "NaN",
          '{"a":1,}',
          '"unterminated',
          '{"a" 1}',
          "{}{}",
          '{"a":01}',
          "\u0000",
          '{"a":"\u0001"}',
          '{"a":Infinity}',
          " ",
          "\u2028",
        ),
        valid.chain((r) => {
          const text = json(r.params);
          return fc.nat(Math.max(0, text.length - 2)).map((cut) => text.slice(0, cut + 1));
        }),
        fc.string({ maxLength: 40 }),
      ),
    )
    .filter(([, body]) => body.length > 0 && !parses(body))
    .map(([method, body]) => invalid("bad-json", method, body, [400], matches(/not valid JSON/)));

  const SEQUENCES = [
    [0xff],
    [0xfe],
    [0xc0, 0x80],
    [0xc1, 0xbf],
    [0x80],
    [0xed, 0xa0, 0x80],
    [0xf4, 0x90, 0x80, 0x80],
    [0xe2, 0x82],
    [0xf0, 0x9f, 0x98],
    [0xf8, 0x88, 0x80, 0x80, 0x80],
  ];
  const badUtf8 = valid.chain((r) => {
    const text = utf8.encode(json(r.params));
    return fc.tuple(fc.nat(text.length), fc.constantFrom(...SEQUENCES)).map(([at, seq]) => {
      const bytes = new Uint8Array(text.length + seq.length);
      bytes.set(text.subarray(0, at), 0);
      bytes.set(seq, at);
      bytes.set(text.subarray(at), at + seq.length);
      return invalid("invalid-utf8", r.method, bytes, [400], matches(/UTF-8/));
    });
  });

  const unknownMethod = fc
    .tuple(
      fc.oneof(
        fc.constantFrom(
          "Heartbeat",
          "HEARTBEAT",
          "heartbeats",
          "join2",
          "__proto__",
          "constructor",
          "toString",
          "hasOwnProperty",
          "get_user_status.extra",
          "presence.stats",
          "admin",
          "$SRV",
          "a".repeat(1000),
        ),
        fc.stringMatching(/^[A-Za-z0-9_=-]{1,40}(\.[A-Za-z0-9_=-]{1,10}){0,3}$/),
      ),
      fc.oneof(
        fc.constant(""),
        valid.map((r) => json(r.params)),
        fc.string({ maxLength: 20 }),
      ),
    )
    .filter(([m]) => !METHODS.includes(m))
    .map(([method, body]) =>
      invalid(
        "unknown-method",
        method,
        body,
        [404],
        method.length <= 40
          ? all(matches(/unknown method/), { text: method, test: (m) => m.includes(method) })
          : matches(/unknown method/),
      ),
    );

  const arbs: fc.WeightedArbitrary<ApiInput>[] = [
    { weight: 6, arbitrary: missing },
    { weight: 10, arbitrary: wrongType },
    { weight: 8, arbitrary: badId },
    { weight: 6, arbitrary: unknown },
    { weight: 3, arbitrary: ttlOutOfRange },
    { weight: 5, arbitrary: timeOutOfRange },
    { weight: 2, arbitrary: historyRules },
    { weight: 2, arbitrary: setStatusRules },
    { weight: 4, arbitrary: dataLimits },
    { weight: 3, arbitrary: batchSizes },
    { weight: 2, arbitrary: notObject },
    { weight: 1, arbitrary: emptyBody },
    { weight: 4, arbitrary: badJson },
    { weight: 3, arbitrary: badUtf8 },
    { weight: 3, arbitrary: unknownMethod },
  ];
  if (opts.big) {
    const longName = valid.map((r) => {
      const name = `${"k".repeat(699_990)}-long-name`;
      return invalid(
        "long-unknown-field",
        r.method,
        json(withField(r.params, name, 1)),
        [400],
        all(unknownField(name), {
          text: "at most a few hundred characters",
          test: (m) => m.length < 400,
        }),
      );
    });
    const tooLarge = fc
      .tuple(
        fc.constantFrom(...METHODS),
        fc.integer({ min: CONTRACT.requestMaxBytes + 1, max: CONTRACT.requestMaxBytes + 60_000 }),
      )
      .map(([method, n]) => {
        const body = `{"users":["${"x".repeat(n - 13)}"]}`;
        return invalid("body-too-large", method, body, [413], matches(/request body/));
      });
    arbs.push({ weight: 1, arbitrary: longName }, { weight: 1, arbitrary: tooLarge });
  }
  return fc.oneof(...arbs);
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Every kind of input, valid ones mixed in (about one in six). */
export function apiInputs(opts: InputOptions): fc.Arbitrary<ApiInput> {
  const valid = validRequests(opts).map(
    (r): ApiInput => ({
      label: "valid",
      method: r.method,
      body: JSON.stringify(r.params),
      expect: { kind: "valid" },
    }),
  );
  const randomJson = fc.tuple(fc.constantFrom(...METHODS), fc.jsonValue()).map(
    ([method, v]): ApiInput => ({
      label: "random-json",
      method,
      body: JSON.stringify(v) ?? "null",
      expect: { kind: "any" },
    }),
  );
  const randomBytes = fc
    .tuple(fc.constantFrom(...METHODS), fc.uint8Array({ maxLength: 200 }))
    .map(([method, body]): ApiInput => ({ label: "random-bytes", method, body, expect: { kind: "any" } }));
  return fc.oneof(
    { weight: 12, arbitrary: valid },
    { weight: 60, arbitrary: oneWrong(opts) },
    { weight: 3, arbitrary: randomJson },
    { weight: 2, arbitrary: randomBytes },
  );
}
