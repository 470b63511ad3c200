import { describe, expect, it } from "vitest";
import { bytes, duration, ranges, rate } from "./format.js";

describe("the page's formats", () => {
  it("writes sizes, durations and rates", () => {
    expect(bytes(512)).toBe("512 B");
    expect(bytes(3 * 1024 * 1024 + 512 * 1024)).toBe("3.5 MiB");
    expect(duration(59_999)).toBe("59 s");
    expect(duration(3_723_000)).toBe("1 h 2 min");
    expect(duration(3 * 86_400_000)).toBe("3 d 0 h");
    expect(rate(null)).toBe("–");
    expect(rate(2.345)).toBe("2.3");
    expect(rate(1234.5)).toBe("1,235");
    expect(ranges([9, 0, 1, 2, 3, 7, 10])).toBe("0–3, 7, 9–10");
    expect(ranges([])).toBe("");
  });
});
