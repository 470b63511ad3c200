import type { EventBatch } from "@herald/dashboard";
import { encodeToken } from "@herald/protocol";
import { describe, expect, it } from "vitest";
import { MAX_PER_FLUSH, Tail } from "./tail.js";

const bytes = (e: object) => new TextEncoder().encode(JSON.stringify(e));
const status = (user: string) => ({ type: "status", user, status: "online", prev: "offline", at_ms: 1 });
const join = (user: string, channel: string) => ({
  type: "join",
  user,
  conn: "c",
  channel,
  data: {},
  at_ms: 1,
});

function offerAll(tail: Tail, events: ReturnType<typeof status | typeof join>[]): void {
  for (const e of events) {
    const subject =
      "channel" in e
        ? `presence.events.channel.${encodeToken(e.channel)}`
        : `presence.events.user.${encodeToken(e.user)}`;
    tail.offer(subject, bytes(e));
  }
}

function collect(tail: Tail, filter: Parameters<Tail["add"]>[1]): EventBatch[] {
  const got: EventBatch[] = [];
  tail.add({ send: (b) => got.push(b) }, filter);
  return got;
}

describe("the live tail", () => {
  it("passes each page the events its filter matches, and counts every event", () => {
    const tail = new Tail();
    const all = collect(tail, {});
    const bob = collect(tail, { user: "b.o b" });
    const lobbyJoins = collect(tail, { channel: "lobby", type: "join" });
    const statuses = collect(tail, { type: "status" });
    offerAll(tail, [
      status("b.o b"),
      join("b.o b", "lobby"),
      join("al", "lobby"),
      join("al", "other"),
      status("al"),
    ]);
    tail.flush();
    expect(tail.takeCount()).toBe(5);
    expect(tail.takeCount()).toBe(0);
    expect(all[0]?.events).toHaveLength(5);
    expect(bob[0]?.events.map((e) => e.type)).toEqual(["status", "join"]);
    expect(lobbyJoins[0]?.events.map((e) => e.user)).toEqual(["b.o b", "al"]);
    expect(statuses[0]?.events.map((e) => e.user)).toEqual(["b.o b", "al"]);
  });

  it("sends at most MAX_PER_FLUSH a flush and counts the rest as dropped; nothing when nothing is new", () => {
    const tail = new Tail();
    const got = collect(tail, {});
    offerAll(
      tail,
      Array.from({ length: MAX_PER_FLUSH + 7 }, (_, i) => status(`u${i}`)),
    );
    tail.flush();
    tail.flush();
    expect(got).toHaveLength(1);
    expect(got[0]?.events).toHaveLength(MAX_PER_FLUSH);
    expect(got[0]?.dropped).toBe(7);
  });

  it("counts as dropped only what a full page's filter matches", () => {
    const tail = new Tail();
    const bob = collect(tail, { user: "bob" });
    offerAll(tail, [
      ...Array.from({ length: MAX_PER_FLUSH }, () => join("bob", "lobby")),
      join("al", "lobby"),
      join("bob", "other"),
    ]);
    tail.flush();
    expect(bob[0]?.events).toHaveLength(MAX_PER_FLUSH);
    expect(bob[0]?.dropped).toBe(1);
  });

  it("stops passing events to a page that left", () => {
    const tail = new Tail();
    const got: EventBatch[] = [];
    const remove = tail.add({ send: (b) => got.push(b) }, {});
    remove();
    offerAll(tail, [status("a")]);
    tail.flush();
    expect(got).toEqual([]);
  });
});
