import { describe, expect, it } from "vitest";
import { UsageError } from "./errors.js";
import {
  durationMs,
  normaliseArgs,
  parseDuration,
  parseIntIn,
  parseJsonObject,
  parsePositive,
  parseTime,
} from "./parse.js";

const NOW = Date.UTC(2025, 4, 1, 12, 0, 0);

describe("durations", () => {
  it("reads units, combinations and bare seconds", () => {
    expect(durationMs("500ms")).toBe(500);
    expect(durationMs("10s")).toBe(10_000);
    expect(durationMs("10m")).toBe(600_000);
    expect(durationMs("1h30m")).toBe(5_400_000);
    expect(durationMs("2d")).toBe(172_800_000);
    expect(durationMs("1.5s")).toBe(1500);
    expect(durationMs("30")).toBe(30_000);
  });

  it("says undefined for what is not one, and parseDuration names the option", () => {
    expect(durationMs("10 minutes")).toBeUndefined();
    expect(durationMs("m10")).toBeUndefined();
    expect(() => parseDuration("soon", "--duration")).toThrow(/invalid --duration: "soon" is not a duration/);
    expect(() => parseDuration("0s", "--duration")).toThrow(/must be more than 0/);
    expect(() => parseDuration("x", "--ttl")).toThrow(UsageError);
  });
});

describe("times", () => {
  it("reads now, unix ms and ISO 8601", () => {
    expect(parseTime("now", "--since", NOW)).toBe(NOW);
    expect(parseTime("1714555800000", "--since", NOW)).toBe(1714555800000);
    expect(parseTime("2025-05-01T09:30:00Z", "--since", NOW)).toBe(Date.UTC(2025, 4, 1, 9, 30));
    expect(parseTime("2025-05-01T09:30:00.250+02:00", "--since", NOW)).toBe(
      Date.UTC(2025, 4, 1, 7, 30, 0, 250),
    );
  });

  it("reads relative times: no sign and - are ago, + is ahead", () => {
    expect(parseTime("10m", "--since", NOW)).toBe(NOW - 600_000);
    expect(parseTime("-10m", "--since", NOW)).toBe(NOW - 600_000);
    expect(parseTime("-1h30m", "<time>", NOW)).toBe(NOW - 5_400_000);
    expect(parseTime("+5s", "--until", NOW)).toBe(NOW + 5000);
  });

  it("reads a clock time as today, local time", () => {
    const expected = new Date(NOW);
    expected.setHours(9, 5, 7, 0);
    expect(parseTime("09:05:07", "<time>", NOW)).toBe(expected.getTime());
    expect(() => parseTime("25:00", "<time>", NOW)).toThrow(/not a clock time/);
  });

  it("names the option and the forms it takes", () => {
    expect(() => parseTime("yesterday", "--since", NOW)).toThrow(
      /invalid --since: "yesterday" is not a time \(ISO 8601 .*unix ms, relative like 10m or -10m/,
    );
    expect(() => parseTime("-10", "--since", NOW)).toThrow(UsageError);
    expect(() => parseTime("2025-13-45", "--until", NOW)).toThrow(/invalid --until/);
  });
});

describe("numbers and JSON", () => {
  it("checks integer ranges", () => {
    expect(parseIntIn("100", "--limit", 1, 1000)).toBe(100);
    expect(() => parseIntIn("0", "--limit", 1, 1000)).toThrow("invalid --limit: must be 1..1000, got 0");
    expect(() => parseIntIn("1e3", "--limit", 1, 1000)).toThrow(/is not an integer/);
    expect(parsePositive("2.5", "--rate")).toBe(2.5);
    expect(() => parsePositive("-1", "--rate")).toThrow(/not a number above 0/);
    expect(() => parsePositive("", "--rate")).toThrow(UsageError);
  });

  it("takes JSON objects only", () => {
    expect(parseJsonObject('{"users":["42"]}', "params")).toEqual({ users: ["42"] });
    expect(() => parseJsonObject("{users}", "params")).toThrow(/invalid params: not JSON/);
    expect(() => parseJsonObject("[1]", "params")).toThrow(/must be a JSON object/);
    expect(() => parseJsonObject("null", "params")).toThrow(/must be a JSON object/);
  });
});

describe("normaliseArgs", () => {
  it("drops the sign of a negative duration after `at`, which would read as an option", () => {
    expect(normaliseArgs(["at", "-10m", "42"])).toEqual(["at", "10m", "42"]);
    expect(normaliseArgs(["--user", "client", "at", "--json", "-1h30m", "a"])).toEqual([
      "--user",
      "client",
      "at",
      "--json",
      "1h30m",
      "a",
    ]);
  });

  it("leaves other commands, options and what follows -- alone", () => {
    expect(normaliseArgs(["status", "-10m"])).toEqual(["status", "-10m"]);
    expect(normaliseArgs(["at", "--", "-10m", "42"])).toEqual(["at", "--", "-10m", "42"]);
    expect(normaliseArgs(["at", "-s", "nats://x", "now", "42"])).toEqual([
      "at",
      "-s",
      "nats://x",
      "now",
      "42",
    ]);
  });
});
