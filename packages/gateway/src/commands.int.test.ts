import { type Command, encodeVerdict, internalSubjects, json, partitionOf, subjects } from "@herald/protocol";
import { waitFor } from "@herald/testkit";
import { describe, expect, it } from "vitest";
import { type Harness, readCommandBatches, readCommands, startHarness } from "./harness.test.js";
import type { ApiCounters } from "./service.js";

/** A join's or update's reply token (checked where the verdict is answered), left out to compare the rest. */
function withoutReply(cmd: Command): Command {
  if (cmd.type !== "update" && cmd.type !== "join") return cmd;
  const { reply: _reply, ...rest } = cmd;
  return rest;
}

/**
 * Waits for the join or update appended after the first `stored` batches and publishes its
 * verdict (applied) to the gateway that asked, as the user's owner in presence-actor does.
 */
async function answerVerdict(h: Harness, stored: number): Promise<void> {
  const cmd = await waitFor(
    async () =>
      (await readCommandBatches(h))
        .slice(stored)
        .flatMap((b) => b.cmds)
        .find((c) => c.type === "update" || c.type === "join"),
    { what: "the command to be stored" },
  );
  const reply = cmd.type === "update" || cmd.type === "join" ? cmd.reply : undefined;
  expect(reply).toMatch(/^[A-Za-z0-9]+\.\d+$/);
  const [gateway, id] = (reply as string).split(".") as [string, string];
  h.nc.publish(internalSubjects.verdicts(gateway), encodeVerdict({ id: Number(id) }));
}

/** Replaces every at_ms with 0 after checking it lies in [from, to]. */
function unstamped(cmds: readonly Command[], from: number, to: number): Command[] {
  return cmds.map((cmd) => {
    expect(cmd.at_ms).toBeGreaterThanOrEqual(from);
    expect(cmd.at_ms).toBeLessThanOrEqual(to);
    return { ...cmd, at_ms: 0 };
  });
}

describe("gateway commands", () => {
  it("appends each command as stamped commands to its user's partition, durable when acknowledged", async () => {
    await using h = await startHarness({ env: { PRESENCE_TTL_MS: "20000" } });
    // Passed through as sent (an absolute time, not stamped): compared for real below.
    const expiresAt = Date.now() + 60_000;
    const requests: [string, unknown, Command[]][] = [
      [
        "heartbeat",
        { user: "alice", conn: "c1" },
        [{ type: "heartbeat", user: "alice", conn: "c1", ttl_ms: 20_000, at_ms: 0 }],
      ],
      [
        "heartbeat",
        { user: "bob", conn: "c2", ttl_ms: 5000 },
        [{ type: "heartbeat", user: "bob", conn: "c2", ttl_ms: 5000, at_ms: 0 }],
      ],
      [
        "disconnect",
        { user: "alice", conn: "c1" },
        [{ type: "disconnect", user: "alice", conn: "c1", at_ms: 0 }],
      ],
      [
        "update_user_status",
        { users: ["alice", "bob"] },
        [
          { type: "activity", user: "alice", at_ms: 0 },
          { type: "activity", user: "bob", at_ms: 0 },
        ],
      ],
      ["delete_user_status", { users: ["carol"] }, [{ type: "forget", user: "carol", at_ms: 0 }]],
      [
        "join",
        { user: "a.b c", conn: "*", channel: ">" },
        [{ type: "join", user: "a.b c", conn: "*", channel: ">", data: {}, ttl_ms: 20_000, at_ms: 0 }],
      ],
      [
        "update",
        { user: "a.b c", conn: "*", channel: ">", data: { typing: true } },
        [
          {
            type: "update",
            user: "a.b c",
            conn: "*",
            channel: ">",
            data: { typing: true },
            ttl_ms: 20_000,
            at_ms: 0,
          },
        ],
      ],
      [
        "leave",
        { user: "a.b c", conn: "*", channel: ">" },
        [{ type: "leave", user: "a.b c", conn: "*", channel: ">", ttl_ms: 20_000, at_ms: 0 }],
      ],
      [
        "set_status",
        { user: "ünï", status: "dnd", text: "focus", emoji: "🎧", expires_at_ms: expiresAt },
        [
          {
            type: "set_status",
            user: "ünï",
            status: "dnd",
            text: "focus",
            emoji: "🎧",
            expires_at_ms: expiresAt,
            at_ms: 0,
          },
        ],
      ],
    ];
    let stored = 0;
    for (const [method, params, expected] of requests) {
      const from = Date.now();
      const reply = h.call(method, params);
      // A join or update is answered once its user's owner applied it: the test plays the owner.
      if (method === "update" || method === "join") await answerVerdict(h, stored);
      expect((await reply).body).toEqual({ result: {} });
      const to = Date.now();
      // Acknowledged means stored: no waiting.
      const batches = await readCommandBatches(h);
      const added = batches.slice(stored);
      stored = batches.length;
      const cmds = unstamped(
        added.flatMap((b) => b.cmds),
        from,
        to,
      ).map(withoutReply);
      expect(cmds).toEqual(expected);
      for (const batch of added) {
        for (const cmd of batch.cmds)
          expect(batch.partition).toBe(partitionOf(cmd.user, h.config.partitions));
      }
    }
    const ids = (await readCommandBatches(h)).map((b) => b.msgId);
    expect(ids.every((id) => typeof id === "string" && id.length > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("keeps each user's commands in the order sent, also when requests are pipelined", async () => {
    await using h = await startHarness();
    const users = ["u1", "u2", "u3", "u4"];
    const n = 400;
    const replies = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        h.call("heartbeat", { user: users[i % users.length], conn: "c", ttl_ms: 1000 + i }),
      ),
    );
    for (const r of replies) expect(r.body).toEqual({ result: {} });
    const cmds = await readCommands(h);
    expect(cmds).toHaveLength(n);
    for (const user of users) {
      const ttls = cmds.filter((c) => c.user === user).map((c) => (c.type === "heartbeat" ? c.ttl_ms : -1));
      expect(ttls).toEqual([...ttls].sort((a, b) => a - b));
      expect(ttls).toHaveLength(n / users.length);
    }
    // Pipelined requests share batches.
    expect((await readCommandBatches(h)).length).toBeLessThan(n / 2);
  });

  it("acknowledges 1000 heartbeats in one request once, split across partitions in order", async () => {
    await using h = await startHarness();
    const heartbeats = Array.from({ length: 1000 }, (_, i) => ({ user: `user-${i}`, conn: `c${i}` }));
    expect((await h.call("heartbeat", { heartbeats })).body).toEqual({ result: {} });
    const batches = await readCommandBatches(h);
    const partitions = new Set(heartbeats.map((hb) => partitionOf(hb.user, h.config.partitions)));
    expect(batches).toHaveLength(partitions.size);
    expect(new Set(batches.map((b) => b.partition))).toEqual(partitions);
    for (const batch of batches) {
      const order = batch.cmds.map((c) => Number(c.user.slice("user-".length)));
      expect(order).toEqual([...order].sort((a, b) => a - b));
      for (const c of batch.cmds) expect(partitionOf(c.user, h.config.partitions)).toBe(batch.partition);
    }
    expect(batches.reduce((n, b) => n + b.cmds.length, 0)).toBe(1000);
    const stamps = new Set(batches.flatMap((b) => b.cmds.map((c) => c.at_ms)));
    expect(stamps.size).toBe(1);
  });

  it("appends plain-published commands and drops and counts invalid ones", async () => {
    await using h = await startHarness();
    // A published update is appended like any command: its owner refuses it later if need be.
    h.nc.publish(subjects.method("heartbeat"), json.encode({ user: "pub", conn: "c" }));
    h.nc.publish(subjects.method("join"), json.encode({ user: "pub", conn: "c", channel: "r" }));
    h.nc.publish(subjects.method("heartbeat"), json.encode({ user: "" }));
    h.nc.publish(subjects.method("heartbeat"), new TextEncoder().encode("{"));
    h.nc.publish(subjects.method("no_such_method"), json.encode({}));
    h.nc.publish(subjects.method("update"), json.encode({ user: "x", conn: "c", channel: "r", data: {} }));
    h.nc.publish(subjects.method("presence"), json.encode({ channel: "r" }));
    const data = await waitFor(
      async () => {
        const d = (await h.stats())[0]?.endpoints?.[0]?.data as ApiCounters | undefined;
        return (
          d !== undefined && d.plain_appended + d.plain_dropped + d.plain_ignored + d.plain_failed === 7 && d
        );
      },
      { what: "the published messages to be handled" },
    );
    expect(data).toMatchObject({ plain_appended: 3, plain_dropped: 3, plain_ignored: 1, plain_failed: 0 });
    const cmds = await readCommands(h);
    expect(cmds.map((c) => [c.type, c.user])).toEqual([
      ["heartbeat", "pub"],
      ["join", "pub"],
      ["update", "x"],
    ]);
  });
});
