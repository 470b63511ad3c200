import { describe, expect, it } from "vitest";
import { count, ProgressBar, type ProgressOutput, progressLine, rate } from "./progress.js";

/** Collects what the bar writes. */
function output(isTTY: boolean): ProgressOutput & { text: string } {
  return {
    isTTY,
    text: "",
    write(s: string) {
      this.text += s;
    },
  };
}

describe("progressLine", () => {
  it("draws the bar, the percentage, the counts and the rate", () => {
    expect(progressLine({ read: 12_345, total: 24_690, elapsedMs: 1524 })).toBe(
      "rebuild [##########..........] 50% 12,345/24,690 facts 8.1k/s",
    );
    expect(progressLine({ read: 0, total: 3, elapsedMs: 0 })).toBe(
      "rebuild [....................] 0% 0/3 facts 0/s",
    );
    expect(progressLine({ read: 0, total: 0, elapsedMs: 5 })).toMatch(/^rebuild \[#{20}\] 100% 0\/0 facts/);
  });

  it("never shows more than 100 % (facts stored during the rebuild)", () => {
    expect(progressLine({ read: 11, total: 10, elapsedMs: 1000 })).toMatch(
      /\[#{20}\] 100% 11\/10 facts 11\/s$/,
    );
  });

  it("formats counts and rates for people", () => {
    expect([count(0), count(999), count(1234567)]).toEqual(["0", "999", "1,234,567"]);
    expect([rate(812.4), rate(8123), rate(1_250_000)]).toEqual(["812/s", "8.1k/s", "1.3M/s"]);
  });
});

describe("ProgressBar", () => {
  const steps = (total: number) =>
    Array.from({ length: total + 1 }, (_, read) => ({ read, total, elapsedMs: 1000 }));

  it("redraws one line on a terminal and ends it once", () => {
    const out = output(true);
    const bar = new ProgressBar(out);
    for (const p of steps(4)) bar.update(p);
    bar.end();
    bar.end();
    expect(out.text.split("\r")).toHaveLength(6);
    expect(out.text.endsWith("100% 4/4 facts 4/s\x1b[K\n")).toBe(true);
    expect(out.text.match(/\n/g)).toHaveLength(1);
  });

  it("prints a line at every 10 % in a log, and nothing to end", () => {
    const out = output(false);
    const bar = new ProgressBar(out);
    for (const p of steps(200)) bar.update(p);
    bar.end();
    const lines = out.text.trimEnd().split("\n");
    expect(lines.map((l) => /\] (\d+)%/.exec(l)?.[1])).toEqual([
      "0",
      "10",
      "20",
      "30",
      "40",
      "50",
      "60",
      "70",
      "80",
      "90",
      "100",
    ]);
    expect(out.text).not.toContain("\r");
  });

  it("prints one line for a jump over several steps", () => {
    const out = output(false);
    const bar = new ProgressBar(out);
    bar.update({ read: 0, total: 10, elapsedMs: 0 });
    bar.update({ read: 7, total: 10, elapsedMs: 1 });
    bar.update({ read: 7, total: 10, elapsedMs: 2 });
    expect(
      out.text
        .trimEnd()
        .split("\n")
        .map((l) => /\] (\d+)%/.exec(l)?.[1]),
    ).toEqual(["0", "70"]);
  });
});
