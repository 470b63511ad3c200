import { internalSubjects } from "@herald/protocol";
import { describe, expect, it } from "vitest";
import {
  CLOCK_SLACK_MS,
  type EventLog,
  HistoryWindow,
  mapLimit,
  readHistory,
  readStatusAt,
  StatusAtFold,
} from "./history.js";

/** An event log in memory: per subject, events with the time the stream stored them. */
class MemoryLog implements EventLog {
  readonly stored = new Map<string, { storedMs: number; event: unknown }[]>();
  scans = 0;

  add(subject: string, event: unknown, storedMs: number): void {
    const list = this.stored.get(subject) ?? [];
    list.push({ storedMs, event });
    this.stored.set(subject, list);
  }

  async scan(subject: string, fromMs: number | undefined, visit: (event: unknown) => boolean): Promise<void> {
    this.scans++;
    for (const { storedMs, event } of this.stored.get(subject) ?? []) {
      if (fromMs !== undefined && storedMs < fromMs) continue;
      if (!visit(event)) return;
    }
  }

  async last(subject: string): Promise<unknown> {
    return this.stored.get(subject)?.at(-1)?.event;
  }
}

const status = (user: string, s: string, at: number) => ({
  type: "status",
  user,
  status: s,
  prev: "offline",
  at_ms: at,
});

describe("HistoryWindow", () => {
  it("keeps since ≤ at_ms ≤ until and stops past until (with slack)", () => {
    const w = new HistoryWindow({ since_ms: 100, until_ms: 200 });
    expect(w.offer({ at_ms: 99 })).toBe(true);
    expect(w.offer({ at_ms: 100 })).toBe(true);
    expect(w.offer({ at_ms: 200 })).toBe(true);
    expect(w.offer({ at_ms: 201 })).toBe(true);
    expect(w.offer({ at_ms: 150 })).toBe(true);
    expect(w.offer({ at_ms: 200 + CLOCK_SLACK_MS + 1 })).toBe(false);
    expect(w.events.map((e) => e.at_ms)).toEqual([100, 200, 150]);
  });

  it("stops at the limit, defaulting to 100", () => {
    const w = new HistoryWindow({ limit: 2 });
    expect(w.offer({ at_ms: 1 })).toBe(true);
    expect(w.offer({ at_ms: 2 })).toBe(false);
    const d = new HistoryWindow({});
    let n = 0;
    while (d.offer({ at_ms: n })) n++;
    expect(d.events).toHaveLength(100);
  });

  it("skips what is not an event", () => {
    const w = new HistoryWindow({});
    expect(w.offer(undefined)).toBe(true);
    expect(w.offer({ at_ms: "1" })).toBe(true);
    expect(w.offer([1])).toBe(true);
    expect(w.events).toEqual([]);
  });

  it("starts reading a little before since_ms", () => {
    expect(new HistoryWindow({}).fromMs).toBeUndefined();
    expect(new HistoryWindow({ since_ms: 1_000_000 }).fromMs).toBe(1_000_000 - CLOCK_SLACK_MS);
  });
});

describe("StatusAtFold", () => {
  it("takes the last status at or before the time, offline when none", () => {
    const fold = new StatusAtFold(100);
    expect(fold.status).toBe("offline");
    fold.offer(status("u", "online", 50));
    fold.offer({ type: "join", at_ms: 60 });
    fold.offer(status("u", "away", 100));
    expect(fold.offer(status("u", "offline", 101))).toBe(true);
    expect(fold.status).toBe("away");
    expect(fold.offer(status("u", "online", 100 + CLOCK_SLACK_MS + 1))).toBe(false);
  });
});

describe("readHistory", () => {
  it("reads the user's or the channel's subject, oldest first", async () => {
    const log = new MemoryLog();
    const u = internalSubjects.userEvent("a.b");
    const ch = internalSubjects.channelEvent("room");
    for (let i = 1; i <= 5; i++) log.add(u, status("a.b", "online", i * 1000), i * 1000 + 5);
    log.add(ch, { type: "join", channel: "room", at_ms: 7 }, 8);
    const { events } = await readHistory(log, { user: "a.b", since_ms: 2000, until_ms: 4000 });
    expect(events.map((e) => e.at_ms)).toEqual([2000, 3000, 4000]);
    expect((await readHistory(log, { channel: "room" })).events).toEqual([
      { type: "join", channel: "room", at_ms: 7 },
    ]);
    expect((await readHistory(log, { user: "nobody" })).events).toEqual([]);
  });
});

describe("readStatusAt", () => {
  it("answers from the newest event when it is old enough, else scans", async () => {
    const log = new MemoryLog();
    log.add(internalSubjects.userEvent("a"), status("a", "online", 10), 10);
    log.add(internalSubjects.userEvent("a"), status("a", "away", 20), 20);
    log.add(internalSubjects.userEvent("b"), status("b", "online", 30), 30);
    const now = await readStatusAt(log, { users: ["a", "b", "c", "a"], at_ms: 25 });
    expect(now.statuses).toEqual([
      { user: "a", status: "away" },
      { user: "b", status: "offline" },
      { user: "c", status: "offline" },
      { user: "a", status: "away" },
    ]);
    // Only b needed a scan; a was asked twice but read once.
    expect(log.scans).toBe(1);
    const before = await readStatusAt(log, { users: ["a"], at_ms: 15 });
    expect(before.statuses).toEqual([{ user: "a", status: "online" }]);
  });
});

describe("mapLimit", () => {
  it("keeps order and never runs more than the limit at once", async () => {
    let running = 0;
    let most = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (n) => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setImmediate(r));
      running--;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30]);
    expect(most).toBe(2);
  });
});
