import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { advance, connected, flush, T0 } from "../test-support/harness.js";
import type { Channel } from "./channel.js";
import { memberKey } from "./members.js";
import type { MemberEvent } from "./types.js";

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
});
afterEach(() => {
  vi.useRealTimers();
});

const member = (
  user: string,
  conn: string,
  data: Record<string, unknown>,
  joined = T0 - 1000,
  updated = joined,
) => ({
  user,
  conn,
  data,
  joined_at_ms: joined,
  updated_at_ms: updated,
});

function record(ch: Channel): MemberEvent[] {
  const events: MemberEvent[] = [];
  ch.on("join", (e) => events.push(e));
  ch.on("update", (e) => events.push(e));
  ch.on("leave", (e) => events.push(e));
  return events;
}

describe("channel subscription", () => {
  it("the first snapshot emits nothing; pushes then keep members current and are emitted as sent", async () => {
    const h = await connected();
    h.server.members.set("room", [member("alice", "t1", { x: 1 })]);
    const ch = h.client.channel("room");
    expect(h.client.channel("room")).toBe(ch);
    const events = record(ch);
    const members = await ch.subscribe();
    expect(members).toBe(ch.members);
    expect([...members.keys()]).toEqual([memberKey("alice", "t1")]);
    expect(ch.subscribed).toBe(true);
    expect(events).toEqual([]);

    const join = {
      type: "join",
      channel: "room",
      user: "bob",
      conn: "t2",
      data: {},
      first: true,
      at_ms: T0 + 1,
    };
    const update = {
      type: "update",
      channel: "room",
      user: "alice",
      conn: "t1",
      data: { x: 2 },
      at_ms: T0 + 2,
    };
    const leave = {
      type: "leave",
      channel: "room",
      user: "bob",
      conn: "t2",
      reason: "disconnect",
      last: true,
      at_ms: T0 + 3,
    };
    for (const ev of [join, update, leave]) h.server.last.push(ev);
    h.server.last.push({ ...join, channel: "elsewhere" }); // not subscribed: ignored
    expect(events).toEqual([join, update, leave]);
    expect([...members.values()]).toEqual([member("alice", "t1", { x: 2 }, T0 - 1000, T0 + 2)]);
  });

  it("folds interval pushes into members and emits them as join/update/leave, then the interval", async () => {
    const h = await connected();
    h.server.members.set("big", [member("a", "1", { v: 1 }), member("b", "1", {})]);
    const ch = h.client.channel("big");
    const events = record(ch);
    const intervals: unknown[] = [];
    ch.on("interval", (iv) => intervals.push(iv));
    await ch.subscribe();
    const iv = {
      type: "interval",
      channel: "big",
      joined: [{ user: "c", conn: "1", data: { new: true } }],
      left: [{ user: "b", conn: "1", reason: "timeout" }],
      updated: [{ user: "a", conn: "1", data: { v: 2 } }],
      num_clients: 2,
      num_users: 2,
      at_ms: T0 + 2000,
    };
    h.server.last.push(iv);
    expect(events.map((e) => [e.type, e.user, e.synthetic])).toEqual([
      ["leave", "b", "interval"],
      ["join", "c", "interval"],
      ["update", "a", "interval"],
    ]);
    expect(events[0]).toMatchObject({ reason: "timeout", last: true, data: {} });
    expect(intervals).toEqual([iv]);
    expect([...ch.members.values()].map((m) => [m.user, m.data])).toEqual([
      ["a", { v: 2 }],
      ["c", { new: true }],
    ]);
  });

  it("applies a push that arrives right behind the snapshot, in the same turn (ws delivers frames so)", async () => {
    const h = await connected();
    const join = {
      type: "join",
      channel: "room",
      user: "bob",
      conn: "t2",
      data: {},
      first: true,
      at_ms: T0 + 1,
    };
    h.server.handlers.set("subscribe", (_params, socket) => {
      const id = socket.sent.at(-1)?.id ?? 0;
      queueMicrotask(() => {
        socket.reply(id, { members: [member("alice", "t1", {})] });
        socket.push(join);
      });
      return undefined;
    });
    const ch = h.client.channel("room");
    const events = record(ch);
    await ch.subscribe();
    expect(events).toEqual([join]);
    expect([...ch.members.keys()]).toEqual([memberKey("alice", "t1"), memberKey("bob", "t2")]);
  });

  it("unsubscribe() empties members at once and stops the pushes", async () => {
    const h = await connected();
    h.server.members.set("room", [member("alice", "t1", {})]);
    const ch = h.client.channel("room");
    const events = record(ch);
    await ch.subscribe();
    await ch.unsubscribe();
    expect(ch.members.size).toBe(0);
    h.server.last.push({ type: "join", channel: "room", user: "bob", conn: "t2", data: {}, at_ms: T0 });
    expect(events).toEqual([]);
    expect(h.server.last.frames("unsubscribe").map((f) => f.params)).toEqual([{ channel: "room" }]);
  });
});

describe("resync after reconnect", () => {
  it("re-joins with the last data, renews the subscription and emits exactly the differences", async () => {
    const h = await connected();
    h.server.members.set("room", [
      member("alice", "t1", { x: 1 }),
      member("bob", "t1", { y: 1 }),
      member("carol", "t1", { z: 1 }),
    ]);
    const ch = h.client.channel("room");
    await ch.join({ me: 1 });
    await ch.update({ me: 2 });
    await ch.subscribe();
    const events = record(ch);

    h.server.last.serverClose(1006);
    await flush();
    // While the client is away: bob left, carol changed her data, dave came.
    h.server.members.set("room", [
      member("alice", "t1", { x: 1 }),
      member("carol", "t1", { z: 2 }, T0 - 1000, T0 + 100),
      member("dave", "t9", { w: 1 }, T0 + 50),
    ]);
    const queued = h.client.setStatus("dnd");
    await advance(250);
    expect(h.client.state).toBe("connected");
    await queued;

    expect(h.server.last.sent.map((f) => [f.method, f.params])).toEqual([
      ["connect", { token: expect.any(String), conn: "gen-1" }],
      ["join", { channel: "room", data: { me: 2 } }],
      ["subscribe", { channel: "room" }],
      ["set_status", { status: "dnd" }],
    ]);
    expect(events).toEqual([
      {
        type: "leave",
        channel: "room",
        user: "bob",
        conn: "t1",
        data: { y: 1 },
        reason: "resync",
        last: true,
        at_ms: T0 + 250,
        synthetic: "resync",
      },
      {
        type: "join",
        channel: "room",
        user: "dave",
        conn: "t9",
        data: { w: 1 },
        first: true,
        at_ms: T0 + 50,
        synthetic: "resync",
      },
      {
        type: "update",
        channel: "room",
        user: "carol",
        conn: "t1",
        data: { z: 2 },
        at_ms: T0 + 100,
        synthetic: "resync",
      },
    ]);
    expect([...ch.members.keys()]).toEqual([
      memberKey("alice", "t1"),
      memberKey("carol", "t1"),
      memberKey("dave", "t9"),
    ]);
    expect(ch.joined).toBe(true);
    expect(ch.data).toEqual({ me: 2 });
  });

  it("does not restore what was left or unsubscribed, even while disconnected", async () => {
    const h = await connected();
    const ch = h.client.channel("room");
    await ch.join({ a: 1 });
    await ch.subscribe();
    h.server.last.serverClose(1006);
    const left = ch.leave();
    const gone = ch.unsubscribe();
    expect([ch.joined, ch.subscribed]).toEqual([false, false]);
    await advance(250);
    await Promise.all([left, gone]);
    expect(h.server.last.sent.map((f) => f.method)).toEqual(["connect", "leave", "unsubscribe"]);
  });

  it("a subscription the server now refuses ends with a synthetic leave of every member", async () => {
    const h = await connected();
    h.server.members.set("room", [member("alice", "t1", { x: 1 }), member("bob", "t2", {})]);
    const ch = h.client.channel("room");
    await ch.subscribe();
    const events = record(ch);
    h.server.last.serverClose(1006);
    h.server.handlers.set("subscribe", () => ({ error: { code: 403, message: "channel not in token" } }));
    await advance(250);
    expect(events.map((e) => [e.type, e.user, e.type === "leave" ? e.reason : ""])).toEqual([
      ["leave", "alice", "resync"],
      ["leave", "bob", "resync"],
    ]);
    expect([ch.subscribed, ch.members.size]).toEqual([false, 0]);
    expect(h.errors.map((e) => e.code)).toEqual([403]);
  });
});

describe("watch", () => {
  const online = (user: string, extra = {}) => ({ user, status: "online", online: 1_000, ...extra });

  it("keeps statuses current from pushes, and after a reconnect emits a synthetic event only for real changes", async () => {
    const h = await connected();
    h.server.statuses.set("a", online("a"));
    h.server.statuses.set("b", online("b"));
    h.server.statuses.set("c", { user: "c", status: "away", online: 1_000 });
    const statuses = await h.client.watch(["a", "b", "c"]);
    expect(statuses).toBe(h.client.statuses);
    expect([...statuses.keys()]).toEqual(["a", "b", "c"]);
    expect(h.statuses).toEqual([]);

    const pushed = {
      type: "status",
      user: "a",
      status: "away",
      prev: "online",
      at_ms: T0 + 5,
      online: 1_001,
    };
    h.server.last.push(pushed);
    h.server.last.push({ ...pushed, user: "zz" }); // not watched: ignored
    expect(h.statuses).toEqual([pushed]);
    expect(statuses.get("a")).toEqual({ user: "a", status: "away", online: 1_001 });

    h.server.last.serverClose(1006);
    h.server.statuses.set("a", { user: "a", status: "away", online: 1_050, active: 1_040 }); // times only
    h.server.statuses.set("b", { user: "b", status: "offline", online: 1_020 });
    h.server.statuses.set("c", {
      user: "c",
      status: "away",
      online: 1_050,
      manual: { status: "dnd", emoji: "🎧" },
    });
    await advance(250);
    expect(h.server.last.frames("watch").map((f) => f.params)).toEqual([{ users: ["a", "b", "c"] }]);
    expect(h.statuses.slice(1)).toEqual([
      {
        type: "status",
        user: "b",
        status: "offline",
        prev: "online",
        at_ms: T0 + 250,
        online: 1_020,
        synthetic: "resync",
      },
      {
        type: "status",
        user: "c",
        status: "away",
        prev: "away",
        at_ms: T0 + 250,
        online: 1_050,
        manual: { status: "dnd", emoji: "🎧" },
        synthetic: "resync",
      },
    ]);
    expect(statuses.get("a")).toEqual({ user: "a", status: "away", online: 1_050, active: 1_040 });
    expect(statuses.get("b")?.status).toBe("offline");
  });

  it("applies a status push that arrives right behind the watch result, in the same turn", async () => {
    const h = await connected();
    const pushed = { type: "status", user: "a", status: "away", prev: "online", at_ms: T0 + 5 };
    h.server.handlers.set("watch", (_params, socket) => {
      const id = socket.sent.at(-1)?.id ?? 0;
      queueMicrotask(() => {
        socket.reply(id, { statuses: [online("a")] });
        socket.push(pushed);
      });
      return undefined;
    });
    const statuses = await h.client.watch(["a"]);
    expect(h.statuses).toEqual([pushed]);
    expect(statuses.get("a")?.status).toBe("away");
  });

  it("counts holds per user: unwatch sends only for users no longer held", async () => {
    const h = await connected();
    await h.client.watch(["a", "b"]);
    await h.client.watch(["b", "b"]);
    await h.client.unwatch(["a", "b"]);
    expect(h.server.last.frames("unwatch").map((f) => f.params)).toEqual([{ users: ["a"] }]);
    expect([...h.client.statuses.keys()]).toEqual(["b"]);
    await h.client.unwatch(["b"]);
    expect(h.server.last.frames("unwatch").map((f) => f.params)).toEqual([
      { users: ["a"] },
      { users: ["b"] },
    ]);
    expect(h.client.statuses.size).toBe(0);
  });

  it("sends more than 1000 users in several requests, on watch and on resync", async () => {
    const h = await connected();
    const users = Array.from({ length: 2001 }, (_, i) => `u${i}`);
    await h.client.watch(users);
    const sizes = () => h.server.last.frames("watch").map((f) => (f.params.users as string[]).length);
    expect(sizes()).toEqual([1000, 1000, 1]);
    expect(h.client.statuses.size).toBe(2001);
    h.server.last.serverClose(1006);
    await advance(250);
    expect(sizes()).toEqual([1000, 1000, 1]);
  });

  it("a watch the server refuses is not held", async () => {
    const h = await connected();
    h.server.handlers.set("watch", () => ({ error: { code: 403, message: "user not in token" } }));
    await expect(h.client.watch(["boss"])).rejects.toMatchObject({ code: 403 });
    expect(h.client.statuses.size).toBe(0);
    h.server.handlers.delete("watch");
    await h.client.watch(["boss"]);
    await h.client.unwatch(["boss"]);
    expect(h.client.statuses.size).toBe(0);
  });
});
