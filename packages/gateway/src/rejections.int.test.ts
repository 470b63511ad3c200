/**
 * What a client can send, and what a refusal leaves behind: a request body over 1 MiB never
 * gets through a server configured like nats.conf, and where a server lets it through the
 * gateway answers 413; a command refused with 400, 404 or 413 appends nothing to
 * HERALD_COMMANDS (CONTRACT.md §4: "A rejected command changes nothing").
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { limits, partitionOf, subjects } from "@herald/protocol";
import { repoRoot, waitFor } from "@herald/testkit";
import { describe, expect, it } from "vitest";
import { type Harness, readCommands, startHarness } from "./harness.test.js";
import type { ApiCounters } from "./service.js";

const MiB = 1024 * 1024;
/** A server that lets bodies over 1 MiB through, so that the gateway sees them. */
const BIG_PAYLOAD = { server: { extraConfig: "max_payload: 2MB" } };

/** A heartbeat whose JSON body is exactly `bytes` long (padded with whitespace: still valid). */
function heartbeatBody(bytes: number, user = "big"): Uint8Array {
  const json = JSON.stringify({ user, conn: "c" });
  expect(bytes).toBeGreaterThanOrEqual(json.length);
  return new TextEncoder().encode(json + " ".repeat(bytes - json.length));
}

/** Sends `body` to `method` and returns the error code answered (or 0 for a result). */
async function codeOf(h: Harness, method: string, body: unknown): Promise<number> {
  const reply = await h.call(method, body);
  return reply.body.error?.code ?? (reply.body.result !== undefined ? 0 : -1);
}

describe("request size", () => {
  it("a body over 1 MiB cannot be sent through a server with nats.conf's max_payload", async () => {
    // nats.conf allows 1 MiB, the same as the contract's request limit.
    const conf = readFileSync(join(repoRoot, "nats.conf"), "utf8");
    expect(conf).toMatch(/^max_payload: 1MB$/m);
    expect(limits.requestMaxBytes).toBe(MiB);
    // The testkit's server keeps nats-server's default, which is the same 1 MiB.
    await using h = await startHarness();
    expect(h.nc.info?.max_payload).toBe(MiB);
    await h.viewLoaded();
    // The client refuses to send it: the gateway never sees it.
    await expect(h.call("heartbeat", heartbeatBody(MiB + 1))).rejects.toThrow(/max.?payload/i);
    // At the limit it goes through and is served like any request.
    expect((await h.call("heartbeat", heartbeatBody(MiB))).body).toEqual({ result: {} });
    expect((await readCommands(h)).map((c) => c.user)).toEqual(["big"]);
  });

  it("the gateway answers 413 for a body over 1 MiB that a server lets through, unparsed", async () => {
    await using h = await startHarness(BIG_PAYLOAD);
    expect(h.nc.info?.max_payload).toBe(2 * MiB);
    const reply = await h.call("heartbeat", heartbeatBody(MiB + 1));
    expect(reply.body.error).toEqual({
      code: 413,
      message: `request body has ${MiB + 1} bytes; at most ${MiB} are allowed`,
    });
    // Not parsed: not even JSON is looked at.
    const garbage = new Uint8Array(MiB + 1).fill(0x7b);
    expect(await codeOf(h, "presence", garbage)).toBe(413);
    // One byte less is fine.
    expect((await h.call("heartbeat", heartbeatBody(MiB))).body).toEqual({ result: {} });
  });
});

describe("a rejected command changes nothing", () => {
  // A 409 is the owner's verdict on a stored update, which then changes nothing: that is shown
  // with the workers as processes (test/conflict.test.ts).
  it("appends nothing to HERALD_COMMANDS for a 400, 404 or 413", async () => {
    await using h = await startHarness(BIG_PAYLOAD);
    await h.viewLoaded();
    const many = Array.from({ length: 1001 }, (_, i) => ({ user: `u${i}`, conn: "c" }));
    const refused: [method: string, body: unknown, code: number][] = [
      ["heartbeat", { user: "u", conn: "c", ttl_ms: 10 }, 400],
      ["heartbeat", new TextEncoder().encode("{not json"), 400],
      ["join", { user: "u", conn: "c", channel: "r", data: [] }, 400],
      ["set_status", { user: "u", status: "busy" }, 400],
      ["disconnect", { user: "u" }, 400],
      ["heartbeats", { user: "u", conn: "c" }, 404],
      ["join", { user: "u", conn: "c", channel: "r", data: { blob: "x".repeat(4100) } }, 413],
      ["heartbeat", { heartbeats: many }, 413],
      ["update_user_status", { users: many.map((m) => m.user) }, 413],
      ["heartbeat", heartbeatBody(MiB + 1, "u"), 413],
    ];
    for (const [method, body, code] of refused) {
      expect(await codeOf(h, method, body), `${method} answered`).toBe(code);
    }
    // The same sent as plain publishes: dropped, once the gateway has handled them all.
    for (const [method, body] of refused) {
      h.nc.publish(subjects.method(method), body instanceof Uint8Array ? body : JSON.stringify(body));
    }
    const counters = await waitFor(
      async () => {
        const d = (await h.stats())[0]?.endpoints?.[0]?.data as ApiCounters | undefined;
        const handled = d && d.plain_appended + d.plain_dropped + d.plain_ignored + d.plain_failed;
        return handled === refused.length && d;
      },
      { what: "the plain publishes to be handled" },
    );
    expect(counters).toMatchObject({ plain_appended: 0, plain_dropped: refused.length });
    // Markers behind them, one user in each partition: each partition appends in order, so
    // anything a refusal had appended would be stored before its partition's marker.
    const markers: string[] = [];
    const covered = new Set<number>();
    for (let i = 0; covered.size < h.config.partitions; i++) {
      const p = partitionOf(`marker-${i}`, h.config.partitions);
      if (covered.has(p)) continue;
      covered.add(p);
      markers.push(`marker-${i}`);
    }
    const heartbeats = markers.map((user) => ({ user, conn: "c" }));
    expect(await codeOf(h, "heartbeat", { heartbeats })).toBe(0);
    const cmds = await readCommands(h);
    expect(cmds.map((c) => c.user).sort()).toEqual([...markers].sort());
    expect(cmds.every((c) => c.type === "heartbeat")).toBe(true);
  });
});
