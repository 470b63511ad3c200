import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { backoffDelay } from "./backoff.js";
import { Throttle } from "./throttle.js";

const opts = { minDelayMs: 500, maxDelayMs: 20_000 };
const justBelowOne = 1 - 2 ** -40;

describe("backoffDelay (full jitter)", () => {
  it("doubles its ceiling per attempt up to the cap", () => {
    const top = (attempt: number) => backoffDelay(attempt, opts, () => justBelowOne);
    expect([0, 1, 2, 3, 4, 5, 6].map(top)).toEqual([499, 999, 1999, 3999, 7999, 15_999, 19_999]);
    expect(top(60)).toBe(19_999);
    expect(top(5000)).toBe(19_999);
  });

  it("draws uniformly from [0, ceiling): the random source scales the ceiling", () => {
    expect(backoffDelay(0, opts, () => 0)).toBe(0);
    expect(backoffDelay(3, opts, () => 0.5)).toBe(2000);
    expect(backoffDelay(3, opts, () => 0.25)).toBe(1000);
    expect(backoffDelay(10, opts, () => 0.5)).toBe(10_000);
  });

  it("stays within [0, min(max, min·2^attempt)) for any attempt and draw", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 200 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, r) => {
          const d = backoffDelay(attempt, opts, () => r);
          const ceiling = Math.min(opts.maxDelayMs, opts.minDelayMs * 2 ** attempt);
          return Number.isInteger(d) && d >= 0 && d < ceiling;
        },
      ),
    );
  });
});

describe("Throttle (leading edge)", () => {
  it("lets the first call through, drops the rest of its window, then lets one through again", () => {
    const t = new Throttle(5000);
    expect([0, 1, 2500, 4999].map((ms) => t.take(ms))).toEqual([true, false, false, false]);
    expect(t.take(5000)).toBe(true);
    expect(t.take(9999)).toBe(false);
    t.mark(12_000);
    expect(t.take(16_999)).toBe(false);
    expect(t.take(17_000)).toBe(true);
  });
});
