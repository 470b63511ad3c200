import { describe, expect, it } from "vitest";
import { RateLimiter } from "./rate-limit.js";

const need = (entries: Record<string, number>) => new Map(Object.entries(entries));

describe("RateLimiter", () => {
  it("gives each key `rate` tokens a second, all of a request's or none", () => {
    const r = new RateLimiter(10);
    expect(r.take(need({ a: 6 }), 0)).toBeUndefined();
    expect(r.take(need({ b: 1, a: 4 }), 0)).toBeUndefined();
    expect(r.take(need({ b: 1, a: 1 }), 0)).toBe("a");
    // b was not charged for the refused request: 9 left.
    expect(r.take(need({ b: 9 }), 0)).toBeUndefined();
    expect(r.takeOne("a", 1, 50)).toBe(false);
    expect(r.takeOne("a", 1, 100)).toBe(true);
  });

  it("forgets keys whose bucket refilled, so memory follows the recent senders", () => {
    const r = new RateLimiter(5);
    for (let i = 0; i < 100; i++) r.takeOne(`k${i}`, 1, 0);
    expect(r.size).toBe(100);
    r.takeOne("late", 5, 1500);
    expect(r.size).toBe(1);
  });
});
