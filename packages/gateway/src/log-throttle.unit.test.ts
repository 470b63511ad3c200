import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { LogThrottle } from "./log-throttle.js";

describe("LogThrottle", () => {
  it("logs once per interval and reports how many it held back", () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: "warn" }, { write: (s: string) => lines.push(JSON.parse(s)) });
    let now = 0;
    const throttle = new LogThrottle(1000, () => now);
    throttle.warn(log, { n: 1 }, "busy");
    for (let i = 0; i < 5; i++) {
      now += 100;
      throttle.warn(log, { n: 2 }, "busy");
    }
    now = 1000;
    throttle.warn(log, { n: 3 }, "busy");
    expect(lines.map((l) => [l.n, l.suppressed, l.msg])).toEqual([
      [1, undefined, "busy"],
      [3, 5, "busy"],
    ]);
  });
});
