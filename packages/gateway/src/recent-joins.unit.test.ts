import { memberKey } from "@herald/protocol";
import { describe, expect, it } from "vitest";
import { RecentJoins } from "./recent-joins.js";

describe("RecentJoins", () => {
  it("remembers a join for its ttl", () => {
    const joins = new RecentJoins(1000);
    joins.joined("room", "u", "c", 0);
    const key = memberKey("room", "u", "c");
    expect(joins.has(key, 999)).toBe(true);
    expect(joins.has(key, 1000)).toBe(false);
    expect(joins.has(memberKey("room", "u", "other"), 0)).toBe(false);
  });

  it("forgets a member on leave, and every member of a conn on disconnect", () => {
    const joins = new RecentJoins(1000);
    joins.joined("a", "u", "c", 0);
    joins.joined("b", "u", "c", 0);
    joins.joined("a", "u", "d", 0);
    joins.forget(memberKey("a", "u", "c"));
    expect(joins.has(memberKey("a", "u", "c"), 1)).toBe(false);
    expect(joins.has(memberKey("b", "u", "c"), 1)).toBe(true);
    joins.disconnected("u", "c");
    expect(joins.has(memberKey("b", "u", "c"), 1)).toBe(false);
    expect(joins.has(memberKey("a", "u", "d"), 1)).toBe(true);
    expect(joins.size).toBe(1);
  });

  it("keeps ids with dots and spaces apart", () => {
    const joins = new RecentJoins(1000);
    joins.joined("x", "a.b", "c", 0);
    joins.disconnected("a", "b.c");
    expect(joins.has(memberKey("x", "a.b", "c"), 1)).toBe(true);
  });

  it("drops expired entries as new ones come, and a re-join extends the time", () => {
    const joins = new RecentJoins(1000);
    joins.joined("r", "old", "c", 0);
    joins.joined("r", "again", "c", 0);
    joins.joined("r", "again", "c", 900);
    joins.joined("r", "new", "c", 1500);
    expect(joins.size).toBe(2);
    expect(joins.has(memberKey("r", "again", "c"), 1800)).toBe(true);
  });
});
