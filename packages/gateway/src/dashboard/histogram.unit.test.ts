import { describe, expect, it } from "vitest";
import { bucketsSince, quantile } from "./histogram.js";

const INF = Number.POSITIVE_INFINITY;

describe("histogram quantiles", () => {
  it("interpolates within the bucket that holds the rank", () => {
    // 10 observations: 4 up to 1 ms, 6 more up to 10 ms.
    const b = new Map([
      [0.001, 4],
      [0.01, 10],
      [INF, 10],
    ]);
    expect(quantile(0.5, b)).toBeCloseTo(0.001 + 0.009 * (1 / 6));
    expect(quantile(0.2, b)).toBeCloseTo(0.0005);
    expect(quantile(1, b)).toBeCloseTo(0.01);
  });

  it("answers the largest finite bound above it, and null with no observation", () => {
    expect(
      quantile(
        0.99,
        new Map([
          [0.001, 0],
          [0.01, 1],
          [INF, 5],
        ]),
      ),
    ).toBe(0.01);
    expect(
      quantile(
        0.5,
        new Map([
          [0.001, 0],
          [INF, 0],
        ]),
      ),
    ).toBeNull();
  });

  it("takes the interval's observations, from zero after a reset", () => {
    const before = new Map([
      [0.001, 3],
      [INF, 5],
    ]);
    const after = new Map([
      [0.001, 4],
      [INF, 8],
    ]);
    expect([...bucketsSince(before, after)]).toEqual([
      [0.001, 1],
      [INF, 3],
    ]);
    expect([...bucketsSince(after, before)]).toEqual([...before]);
    expect([...bucketsSince(undefined, after)]).toEqual([...after]);
  });
});
