import { describe, expect, it } from "vitest";
import { type ApiRequest, type ParseOptions, parseParams, parseRequest } from "./api.js";
import {
  ConflictError,
  ErrorCode,
  HeraldError,
  InvalidParamsError,
  NotReadyError,
  RateLimitedError,
  TooLargeError,
  toHeraldError,
  UnknownMethodError,
} from "./errors.js";
import { limits } from "./limits.js";
import { COMMAND_METHODS, QUERY_METHODS } from "./methods.js";

const NOW = 1_900_000_000_000;
const opts: ParseOptions = { maxTtlMs: 3_600_000, nowMs: NOW };

const utf8 = new TextEncoder();
const body = (value: unknown): Uint8Array => utf8.encode(JSON.stringify(value));
const parse = (method: string, params: unknown): ApiRequest => parseRequest(method, body(params), opts);

type ErrorClass = new (...args: never[]) => HeraldError;

/** The HeraldError `fn` throws, checked for class and public code. */
function rejects(fn: () => unknown, cls: ErrorClass, code: number): HeraldError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(cls);
    expect(err).toBeInstanceOf(HeraldError);
    const e = err as HeraldError;
    expect(e.code).toBe(code);
    expect(e.toJSON()).toEqual({ error: { code, message: e.message } });
    expect(toHeraldError(e)).toBe(e);
    return e;
  }
  throw new Error("did not throw");
}

const invalid = (method: string, params: unknown) =>
  rejects(() => parse(method, params), InvalidParamsError, 400);
const tooLarge = (method: string, params: unknown) =>
  rejects(() => parse(method, params), TooLargeError, 413);

const users = (n: number) => Array.from({ length: n }, (_, i) => `user-${i}`);
const heartbeats = (n: number) => Array.from({ length: n }, (_, i) => ({ user: `u${i}`, conn: "c" }));

describe("parseRequest: methods", () => {
  it("answers an unknown method with 404, naming it", () => {
    for (const method of ["nope", "", "HEARTBEAT", "presence.api.heartbeat", "toString", "__proto__"]) {
      const err = rejects(() => parse(method, {}), UnknownMethodError, ErrorCode.UnknownMethod);
      expect(err.message).toBe(`unknown method ${JSON.stringify(method)}`);
      expect((err as UnknownMethodError).method).toBe(method);
    }
    rejects(() => parseParams("nope", {}, opts), UnknownMethodError, 404);
  });

  it("checks the method before the body", () => {
    rejects(() => parseRequest("nope", utf8.encode("{bad"), opts), UnknownMethodError, 404);
    rejects(
      () => parseRequest("nope", new Uint8Array(limits.requestMaxBytes + 1), opts),
      UnknownMethodError,
      404,
    );
  });

  it("knows every method of the contract", () => {
    const valid: Record<string, unknown> = {
      heartbeat: { user: "u", conn: "c" },
      disconnect: { user: "u", conn: "c" },
      update_user_status: { users: ["u"] },
      delete_user_status: { users: ["u"] },
      join: { user: "u", conn: "c", channel: "ch" },
      update: { user: "u", conn: "c", channel: "ch", data: {} },
      leave: { user: "u", conn: "c", channel: "ch" },
      set_status: { user: "u", status: "dnd" },
      get_user_status: { users: ["u"] },
      presence: { channel: "ch" },
      presence_stats: { channel: "ch" },
      channel_users: { channel: "ch" },
      user_channels: { user: "u" },
      is_present: { channel: "ch", user: "u" },
      history: { user: "u" },
      status_at: { users: ["u"], at_ms: 0 },
    };
    expect(Object.keys(valid).sort()).toEqual([...COMMAND_METHODS, ...QUERY_METHODS].sort());
    for (const [method, params] of Object.entries(valid)) {
      const req = parse(method, params);
      expect(req.method).toBe(method);
      if (method !== "heartbeat") expect(req.params).toEqual(params);
    }
  });
});

describe("parseRequest: body", () => {
  it("answers bad JSON with 400", () => {
    for (const text of ["{", "{user: 1}", "nope", "{'a':1}", '{"user":"u",}', "\u00ff"]) {
      const err = rejects(() => parseRequest("disconnect", utf8.encode(text), opts), InvalidParamsError, 400);
      expect(err.message).toMatch(/^body is not valid JSON/);
    }
  });

  it("answers JSON that is not an object with 400", () => {
    for (const value of [null, [], 1, "x", true]) {
      expect(invalid("disconnect", value).message).toBe("params must be a JSON object");
      expect(invalid("heartbeat", value).message).toBe("params must be a JSON object");
    }
  });

  it("reads an empty body as {}", () => {
    const empty = new Uint8Array(0);
    expect(rejects(() => parseRequest("disconnect", empty, opts), InvalidParamsError, 400).message).toBe(
      "user is required",
    );
    expect(rejects(() => parseRequest("presence", empty, opts), InvalidParamsError, 400).message).toBe(
      "channel is required",
    );
  });

  it("answers a body over limits.requestMaxBytes with 413 before parsing it", () => {
    const over = new Uint8Array(limits.requestMaxBytes + 1).fill(0x20);
    const err = rejects(() => parseRequest("heartbeat", over, opts), TooLargeError, ErrorCode.TooLarge);
    expect(err.message).toContain(String(limits.requestMaxBytes));
    expect(err.message).toContain(String(limits.requestMaxBytes + 1));
    // Exactly at the limit it is parsed (and here rejected for its content, not its size).
    const at = utf8.encode(JSON.stringify({ users: ["x".repeat(limits.requestMaxBytes - 14)] }));
    expect(at.length).toBe(limits.requestMaxBytes);
    const e = rejects(() => parseRequest("update_user_status", at, opts), InvalidParamsError, 400);
    expect(e.message).toMatch(/^users\[0\]: /);
  });

  it("reports unknown and missing fields by name", () => {
    expect(invalid("disconnect", { user: "u", conn: "c", x: 1 }).message).toBe('unknown field "x"');
    expect(invalid("disconnect", { conn: "c" }).message).toBe("user is required");
    expect(invalid("join", { user: "u", conn: "c" }).message).toBe("channel is required");
    expect(invalid("user_channels", { user: "" }).message).toMatch(/^user: /);
  });
});

describe("heartbeat", () => {
  it("normalizes the single form to the batch form", () => {
    expect(parse("heartbeat", { user: "u", conn: "c" })).toEqual({
      method: "heartbeat",
      params: { heartbeats: [{ user: "u", conn: "c" }] },
    });
    expect(parse("heartbeat", { user: "u", conn: "c", ttl_ms: 5000 }).params).toEqual({
      heartbeats: [{ user: "u", conn: "c", ttl_ms: 5000 }],
    });
  });

  it("keeps the batch form", () => {
    const hbs = [
      { user: "a", conn: "1" },
      { user: "b", conn: "2", ttl_ms: 1000 },
    ];
    expect(parse("heartbeat", { heartbeats: hbs })).toEqual({
      method: "heartbeat",
      params: { heartbeats: hbs },
    });
  });

  it("accepts a batch of 1000 and answers 1001 with 413", () => {
    const req = parse("heartbeat", { heartbeats: heartbeats(limits.batchMax) });
    expect(req.method === "heartbeat" && req.params.heartbeats.length).toBe(1000);
    const err = tooLarge("heartbeat", { heartbeats: heartbeats(limits.batchMax + 1) });
    expect(err.message).toContain("heartbeats");
    expect(err.message).toContain("1001");
    expect(err.message).toContain("1000");
  });

  it("rejects an empty batch and bad items by index", () => {
    expect(invalid("heartbeat", { heartbeats: [] }).message).toMatch(/^heartbeats: /);
    expect(invalid("heartbeat", { heartbeats: [{ user: "u", conn: "c" }, { user: "u" }] }).message).toBe(
      "heartbeats[1].conn is required",
    );
    expect(invalid("heartbeat", { heartbeats: [{ user: "u", conn: "c" }], user: "u" }).message).toBe(
      'unknown field "user"',
    );
  });

  it("bounds ttl_ms from 1000 to PRESENCE_MAX_TTL_MS", () => {
    expect(invalid("heartbeat", { user: "u", conn: "c", ttl_ms: 999 }).message).toMatch(/^ttl_ms: .*1000/);
    expect(invalid("heartbeat", { user: "u", conn: "c", ttl_ms: 1000.5 }).message).toMatch(/^ttl_ms: /);
    expect(invalid("heartbeat", { user: "u", conn: "c", ttl_ms: "5000" }).message).toMatch(/^ttl_ms: /);
    expect(invalid("heartbeat", { heartbeats: [{ user: "u", conn: "c", ttl_ms: 999 }] }).message).toMatch(
      /^heartbeats\[0\]\.ttl_ms: /,
    );
    expect(parse("heartbeat", { user: "u", conn: "c", ttl_ms: 1000 }).method).toBe("heartbeat");
    expect(parse("heartbeat", { user: "u", conn: "c", ttl_ms: opts.maxTtlMs }).method).toBe("heartbeat");
    const over = invalid("heartbeat", { user: "u", conn: "c", ttl_ms: opts.maxTtlMs + 1 });
    // The single form names the field the client sent, not the normalized batch.
    expect(over.message).toMatch(/^ttl_ms: must be at most 3600000 \(PRESENCE_MAX_TTL_MS\)/);
    expect(over.message).toContain("PRESENCE_MAX_TTL_MS");
    expect(over.message).toContain(String(opts.maxTtlMs));
    const batch = invalid("heartbeat", {
      heartbeats: [
        { user: "u", conn: "c" },
        { user: "u", conn: "d", ttl_ms: opts.maxTtlMs + 1 },
      ],
    });
    expect(batch.message).toMatch(/^heartbeats\[1\]\.ttl_ms: .*PRESENCE_MAX_TTL_MS/);
    // The maximum is the configured one, not a constant.
    const small = { maxTtlMs: 5000, nowMs: NOW };
    expect(() => parseParams("heartbeat", { user: "u", conn: "c", ttl_ms: 5001 }, small)).toThrow(
      InvalidParamsError,
    );
    expect(parseParams("heartbeat", { user: "u", conn: "c", ttl_ms: 5000 }, small).method).toBe("heartbeat");
  });
});

describe("batch size", () => {
  it("is checked only for the method's own batch field", () => {
    const many = Array.from({ length: limits.batchMax + 1 }, (_, i) => ({ user: `u${i}`, conn: "c" }));
    expect(invalid("disconnect", { user: "u", conn: "c", heartbeats: many }).message).toBe(
      'unknown field "heartbeats"',
    );
  });
});

describe("users batches", () => {
  it.each(["update_user_status", "delete_user_status", "get_user_status", "status_at"])(
    "%s accepts 1..1000 users, answers 1001 with 413 and none with 400",
    (method) => {
      const extra = method === "status_at" ? { at_ms: 0 } : {};
      expect(parse(method, { users: users(1), ...extra }).method).toBe(method);
      expect(parse(method, { users: users(limits.batchMax), ...extra }).method).toBe(method);
      const err = tooLarge(method, { users: users(limits.batchMax + 1), ...extra });
      expect(err.message).toMatch(/^users has 1001 items; at most 1000/);
      expect(invalid(method, { users: [], ...extra }).message).toBe(
        "users: must be a non-empty array of user ids",
      );
      expect(invalid(method, { users: ["ok", "bad\u0000"], ...extra }).message).toMatch(/^users\[1\]: /);
    },
  );

  it("checks include_hidden and at_ms", () => {
    expect(parse("get_user_status", { users: ["u"], include_hidden: true }).params).toEqual({
      users: ["u"],
      include_hidden: true,
    });
    expect(invalid("get_user_status", { users: ["u"], include_hidden: 1 }).message).toMatch(
      /^include_hidden: /,
    );
    expect(invalid("status_at", { users: ["u"] }).message).toBe("at_ms is required");
    expect(invalid("status_at", { users: ["u"], at_ms: -1 }).message).toMatch(/^at_ms: /);
  });
});

describe("join and update data", () => {
  /** An object whose JSON is exactly `bytes` long: `{"k":"xxx…"}` is 8 bytes plus the x's. */
  const dataOf = (bytes: number) => ({ k: "x".repeat(bytes - 8) });

  it("accepts data of exactly 4096 bytes of JSON and answers 4097 with 413", () => {
    expect(JSON.stringify(dataOf(4096)).length).toBe(limits.dataMaxBytes);
    for (const method of ["join", "update"]) {
      const ok = parse(method, { user: "u", conn: "c", channel: "ch", data: dataOf(4096) });
      expect(ok.method).toBe(method);
      const err = tooLarge(method, { user: "u", conn: "c", channel: "ch", data: dataOf(4097) });
      expect(err.message).toMatch(/^data: 4097 bytes/);
      expect(err.message).toContain("4096");
    }
  });

  it("counts data in UTF-8 bytes", () => {
    // `{"k":"ééé…"}`: 8 bytes plus 2 per é.
    const at = { k: "é".repeat(2044) };
    const over = { k: `${"é".repeat(2044)}x` };
    expect(parse("join", { user: "u", conn: "c", channel: "ch", data: at }).method).toBe("join");
    expect(tooLarge("join", { user: "u", conn: "c", channel: "ch", data: over }).message).toMatch(
      /^data: 4097/,
    );
  });

  it("answers data that is not an object with 400", () => {
    for (const data of [[], [1, 2], "x", 1, null, true]) {
      expect(invalid("join", { user: "u", conn: "c", channel: "ch", data }).message).toBe(
        "data: must be a JSON object",
      );
      expect(invalid("update", { user: "u", conn: "c", channel: "ch", data }).message).toBe(
        "data: must be a JSON object",
      );
    }
  });

  it("requires data for update only", () => {
    expect(parse("join", { user: "u", conn: "c", channel: "ch" }).params).toEqual({
      user: "u",
      conn: "c",
      channel: "ch",
    });
    expect(invalid("update", { user: "u", conn: "c", channel: "ch" }).message).toBe("data is required");
  });
});

describe("set_status", () => {
  it("accepts dnd/invisible with text, emoji and a future expiry, and plain auto", () => {
    const params = { user: "u", status: "dnd", text: "meeting", emoji: "📅", expires_at_ms: NOW + 1 };
    expect(parse("set_status", params).params).toEqual(params);
    expect(parse("set_status", { user: "u", status: "invisible" }).method).toBe("set_status");
    expect(parse("set_status", { user: "u", status: "auto" }).method).toBe("set_status");
  });

  it("answers an unknown status with 400", () => {
    expect(invalid("set_status", { user: "u", status: "busy" }).message).toBe(
      "status: must be dnd, invisible or auto",
    );
    expect(invalid("set_status", { user: "u" }).message).toBe("status is required");
  });

  it.each([
    ["text", "hello"],
    ["emoji", "🙂"],
    ["expires_at_ms", NOW + 60_000],
  ])("answers auto with %s with 400", (field, value) => {
    const err = invalid("set_status", { user: "u", status: "auto", [field]: value });
    expect(err.message).toBe(`${field}: not allowed with status "auto"`);
  });

  it("answers an expiry that is not in the future with 400", () => {
    for (const expires_at_ms of [NOW, NOW - 1, 0]) {
      const err = invalid("set_status", { user: "u", status: "invisible", expires_at_ms });
      expect(err.message).toBe(`expires_at_ms: ${expires_at_ms} is not in the future`);
    }
  });

  it("bounds text and emoji", () => {
    expect(parse("set_status", { user: "u", status: "dnd", text: "t".repeat(256) }).method).toBe(
      "set_status",
    );
    expect(invalid("set_status", { user: "u", status: "dnd", text: "t".repeat(257) }).message).toMatch(
      /^text: /,
    );
    expect(invalid("set_status", { user: "u", status: "dnd", text: "" }).message).toMatch(/^text: /);
    expect(parse("set_status", { user: "u", status: "dnd", emoji: "😀".repeat(16) }).method).toBe(
      "set_status",
    );
    expect(invalid("set_status", { user: "u", status: "dnd", emoji: "😀".repeat(17) }).message).toMatch(
      /^emoji: /,
    );
  });
});

describe("history", () => {
  it("accepts a user or a channel with a range and limit", () => {
    expect(parse("history", { user: "u" }).params).toEqual({ user: "u" });
    const params = { channel: "ch", since_ms: 5, until_ms: 5, limit: 1000 };
    expect(parse("history", params).params).toEqual(params);
    expect(parse("history", { user: "u", limit: 1 }).method).toBe("history");
  });

  it("requires exactly one of user and channel", () => {
    for (const params of [{ user: "u", channel: "ch" }, {}, { limit: 10 }]) {
      const err = invalid("history", params);
      expect(err.message).toContain("user");
      expect(err.message).toContain("channel");
    }
  });

  it("answers since_ms after until_ms with 400", () => {
    const err = invalid("history", { user: "u", since_ms: 11, until_ms: 10 });
    expect(err.message).toContain("since_ms");
    expect(err.message).toContain("until_ms");
  });

  it.each([0, 1001, -1, 1.5, "10"])("answers limit %j with 400", (limit) => {
    expect(invalid("history", { user: "u", limit }).message).toBe("limit: must be an integer from 1 to 1000");
  });

  it("checks times", () => {
    expect(invalid("history", { user: "u", since_ms: -1 }).message).toMatch(/^since_ms: /);
    expect(invalid("history", { channel: "c", until_ms: "now" }).message).toMatch(/^until_ms: /);
  });
});

describe("channel queries", () => {
  it.each(["presence", "presence_stats", "channel_users"])("%s checks its channel", (method) => {
    expect(parse(method, { channel: "c".repeat(256) }).method).toBe(method);
    expect(invalid(method, { channel: "c".repeat(257) }).message).toMatch(/^channel: /);
    expect(invalid(method, {}).message).toBe("channel is required");
    expect(invalid(method, { channel: "c", user: "u" }).message).toBe('unknown field "user"');
  });

  it("is_present needs a channel and a user", () => {
    expect(parse("is_present", { channel: "c", user: "u" }).method).toBe("is_present");
    expect(invalid("is_present", { channel: "c" }).message).toBe("user is required");
  });
});

describe("errors", () => {
  it("maps unknown errors to an opaque 500", () => {
    const err = toHeraldError(new Error("secret detail"));
    expect(err.code).toBe(ErrorCode.Internal);
    expect(err.code).toBe(500);
    expect(err.message).toBe("internal error");
    expect(toHeraldError("boom").toJSON()).toEqual({ error: { code: 500, message: "internal error" } });
  });

  // The codes of CONTRACT.md §4, written out here rather than read from ErrorCode, so a wrong
  // entry in the table fails: each class must answer its literal code, in its JSON too.
  it.each<[string, () => HeraldError, ErrorClass, number]>([
    ["InvalidParamsError", () => new InvalidParamsError("m"), InvalidParamsError, 400],
    ["UnknownMethodError", () => new UnknownMethodError("m"), UnknownMethodError, 404],
    ["ConflictError", () => new ConflictError("m"), ConflictError, 409],
    ["TooLargeError", () => new TooLargeError("m"), TooLargeError, 413],
    ["RateLimitedError", () => new RateLimitedError("slow down"), RateLimitedError, 429],
    ["an unknown error", () => toHeraldError(new Error("x")), HeraldError, 500],
    ["NotReadyError", () => new NotReadyError("m"), NotReadyError, 503],
  ])("%s answers %i", (_name, make, cls, code) => {
    const err = rejects(
      () => {
        throw make();
      },
      cls,
      code,
    );
    expect(JSON.parse(JSON.stringify(err))).toEqual({ error: { code, message: err.message } });
  });

  it("RateLimitedError answers 429 with its message in its JSON", () => {
    const err = new RateLimitedError("too many requests from u");
    expect(JSON.parse(JSON.stringify(err))).toEqual({
      error: { code: 429, message: "too many requests from u" },
    });
    expect(toHeraldError(err)).toBe(err);
  });

  it("ErrorCode holds the contract's codes and no other", () => {
    expect(Object.values(ErrorCode).sort((a, b) => a - b)).toEqual([400, 404, 409, 413, 429, 500, 503]);
  });
});
