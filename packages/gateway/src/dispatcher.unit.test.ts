import {
  type Command,
  type HeraldError,
  InvalidParamsError,
  internalSubjects,
  json,
  memberKey,
  UnknownMethodError,
  type Verdict,
} from "@herald/protocol";
import { describe, expect, it } from "vitest";
import { Dispatcher } from "./dispatcher.js";
import { AppendFailedError, OverloadedError, VerdictTimeoutError } from "./errors.js";
import type { EventLog } from "./history.js";
import type { Verdicts } from "./verdicts.js";
import { PresenceView } from "./view.js";

const NOW = 1_700_000_000_000;
/** User u's only stored event: online at 5 ms. */
const ONLINE_AT_5 = { type: "status", user: "u", status: "online", prev: "offline", at_ms: 5 };

function setup() {
  const appended: Command[][] = [];
  const state = { ready: true, now: NOW, fail: undefined as Error | undefined, overload: false };
  const view = new PresenceView();
  // Verdicts asked for, by reply token: the test plays the owner of the partition.
  const waiting = new Map<string, { resolve(v: Verdict): void; reject(e: Error): void }>();
  const cancelled: string[] = [];
  let next = 0;
  const verdicts: Verdicts = {
    expect() {
      const reply = `gw.${next++}`;
      const verdict = new Promise<Verdict>((resolve, reject) => waiting.set(reply, { resolve, reject }));
      verdict.catch(() => {});
      return { reply, verdict, cancel: () => cancelled.push(reply) };
    },
  };
  /** Answers the verdict of the last command appended, as its owner would. */
  const owner = (verdict: Omit<Verdict, "id">) => {
    const cmd = appended.at(-1)?.[0] as { reply?: string } | undefined;
    const w = cmd?.reply === undefined ? undefined : waiting.get(cmd.reply);
    if (w === undefined) throw new Error("no verdict is awaited for the last command");
    w.resolve({ id: 0, ...verdict });
  };
  // One list of stored events per subject: scan() visits it oldest first, last() is the last
  // event scan() would visit, as on the stream.
  const stored = new Map<string, unknown[]>([[internalSubjects.userEvent("u"), [ONLINE_AT_5]]]);
  const events: EventLog = {
    scan: async (subject, _from, visit) => {
      for (const event of stored.get(subject) ?? []) if (!visit(event)) return;
    },
    last: async (subject) => stored.get(subject)?.at(-1),
  };
  const dispatcher = new Dispatcher({
    config: { ttlMs: 30_000, maxTtlMs: 3_600_000, userRate: 5, clientRate: 8 },
    appender: {
      append(cmds) {
        if (state.overload) throw new OverloadedError(9);
        appended.push([...cmds]);
        return state.fail === undefined ? Promise.resolve() : Promise.reject(state.fail);
      },
    },
    view,
    viewReady: () => state.ready,
    verdicts,
    events,
    now: () => state.now,
  });
  const call = (method: string, params: unknown) => dispatcher.handle(method, json.encode(params));
  const callPlain = (method: string, params: unknown) =>
    dispatcher.handle(method, json.encode(params), { answered: false });
  /** Lets the dispatcher append (its promise settles on the next ticks). */
  const appendedOnce = () => new Promise((r) => setImmediate(r));
  return { dispatcher, call, callPlain, appended, state, view, owner, waiting, cancelled, appendedOnce };
}

async function refusal(p: Promise<unknown>): Promise<HeraldError> {
  try {
    await p;
  } catch (err) {
    return err as HeraldError;
  }
  throw new Error("expected a refusal");
}

describe("Dispatcher commands", () => {
  it("appends stamped commands and answers an empty result", async () => {
    const { call, appended } = setup();
    await expect(call("heartbeat", { user: "u", conn: "c" })).resolves.toEqual({});
    expect(appended).toEqual([[{ type: "heartbeat", user: "u", conn: "c", ttl_ms: 30_000, at_ms: NOW }]]);
  });

  it("passes parse errors on: 400 naming the field, 404 for an unknown method", async () => {
    const { call, appended } = setup();
    const bad = await refusal(call("leave", { user: "u", conn: "c" }));
    expect(bad).toBeInstanceOf(InvalidParamsError);
    expect(bad.message).toBe("channel is required");
    expect(await refusal(call("nope", {}))).toBeInstanceOf(UnknownMethodError);
    expect(appended).toEqual([]);
  });

  it("answers an update from its owner's verdict: {} when applied, its error when refused", async () => {
    const { call, appended, owner, appendedOnce } = setup();
    const upd = { user: "u", conn: "c1", channel: "room", data: { n: 1 } };
    const applied = call("update", upd);
    await appendedOnce();
    expect(appended.at(-1)).toEqual([{ type: "update", ...upd, ttl_ms: 30_000, reply: "gw.0", at_ms: NOW }]);
    owner({});
    await expect(applied).resolves.toEqual({});
    const refused = call("update", upd);
    await appendedOnce();
    owner({ code: 409, message: 'update: conn "c1" of user "u" has not joined channel "room"' });
    const err = await refusal(refused);
    expect(err.code).toBe(409);
    expect(err.message).toBe('update: conn "c1" of user "u" has not joined channel "room"');
  });

  it("answers 503 when no verdict comes in time", async () => {
    const { call, waiting, appendedOnce } = setup();
    const pending = call("update", { user: "u", conn: "c", channel: "r", data: {} });
    await appendedOnce();
    waiting.get("gw.0")?.reject(new VerdictTimeoutError(10_000));
    const err = await refusal(pending);
    expect(err).toBeInstanceOf(VerdictTimeoutError);
    expect(err.code).toBe(503);
  });

  it("waits for the verdict of a join (it may meet a limit), not of other commands", async () => {
    const { call, callPlain, appended, waiting, owner, appendedOnce } = setup();
    const joined = call("join", { user: "u", conn: "c", channel: "r" });
    await appendedOnce();
    owner({ code: 413, message: "too many channels" });
    expect((await refusal(joined)).code).toBe(413);
    await call("leave", { user: "u", conn: "c", channel: "r" });
    await call("heartbeat", { user: "u", conn: "c" });
    // Published: nobody waits for the answer.
    await callPlain("update", { user: "u", conn: "c", channel: "r", data: {} });
    await callPlain("join", { user: "u", conn: "c", channel: "r" });
    expect(appended.map((cmds) => cmds.map((c) => "reply" in c))).toEqual([
      [true],
      [false],
      [false],
      [false],
      [false],
    ]);
    expect(waiting.size).toBe(1);
  });

  it("passes 503s of the appender on, and gives up the verdict of a command not stored", async () => {
    const { call, state, cancelled } = setup();
    state.overload = true;
    expect((await refusal(call("join", { user: "u", conn: "c", channel: "r" }))).code).toBe(503);
    expect((await refusal(call("update", { user: "u", conn: "c", channel: "r", data: {} }))).code).toBe(503);
    state.overload = false;
    state.fail = new AppendFailedError("timeout");
    expect(await refusal(call("heartbeat", { user: "u", conn: "c" }))).toBeInstanceOf(AppendFailedError);
    expect(await refusal(call("update", { user: "u", conn: "c", channel: "r", data: {} }))).toBeInstanceOf(
      AppendFailedError,
    );
    expect(cancelled).toEqual(["gw.0", "gw.1", "gw.2"]);
  });
});

describe("Dispatcher rate limits", () => {
  it("answers 429 naming the user over HERALD_USER_RATE, appending nothing of the request", async () => {
    const { call, appended, state } = setup();
    const activity = (users: string[]) => ({ users });
    await call("update_user_status", activity(["a", "a", "a", "b"]));
    const err = await refusal(call("update_user_status", activity(["b", "a", "a", "a"])));
    expect(err.code).toBe(429);
    expect(err.message).toMatch(/user "a" .*5 commands per second \(HERALD_USER_RATE\)/);
    expect(appended).toHaveLength(1);
    // b took nothing from the refused request; a second later a has its tokens back.
    await call("update_user_status", activity(["b", "b", "b", "b"]));
    state.now += 1000;
    await call("update_user_status", activity(["a", "a", "a", "a", "a"]));
    expect(appended).toHaveLength(3);
    // Heartbeats take no user tokens (the conn limit bounds them).
    const hb = Array.from({ length: 20 }, () => ({ user: "a", conn: "c" }));
    await call("heartbeat", { heartbeats: hb });
    expect(appended).toHaveLength(4);
  });

  it("answers 429 naming the client over HERALD_CLIENT_RATE, queries included", async () => {
    const { dispatcher } = setup();
    const client = { answered: true, client: "_INBOX.abc" };
    const ask = () => dispatcher.handle("presence_stats", json.encode({ channel: "r" }), client);
    for (let i = 0; i < 8; i++) await ask();
    const err = await refusal(ask());
    expect(err.code).toBe(429);
    expect(err.message).toMatch(/client "_INBOX.abc" .*8 requests per second \(HERALD_CLIENT_RATE\)/);
    // Another client is not limited by it.
    await expect(
      dispatcher.handle("presence_stats", json.encode({ channel: "r" }), { answered: true, client: "other" }),
    ).resolves.toEqual({ num_clients: 0, num_users: 0 });
  });
});

describe("Dispatcher queries", () => {
  it("answers 503 from the view until it is loaded", async () => {
    const { call, state } = setup();
    state.ready = false;
    for (const [method, params] of [
      ["get_user_status", { users: ["u"] }],
      ["presence", { channel: "r" }],
      ["presence_stats", { channel: "r" }],
      ["channel_users", { channel: "r" }],
      ["user_channels", { user: "u" }],
      ["is_present", { channel: "r", user: "u" }],
    ] as const) {
      const err = await refusal(call(method, params));
      expect(err.code).toBe(503);
      expect(err.message).toMatch(/^not ready/);
    }
    state.ready = true;
    await expect(call("presence_stats", { channel: "r" })).resolves.toEqual({ num_clients: 0, num_users: 0 });
  });

  it("answers every query method from the view", async () => {
    const { call, view } = setup();
    view.putMember(memberKey("r", "u", "c"), {
      channel: "r",
      user: "u",
      conn: "c",
      data: { a: 1 },
      joined_at_ms: 1,
      updated_at_ms: 2,
    });
    await expect(call("get_user_status", { users: ["u"] })).resolves.toEqual({
      statuses: [{ user: "u", status: "offline" }],
    });
    await expect(call("presence", { channel: "r" })).resolves.toEqual({
      members: [{ user: "u", conn: "c", data: { a: 1 }, joined_at_ms: 1, updated_at_ms: 2 }],
    });
    await expect(call("presence_stats", { channel: "r" })).resolves.toEqual({ num_clients: 1, num_users: 1 });
    await expect(call("channel_users", { channel: "r" })).resolves.toEqual({ users: ["u"] });
    await expect(call("user_channels", { user: "u" })).resolves.toEqual({ channels: ["r"] });
    await expect(call("is_present", { channel: "r", user: "u" })).resolves.toEqual({ present: true });
  });

  it("answers history without the view", async () => {
    const { call, state } = setup();
    state.ready = false;
    await expect(call("history", { user: "u" })).resolves.toEqual({ events: [ONLINE_AT_5] });
    // CONTRACT §4: status_at is the status others saw at that time. u went online at 5 ms and
    // nothing changed since: online at 5 and 10, offline before 5; v has no event at all.
    await expect(call("status_at", { users: ["u", "v"], at_ms: 10 })).resolves.toEqual({
      statuses: [
        { user: "u", status: "online" },
        { user: "v", status: "offline" },
      ],
    });
    await expect(call("status_at", { users: ["u"], at_ms: 5 })).resolves.toEqual({
      statuses: [{ user: "u", status: "online" }],
    });
    await expect(call("status_at", { users: ["u"], at_ms: 4 })).resolves.toEqual({
      statuses: [{ user: "u", status: "offline" }],
    });
  });
});
