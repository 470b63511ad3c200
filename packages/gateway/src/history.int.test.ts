import { internalSubjects, json } from "@herald/protocol";
import { describe, expect, it } from "vitest";
import { type Harness, startHarness } from "./harness.test.js";

type Status = "online" | "away" | "offline";

const BASE = Date.now() - 3_600_000;

async function publishStatuses(
  h: Harness,
  user: string,
  steps: [at: number, status: Status][],
): Promise<object[]> {
  const js = h.jsm.jetstream();
  const events: object[] = [];
  let prev: Status = "offline";
  for (const [at, status] of steps) {
    const event = { type: "status", user, status, prev, at_ms: at };
    prev = status;
    await js.publish(internalSubjects.userEvent(user), json.encode(event));
    events.push(event);
  }
  return events;
}

describe("gateway history", () => {
  it("returns a user's status events oldest first, within since/until and the limit", async () => {
    await using h = await startHarness();
    const steps = Array.from(
      { length: 12 },
      (_, i) => [BASE + i * 1000, i % 2 ? "away" : "online"] as [number, Status],
    );
    const events = await publishStatuses(h, "a.b c", steps);
    await publishStatuses(h, "a.b", [[BASE, "online"]]);
    expect(await h.result("history", { user: "a.b c" })).toEqual({ events });
    expect(
      await h.result("history", { user: "a.b c", since_ms: BASE + 2000, until_ms: BASE + 5000 }),
    ).toEqual({
      events: events.slice(2, 6),
    });
    expect(await h.result("history", { user: "a.b c", since_ms: BASE + 2500, limit: 3 })).toEqual({
      events: events.slice(3, 6),
    });
    expect(await h.result("history", { user: "a.b c", until_ms: BASE - 1 })).toEqual({ events: [] });
    expect(await h.result("history", { user: "nobody" })).toEqual({ events: [] });
  });

  it("returns a channel's events, and reads past one fetch for a large limit", async () => {
    await using h = await startHarness();
    const js = h.jsm.jetstream();
    const channel = "room:*>é";
    const events: object[] = [];
    const acks: Promise<unknown>[] = [];
    for (let i = 0; i < 1200; i++) {
      const type = i % 3 === 0 ? "join" : i % 3 === 1 ? "update" : "leave";
      const event = {
        type,
        channel,
        user: `u${i}`,
        conn: "c",
        ...(type === "leave" ? { reason: "leave" } : { data: { i } }),
        at_ms: BASE + i,
      };
      events.push(event);
      acks.push(js.publish(internalSubjects.channelEvent(channel), json.encode(event)));
    }
    acks.push(
      js.publish(
        internalSubjects.channelEvent("room"),
        json.encode({ type: "join", channel: "room", at_ms: BASE }),
      ),
    );
    await Promise.all(acks);
    const got = await h.result<{ events: object[] }>("history", { channel, limit: 1000 });
    expect(got.events).toEqual(events.slice(0, 1000));
    const tail = await h.result<{ events: object[] }>("history", { channel, since_ms: BASE + 1100 });
    expect(tail.events).toEqual(events.slice(1100));
  });
});

describe("gateway status_at", () => {
  it("answers the status others saw at a time, offline before any event", async () => {
    await using h = await startHarness();
    await publishStatuses(h, "alice", [
      [BASE + 1000, "online"],
      [BASE + 2000, "away"],
      [BASE + 3000, "offline"],
    ]);
    await publishStatuses(h, "😀", [[BASE + 1500, "online"]]);
    const at = async (at_ms: number) =>
      (
        await h.result<{ statuses: { user: string; status: Status }[] }>("status_at", {
          users: ["alice", "😀", "nobody"],
          at_ms,
        })
      ).statuses.map((s) => `${s.user}:${s.status}`);
    expect(await at(BASE)).toEqual(["alice:offline", "😀:offline", "nobody:offline"]);
    expect(await at(BASE + 1000)).toEqual(["alice:online", "😀:offline", "nobody:offline"]);
    expect(await at(BASE + 1999)).toEqual(["alice:online", "😀:online", "nobody:offline"]);
    expect(await at(BASE + 2500)).toEqual(["alice:away", "😀:online", "nobody:offline"]);
    expect(await at(BASE + 10_000)).toEqual(["alice:offline", "😀:online", "nobody:offline"]);
  });
});
