import { type ApiRequest, json, parseRequest } from "@herald/protocol";
import { describe, expect, it } from "vitest";
import { type CommandRequest, isCommandRequest, toCommands } from "./commands.js";

const AT = 1_700_000_000_000;
const TTL = 30_000;

function parse(method: string, params: unknown): CommandRequest {
  const req: ApiRequest = parseRequest(method, json.encode(params), { maxTtlMs: 3_600_000, nowMs: AT });
  if (!isCommandRequest(req)) throw new Error(`${method} is not a command`);
  return req;
}

describe("toCommands", () => {
  it("stamps a heartbeat with the receipt time and its own ttl or the default", () => {
    expect(toCommands(parse("heartbeat", { user: "u", conn: "c" }), AT, TTL)).toEqual([
      { type: "heartbeat", user: "u", conn: "c", ttl_ms: TTL, at_ms: AT },
    ]);
    const batch = parse("heartbeat", {
      heartbeats: [
        { user: "a", conn: "1", ttl_ms: 5000 },
        { user: "b", conn: "2" },
      ],
    });
    expect(toCommands(batch, AT, TTL)).toEqual([
      { type: "heartbeat", user: "a", conn: "1", ttl_ms: 5000, at_ms: AT },
      { type: "heartbeat", user: "b", conn: "2", ttl_ms: TTL, at_ms: AT },
    ]);
  });

  it("turns user lists into one activity or forget per user, in order", () => {
    expect(toCommands(parse("update_user_status", { users: ["x", "y", "x"] }), AT, TTL)).toEqual([
      { type: "activity", user: "x", at_ms: AT },
      { type: "activity", user: "y", at_ms: AT },
      { type: "activity", user: "x", at_ms: AT },
    ]);
    expect(toCommands(parse("delete_user_status", { users: ["x", "y"] }), AT, TTL)).toEqual([
      { type: "forget", user: "x", at_ms: AT },
      { type: "forget", user: "y", at_ms: AT },
    ]);
  });

  it("gives memberships the default ttl and a join without data an empty object", () => {
    expect(toCommands(parse("join", { user: "u", conn: "c", channel: "r" }), AT, TTL)).toEqual([
      { type: "join", user: "u", conn: "c", channel: "r", data: {}, ttl_ms: TTL, at_ms: AT },
    ]);
    expect(
      toCommands(parse("join", { user: "u", conn: "c", channel: "r", data: { a: 1 } }), AT, TTL),
    ).toEqual([{ type: "join", user: "u", conn: "c", channel: "r", data: { a: 1 }, ttl_ms: TTL, at_ms: AT }]);
    expect(
      toCommands(parse("update", { user: "u", conn: "c", channel: "r", data: { b: 2 } }), AT, TTL),
    ).toEqual([
      { type: "update", user: "u", conn: "c", channel: "r", data: { b: 2 }, ttl_ms: TTL, at_ms: AT },
    ]);
    expect(toCommands(parse("leave", { user: "u", conn: "c", channel: "r" }), AT, TTL)).toEqual([
      { type: "leave", user: "u", conn: "c", channel: "r", ttl_ms: TTL, at_ms: AT },
    ]);
    expect(toCommands(parse("disconnect", { user: "u", conn: "c" }), AT, TTL)).toEqual([
      { type: "disconnect", user: "u", conn: "c", at_ms: AT },
    ]);
  });

  it("copies set_status fields and writes no absent ones", () => {
    const full = parse("set_status", {
      user: "u",
      status: "dnd",
      text: "busy",
      emoji: "🔕",
      expires_at_ms: AT + 1000,
    });
    expect(toCommands(full, AT, TTL)).toEqual([
      {
        type: "set_status",
        user: "u",
        status: "dnd",
        text: "busy",
        emoji: "🔕",
        expires_at_ms: AT + 1000,
        at_ms: AT,
      },
    ]);
    const [auto] = toCommands(parse("set_status", { user: "u", status: "auto" }), AT, TTL);
    expect(Object.keys(auto ?? {}).sort()).toEqual(["at_ms", "status", "type", "user"]);
  });

  it("knows which requests are commands", () => {
    const query = parseRequest("presence", json.encode({ channel: "r" }), { maxTtlMs: 1000, nowMs: AT });
    expect(isCommandRequest(query)).toBe(false);
    expect(isCommandRequest(parse("leave", { user: "u", conn: "c", channel: "r" }))).toBe(true);
  });
});
