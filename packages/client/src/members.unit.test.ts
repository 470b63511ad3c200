import { describe, expect, it } from "vitest";
import { MemberSet, memberKey } from "./members.js";
import { resyncStatuses, statusDiffers } from "./statuses.js";
import type { IntervalEvent, Member, UserStatus } from "./types.js";

const m = (
  user: string,
  conn: string,
  data: Record<string, unknown>,
  joined = 100,
  updated = joined,
): Member => ({
  user,
  conn,
  data,
  joined_at_ms: joined,
  updated_at_ms: updated,
});

function setOf(members: Member[]): MemberSet {
  const set = new MemberSet("room");
  set.resync(members, 0);
  return set;
}

describe("memberKey", () => {
  it("tells apart ids that a plain separator would confuse", () => {
    expect(memberKey("a:b", "c")).not.toBe(memberKey("a", "b:c"));
    expect(memberKey("a b", "c")).not.toBe(memberKey("a", "b c"));
    expect(memberKey("u", "c")).toBe(memberKey("u", "c"));
  });
});

describe("MemberSet.resync (the diff against a fresh snapshot)", () => {
  it("emits exactly: a leave for the one gone, a join for the new one, an update for the changed one", () => {
    const set = setOf([m("alice", "t1", { x: 1 }), m("bob", "t1", { y: 1 }), m("carol", "t1", { z: 1 })]);
    const events = set.resync(
      [
        m("alice", "t1", { x: 1 }, 100, 150),
        m("carol", "t1", { z: 2 }, 100, 700),
        m("dave", "t9", { w: 1 }, 650),
      ],
      1000,
    );
    expect(events).toEqual([
      {
        type: "leave",
        channel: "room",
        user: "bob",
        conn: "t1",
        data: { y: 1 },
        reason: "resync",
        last: true,
        at_ms: 1000,
        synthetic: "resync",
      },
      {
        type: "join",
        channel: "room",
        user: "dave",
        conn: "t9",
        data: { w: 1 },
        first: true,
        at_ms: 650,
        synthetic: "resync",
      },
      {
        type: "update",
        channel: "room",
        user: "carol",
        conn: "t1",
        data: { z: 2 },
        at_ms: 700,
        synthetic: "resync",
      },
    ]);
    expect([...set.map.keys()]).toEqual([
      memberKey("alice", "t1"),
      memberKey("carol", "t1"),
      memberKey("dave", "t9"),
    ]);
    // The unchanged member took the snapshot's times without an event.
    expect(set.map.get(memberKey("alice", "t1"))?.updated_at_ms).toBe(150);
  });

  it("compares data as JSON (key order does not count) and says first/last per user", () => {
    const set = setOf([m("alice", "t1", { a: 1, b: [1, { c: 2 }] }), m("alice", "t2", {})]);
    const events = set.resync([m("alice", "t1", { b: [1, { c: 2 }], a: 1 }), m("alice", "t3", {})], 5);
    expect(events.map((e) => [e.type, e.conn, "first" in e, "last" in e])).toEqual([
      ["leave", "t2", false, false],
      ["join", "t3", false, false],
    ]);
    const empty = set.resync([], 6);
    expect(empty.map((e) => [e.type, e.conn, "last" in e])).toEqual([
      ["leave", "t1", false],
      ["leave", "t3", true],
    ]);
    expect(set.map.size).toBe(0);
  });
});

describe("MemberSet.apply (live pushes)", () => {
  it("keeps the map current and returns the pushed event", () => {
    const set = new MemberSet("room");
    const join = {
      type: "join",
      channel: "room",
      user: "u",
      conn: "c",
      data: { a: 1 },
      first: true,
      at_ms: 10,
    } as const;
    expect(set.apply(join)).toBe(join);
    set.apply({ type: "update", channel: "room", user: "u", conn: "c", data: { a: 2 }, at_ms: 20 });
    expect(set.map.get(memberKey("u", "c"))).toEqual(m("u", "c", { a: 2 }, 10, 20));
    expect(
      set.apply({ type: "leave", channel: "room", user: "x", conn: "c", reason: "leave", at_ms: 30 }),
    ).toBe(undefined);
    const leave = {
      type: "leave",
      channel: "room",
      user: "u",
      conn: "c",
      reason: "timeout",
      last: true,
      at_ms: 40,
    } as const;
    expect(set.apply(leave)).toBe(leave);
    expect(set.map.size).toBe(0);
  });
});

describe("MemberSet.foldInterval", () => {
  it("unfolds left, joined and updated into the events a small channel would have pushed", () => {
    const set = setOf([m("alice", "t1", { x: 1 }), m("bob", "t1", { y: 1 }), m("bob", "t2", { y: 2 })]);
    const iv: IntervalEvent = {
      type: "interval",
      channel: "room",
      joined: [{ user: "erin", conn: "t1", data: { e: 1 } }],
      left: [
        { user: "bob", conn: "t1", reason: "timeout" },
        { user: "zed", conn: "t1", reason: "leave" }, // not held: nothing
      ],
      updated: [
        { user: "alice", conn: "t1", data: { x: 2 } },
        { user: "bob", conn: "t2", data: { y: 2 } }, // same data: nothing
      ],
      num_clients: 3,
      num_users: 3,
      at_ms: 5000,
    };
    expect(set.foldInterval(iv)).toEqual([
      {
        type: "leave",
        channel: "room",
        user: "bob",
        conn: "t1",
        data: { y: 1 },
        reason: "timeout",
        at_ms: 5000,
        synthetic: "interval",
      },
      {
        type: "join",
        channel: "room",
        user: "erin",
        conn: "t1",
        data: { e: 1 },
        first: true,
        at_ms: 5000,
        synthetic: "interval",
      },
      {
        type: "update",
        channel: "room",
        user: "alice",
        conn: "t1",
        data: { x: 2 },
        at_ms: 5000,
        synthetic: "interval",
      },
    ]);
    expect(new Set(set.map.keys())).toEqual(
      new Set([memberKey("alice", "t1"), memberKey("bob", "t2"), memberKey("erin", "t1")]),
    );
    expect(set.map.get(memberKey("alice", "t1"))).toEqual(m("alice", "t1", { x: 2 }, 100, 5000));
    expect(set.map.get(memberKey("erin", "t1"))).toEqual(m("erin", "t1", { e: 1 }, 5000, 5000));
  });

  it("takes an update of a member it does not hold as a join", () => {
    const set = new MemberSet("room");
    const events = set.foldInterval({
      type: "interval",
      channel: "room",
      joined: [],
      left: [],
      updated: [{ user: "u", conn: "c", data: {} }],
      num_clients: 1,
      num_users: 1,
      at_ms: 9,
    });
    expect(events.map((e) => e.type)).toEqual(["join"]);
    expect(set.map.has(memberKey("u", "c"))).toBe(true);
  });
});

describe("resyncStatuses (the watch diff)", () => {
  const s = (user: string, status: UserStatus["status"], extra: Partial<UserStatus> = {}): UserStatus => ({
    user,
    status,
    ...extra,
  });

  it("emits a synthetic status event for each changed status or manual status, none for online/active only", () => {
    const map = new Map<string, UserStatus>([
      ["a", s("a", "online", { online: 100, active: 90 })],
      ["b", s("b", "online", { online: 100 })],
      ["c", s("c", "away", { online: 100 })],
      ["d", s("d", "offline")],
    ]);
    const fresh = [
      s("a", "online", { online: 200, active: 190 }),
      s("b", "offline", { online: 150 }),
      s("c", "away", { online: 200, manual: { status: "dnd", text: "focus" } }),
      s("d", "online", { online: 300 }),
      s("x", "online"),
    ];
    const events = resyncStatuses(map, fresh, (u) => u !== "d", 7777);
    expect(events).toEqual([
      {
        type: "status",
        user: "b",
        status: "offline",
        prev: "online",
        at_ms: 7777,
        online: 150,
        synthetic: "resync",
      },
      {
        type: "status",
        user: "c",
        status: "away",
        prev: "away",
        at_ms: 7777,
        online: 200,
        manual: { status: "dnd", text: "focus" },
        synthetic: "resync",
      },
    ]);
    expect(map.get("a")).toEqual(fresh[0]);
    expect(map.get("d")).toEqual(s("d", "offline")); // no longer kept: untouched
    expect(map.get("x")).toEqual(fresh[4]); // new: taken in, no event
  });

  it("statusDiffers: status or manual status, not online/active", () => {
    expect(statusDiffers(s("a", "online", { online: 1, active: 1 }), s("a", "online", { online: 2 }))).toBe(
      false,
    );
    expect(statusDiffers(s("a", "online"), s("a", "away"))).toBe(true);
    expect(statusDiffers(s("a", "online"), s("a", "online", { manual: { status: "dnd" } }))).toBe(true);
    expect(
      statusDiffers(
        s("a", "online", { manual: { status: "dnd", text: "x" } }),
        s("a", "online", { manual: { text: "x", status: "dnd" } }),
      ),
    ).toBe(false);
  });
});
