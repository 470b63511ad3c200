import { describe, expect, it } from "vitest";
import { channelsText, historyTable, presenceTable, statsText, statusAtTable, statusTable } from "./views.js";

const at = (h: number, m: number, s: number, ms = 0) => new Date(2025, 4, 1, h, m, s, ms).getTime();
const NOW = at(14, 3, 22);
const sec = (ms: number) => Math.floor(ms / 1000);

describe("query views", () => {
  it("statusTable: times local with how long ago, manual status, - when unknown", () => {
    const text = statusTable(
      [
        { user: "alice", status: "online", online: sec(NOW), active: sec(at(14, 0, 22)) },
        {
          user: "bob",
          status: "away",
          online: sec(NOW),
          active: sec(at(13, 50, 0)),
          manual: { status: "dnd", text: "focus" },
        },
        { user: "nobody", status: "offline" },
      ],
      NOW,
    );
    expect(text.split("\n")).toEqual([
      "USER    STATUS   ONLINE               ACTIVE              MANUAL",
      "alice   online   14:03:22 (just now)  14:00:22 (3m ago)   -",
      'bob     away     14:03:22 (just now)  13:50:00 (13m ago)  dnd "focus"',
      "nobody  offline  -                    -                   -",
    ]);
  });

  it("presenceTable: members sorted by user and conn, with a count", () => {
    const text = presenceTable(
      "room:1",
      [
        { user: "bob", conn: "t2", data: {}, joined_at_ms: at(14, 3, 0), updated_at_ms: at(14, 3, 0) },
        {
          user: "alice",
          conn: "t1",
          data: { name: "Ada" },
          joined_at_ms: at(14, 0, 0),
          updated_at_ms: at(14, 2, 22),
        },
        { user: "bob", conn: "t1", data: {}, joined_at_ms: at(14, 1, 0), updated_at_ms: at(14, 1, 0) },
      ],
      NOW,
    );
    expect(text.split("\n")).toEqual([
      "USER   CONN  JOINED                 UPDATED            DATA",
      'alice  t1    14:00:00 (3m 22s ago)  14:02:22 (1m ago)  {"name":"Ada"}',
      "bob    t1    14:01:00 (2m 22s ago)  -",
      "bob    t2    14:03:00 (22s ago)     -",
      "3 members, 2 users in room:1",
    ]);
    expect(presenceTable("empty", [], NOW)).toBe("no one in empty");
  });

  it("statsText, channelsText, statusAtTable", () => {
    expect(statsText("room:1", { num_clients: 1200, num_users: 3 }).split("\n")).toEqual([
      "CHANNEL  CLIENTS  USERS",
      "room:1     1,200      3",
    ]);
    expect(channelsText("42", ["b", "a"])).toBe("a\nb");
    expect(channelsText("42", [])).toBe("42 is in no channel");
    expect(statusAtTable(at(13, 53, 22), [{ user: "42", status: "away" }], NOW).split("\n")).toEqual([
      "statuses at 13:53:22 (10m ago)",
      "USER  STATUS",
      "42    away",
    ]);
  });

  it("historyTable: a user's status changes, or a channel's events", () => {
    expect(
      historyTable(
        [
          { type: "status", user: "42", status: "online", prev: "offline", at_ms: at(14, 0, 0, 5) },
          { type: "status", user: "42", status: "away", prev: "online", at_ms: at(14, 5, 0) },
        ],
        NOW,
      ).split("\n"),
    ).toEqual([
      "TIME          USER  STATUS",
      "14:00:00.005  42    offline → online",
      "14:05:00.000  42    online → away",
    ]);
    expect(
      historyTable(
        [
          {
            type: "join",
            channel: "c",
            user: "u",
            conn: "k",
            data: { a: 1 },
            first: true,
            at_ms: at(14, 0, 0),
          },
          {
            type: "leave",
            channel: "c",
            user: "u",
            conn: "k",
            reason: "disconnect",
            last: true,
            at_ms: at(14, 1, 0),
          },
        ],
        NOW,
      ).split("\n"),
    ).toEqual([
      "TIME          TYPE   CHANNEL  WHO  DETAIL",
      '14:00:00.000  join   c        u/k  first  {"a":1}',
      "14:01:00.000  leave  c        u/k  disconnect last",
    ]);
    expect(historyTable([], NOW)).toBe("no events");
  });
});
