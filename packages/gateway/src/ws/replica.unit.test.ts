import type { ChannelEvent, Member } from "@herald/protocol";
import { describe, expect, it } from "vitest";
import { ChannelReplica } from "./replica.js";
import { StatusReplica } from "./status-replica.js";

const m = (user: string, conn: string, at: number, data: Record<string, unknown> = {}): Member => ({
  user,
  conn,
  data,
  joined_at_ms: at,
  updated_at_ms: at,
});
const join = (user: string, conn: string, at: number, data: Record<string, unknown> = {}): ChannelEvent => ({
  type: "join",
  channel: "c",
  user,
  conn,
  data,
  at_ms: at,
});
const update = (user: string, conn: string, at: number, data: Record<string, unknown>): ChannelEvent => ({
  type: "update",
  channel: "c",
  user,
  conn,
  data,
  at_ms: at,
});
const leave = (user: string, conn: string, at: number): ChannelEvent => ({
  type: "leave",
  channel: "c",
  user,
  conn,
  reason: "disconnect",
  at_ms: at,
});

describe("ChannelReplica", () => {
  it("starts from the view and passes on live changes in order", () => {
    const r = new ChannelReplica("c", [m("a", "1", 10)], 100);
    expect(r.live(join("b", "1", 20))).toEqual(join("b", "1", 20));
    expect(r.live(update("b", "1", 20, { x: 1 }))).toEqual(update("b", "1", 20, { x: 1 }));
    expect(r.live(leave("a", "1", 30))).toEqual(leave("a", "1", 30));
    expect(r.snapshot()).toEqual([{ ...m("b", "1", 20, { x: 1 }) }]);
    expect(r.stats).toEqual({ num_clients: 1, num_users: 1 });
  });

  it("drops a live event the view already brought (older than the subscription), and a leave of no one", () => {
    const r = new ChannelReplica("c", [m("a", "1", 10, { v: 1 })], 100);
    expect(r.live(join("a", "1", 10, { v: 1 }))).toBeUndefined();
    expect(r.live(update("a", "1", 5, { v: 0 }))).toBeUndefined();
    expect(r.live(leave("z", "9", 11))).toBeUndefined();
    expect(r.live(update("a", "1", 11, { v: 2 }))).toEqual(update("a", "1", 11, { v: 2 }));
  });

  it("corrects from the view only what the live feed did not bring, with first and last", () => {
    const r = new ChannelReplica("c", [], 100);
    r.live(join("a", "1", 10));
    // The same change, seen later in the view: nothing to push.
    expect(r.view(undefined, m("a", "1", 10))).toBeUndefined();
    // A change the live feed missed: pushed as a join of a first conn.
    expect(r.view(undefined, m("b", "1", 12, { k: 1 }))).toEqual({
      ...join("b", "1", 12, { k: 1 }),
      first: true,
    });
    expect(r.view(undefined, m("b", "2", 13))).toEqual(join("b", "2", 13));
    expect(r.view(m("b", "1", 12, { k: 1 }), m("b", "1", 14, { k: 2 }))).toEqual(
      update("b", "1", 14, { k: 2 }),
    );
    expect(r.view(m("b", "2", 13), undefined)).toEqual({ ...leave("b", "2", 13), reason: "leave" });
    expect(r.view(m("b", "1", 14), undefined)).toEqual({
      ...leave("b", "1", 14),
      reason: "leave",
      last: true,
    });
    // A removal older than what the replica holds (the member joined again since): ignored.
    r.live(join("a", "1", 20));
    expect(r.view(m("a", "1", 10), undefined)).toBeUndefined();
    expect(r.snapshot().map((x) => x.user)).toEqual(["a"]);
  });

  it("when large, nets changes per member into one interval push", () => {
    const r = new ChannelReplica("c", [m("a", "1", 1), m("b", "1", 1)], 2);
    expect(r.live(join("c", "1", 5))).toBeUndefined(); // three members: large
    expect(r.live(join("d", "1", 6))).toBeUndefined();
    expect(r.live(leave("d", "1", 7))).toBeUndefined(); // joined and left: nothing
    expect(r.live(update("a", "1", 8, { n: 1 }))).toBeUndefined();
    expect(r.live(leave("b", "1", 9))).toBeUndefined();
    expect(r.flush(100)).toEqual({
      type: "interval",
      channel: "c",
      joined: [{ user: "c", conn: "1", data: {} }],
      left: [{ user: "b", conn: "1", reason: "disconnect" }],
      updated: [{ user: "a", conn: "1", data: { n: 1 } }],
      num_clients: 2,
      num_users: 2,
      at_ms: 100,
    });
    expect(r.flush(200)).toBeUndefined();
    // Small again: events go one by one.
    expect(r.live(leave("c", "1", 10))).toEqual(leave("c", "1", 10));
  });
});

describe("StatusReplica", () => {
  const online = { user: "u", status: "online" as const };
  it("passes live events on and drops those the view already showed", () => {
    const r = new StatusReplica({ user: "u", status: "offline" }, 10);
    const ev = {
      type: "status" as const,
      user: "u",
      status: "online" as const,
      prev: "offline" as const,
      at_ms: 5,
    };
    expect(r.live(ev)).toBeUndefined();
    expect(r.live({ ...ev, at_ms: 11 })).toEqual({ ...ev, at_ms: 11 });
    expect(r.current).toEqual(online);
    expect(r.fromLive).toBe(true);
    // The view catching up with the same status: nothing more.
    expect(r.view(online, 12)).toBeUndefined();
    // A change the live feed missed.
    expect(r.view({ user: "u", status: "away" }, 13)).toEqual({
      type: "status",
      user: "u",
      status: "away",
      prev: "online",
      at_ms: 13,
    });
    expect(r.view({ user: "u", status: "offline" }, 13)).toBeUndefined();
  });
});
