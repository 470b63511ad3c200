import type { PresenceEvent } from "@herald/contract";
import { describe, expect, it } from "vitest";
import { colors } from "./colors.js";
import {
  ago,
  bytes,
  clockMs,
  eventLine,
  initialWidths,
  localTime,
  manualText,
  plural,
  rate,
  shortDuration,
  stripAnsi,
  table,
  truncate,
  visibleWidth,
  when,
} from "./format.js";

const at = (h: number, m: number, s: number, ms = 0) => new Date(2025, 4, 1, h, m, s, ms).getTime();
const NOW = at(14, 3, 22);

describe("times", () => {
  it("shows today's times as a clock, other days with the date", () => {
    expect(localTime(at(9, 5, 7), NOW)).toBe("09:05:07");
    expect(localTime(new Date(2025, 3, 30, 23, 59, 1).getTime(), NOW)).toBe("2025-04-30 23:59:01");
    expect(clockMs(at(9, 5, 7, 45))).toBe("09:05:07.045");
  });

  it("says how long ago, in one or two units", () => {
    expect(ago(NOW - 400, NOW)).toBe("just now");
    expect(ago(NOW - 12_000, NOW)).toBe("12s ago");
    expect(ago(NOW - 180_000, NOW)).toBe("3m ago");
    expect(ago(NOW - 200_000, NOW)).toBe("3m 20s ago");
    expect(ago(NOW - 7_500_000, NOW)).toBe("2h 5m ago");
    expect(ago(NOW - 3 * 86_400_000, NOW)).toBe("3d ago");
    expect(ago(NOW + 300_000, NOW)).toBe("in 5m");
    expect(when(NOW - 180_000, NOW)).toBe("14:00:22 (3m ago)");
    expect(shortDuration(90_061_000)).toBe("1d 1h");
  });
});

describe("numbers", () => {
  it("formats sizes, counts and rates", () => {
    expect(bytes(512)).toBe("512 B");
    expect(bytes(80 * 1024 * 1024 + 100_000)).toBe("80.1 MiB");
    expect(plural(1, "member")).toBe("1 member");
    expect(plural(1234, "user")).toBe("1,234 users");
    expect(rate(812)).toBe("812/s");
    expect(rate(8100)).toBe("8.1k/s");
    expect(rate(2.5)).toBe("2.5/s");
  });
});

describe("tables", () => {
  it("aligns columns by visible width, colours ignored", () => {
    const c = colors(true);
    const text = table(
      ["USER", "STATUS"],
      [
        ["alice", c.green("online")],
        ["bob-the-second", c.dim("offline")],
      ],
    );
    expect(stripAnsi(text).split("\n")).toEqual([
      "USER            STATUS",
      "alice           online",
      "bob-the-second  offline",
    ]);
  });

  it("aligns numbers right", () => {
    expect(
      table(
        ["CH", "N"],
        [
          ["a", "5"],
          ["b", "123"],
        ],
        { right: [1] },
      ).split("\n"),
    ).toEqual(["CH    N", "a     5", "b   123"]);
  });

  it("measures and cuts text by code points", () => {
    expect(visibleWidth("\x1b[32mé🎧\x1b[39m")).toBe(2);
    expect(truncate("abcdef", 4)).toBe("abc…");
    expect(truncate("abc", 4)).toBe("abc");
  });
});

describe("eventLine", () => {
  const plain = colors(false);

  it("shows a status change with its manual status", () => {
    const e: PresenceEvent = {
      type: "status",
      user: "alice",
      status: "online",
      prev: "offline",
      at_ms: at(14, 3, 22, 45),
      manual: { status: "dnd", text: "focus", emoji: "🎧" },
    };
    expect(eventLine(e, initialWidths(), plain, NOW)).toBe(
      '14:03:22.045  status  alice         offline → online  dnd 🎧 "focus"',
    );
  });

  it("shows channel events with their conn, flags and data, aligned as the widths grow", () => {
    const widths = initialWidths();
    const join: PresenceEvent = {
      type: "join",
      channel: "room:1",
      user: "bob",
      conn: "tab-1",
      data: { name: "Bob" },
      first: true,
      at_ms: at(14, 3, 22),
    };
    const leave: PresenceEvent = {
      type: "leave",
      channel: "room:1",
      user: "bob",
      conn: "tab-1",
      reason: "timeout",
      last: true,
      at_ms: at(14, 3, 23),
    };
    expect(eventLine(join, widths, plain, NOW)).toBe(
      '14:03:22.000  join    room:1        bob/tab-1     first  {"name":"Bob"}',
    );
    expect(eventLine(leave, widths, plain, NOW)).toBe(
      "14:03:23.000  leave   room:1        bob/tab-1     timeout last",
    );
  });

  it("colours only when asked", () => {
    const e: PresenceEvent = { type: "update", channel: "c", user: "u", conn: "k", data: {}, at_ms: NOW };
    expect(eventLine(e, initialWidths(), colors(true), NOW)).toContain("\x1b[");
    expect(eventLine(e, initialWidths(), plain, NOW)).not.toContain("\x1b[");
  });

  it("describes manual statuses with their expiry", () => {
    expect(manualText({ status: "invisible", expires_at_ms: at(15, 0, 0) }, NOW)).toBe(
      "invisible until 15:00:00",
    );
    expect(manualText(undefined, NOW)).toBe("");
  });
});
