import { SERVICE_NAME, streams, subjects } from "@herald/protocol";
import {
  ServiceErrorCodeHeader,
  ServiceErrorHeader,
  type ServiceIdentity,
  type ServiceInfo,
} from "@nats-io/services";
import { describe, expect, it } from "vitest";
import { type Harness, type Reply, readCommands, startHarness } from "./harness.test.js";
import { ENDPOINT_NAME, SERVICE_VERSION } from "./service.js";

/** The reply is the error `code` with a message matching `message`, in body and headers. */
function expectError(reply: Reply, code: number, message: string | RegExp): void {
  const { error, result } = reply.body;
  expect(result).toBeUndefined();
  expect(error?.code).toBe(code);
  if (typeof message === "string") expect(error?.message).toContain(message);
  else expect(error?.message).toMatch(message);
  expect(reply.headers?.get(ServiceErrorCodeHeader)).toBe(String(code));
  expect(reply.headers?.get(ServiceErrorHeader)).toBe(error?.message);
}

/** One bad request per method, with the field its error must name. */
const BAD_PARAMS: [method: string, params: unknown, field: string][] = [
  ["heartbeat", { user: 1, conn: "c" }, "user:"],
  ["heartbeat", { heartbeats: [{ user: "u", conn: "c", ttl_ms: 10 }] }, "heartbeats[0].ttl_ms"],
  ["heartbeat", { user: "u", conn: "c", ttl_ms: 3_600_001 }, "ttl_ms"],
  ["disconnect", { user: "u" }, "conn is required"],
  ["update_user_status", { users: [] }, "users"],
  ["delete_user_status", { users: ["a\u0000"] }, "users[0]"],
  ["join", { user: "u", conn: "c", channel: "x", data: [] }, "data"],
  ["update", { user: "u", conn: "c", channel: "x" }, "data is required"],
  ["leave", { user: "u", conn: "c" }, "channel is required"],
  ["set_status", { user: "u", status: "busy" }, "status"],
  ["set_status", { user: "u", status: "auto", text: "hi" }, "text"],
  ["get_user_status", { users: ["u"], include_hidden: "yes" }, "include_hidden"],
  ["presence", {}, "channel is required"],
  ["presence_stats", { channel: "" }, "channel"],
  ["channel_users", { channel: "x", extra: 1 }, '"extra"'],
  ["user_channels", { user: 5 }, "user"],
  ["is_present", { channel: "c" }, "user is required"],
  ["history", { user: "u", limit: 0 }, "limit"],
  ["history", { since_ms: 1 }, "user and channel"],
  ["status_at", { users: ["u"] }, "at_ms is required"],
];

async function withHarness(fn: (h: Harness) => Promise<void>): Promise<void> {
  await using h = await startHarness();
  await h.viewLoaded();
  await fn(h);
}

describe("gateway API errors", () => {
  it("answers 400 naming the field, for every method, with the service error headers", async () => {
    await withHarness(async (h) => {
      for (const [method, params, field] of BAD_PARAMS) {
        const reply = await h.call(method, params);
        expectError(reply, 400, field);
      }
      expectError(await h.call("heartbeat", new TextEncoder().encode("{not json\n")), 400, "not valid JSON");
      expectError(
        await h.call("presence", new TextEncoder().encode("[1]")),
        400,
        "params must be a JSON object",
      );
    });
  });

  it("answers 404 for an unknown method, whatever its subject", async () => {
    await withHarness(async (h) => {
      expectError(await h.call("nope", {}), 404, 'unknown method "nope"');
      expectError(await h.call("presence.extra", { channel: "x" }), 404, "presence.extra");
    });
  });

  it("answers 413 for a batch or data over its limit", async () => {
    await withHarness(async (h) => {
      const many = Array.from({ length: 1001 }, (_, i) => `u${i}`);
      expectError(
        await h.call("heartbeat", { heartbeats: many.map((user) => ({ user, conn: "c" })) }),
        413,
        "heartbeats has 1001 items",
      );
      for (const method of ["update_user_status", "delete_user_status", "get_user_status"]) {
        expectError(await h.call(method, { users: many }), 413, "users has 1001 items");
      }
      expectError(await h.call("status_at", { users: many, at_ms: 1 }), 413, "users");
      const data = { blob: "x".repeat(4100) };
      expectError(await h.call("join", { user: "u", conn: "c", channel: "r", data }), 413, "data:");
      expectError(await h.call("update", { user: "u", conn: "c", channel: "r", data }), 413, "data:");
    });
  });

  it("refuses hostile input with 400 naming the problem, briefly", async () => {
    await withHarness(async (h) => {
      const longName = "k".repeat(700_000);
      const reply = await h.call("presence", JSON.parse(`{"channel":"r","${longName}":1}`));
      expectError(reply, 400, /^unknown field "k+…"$/);
      expect(reply.body.error?.message.length).toBeLessThan(200);
      expectError(
        await h.call("heartbeat", new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])),
        400,
        "body is not valid UTF-8",
      );
      // data nested 5,000 deep (written as text: JSON.stringify itself would overflow).
      const deep = `{"user":"u","conn":"c","channel":"r","data":${'{"d":'.repeat(5000)}{}${"}".repeat(5000)}}`;
      expectError(await h.call("join", new TextEncoder().encode(deep)), 400, /nested/);
      expectError(await h.call("history", { user: "u", since_ms: 253_402_300_800_000 }), 400, /^since_ms: /);
      expectError(
        await h.call("set_status", { user: "u", status: "dnd", expires_at_ms: 1e300 }),
        400,
        /^expires_at_ms: /,
      );
      expectError(await h.call("status_at", { users: ["u"], at_ms: 8.64e15 }), 400, /^at_ms: /);
    });
  });

  it("answers 503 when the command cannot be stored", async () => {
    await withHarness(async (h) => {
      await h.result("heartbeat", { user: "u", conn: "c" });
      await h.jsm.streams.delete(streams.commands);
      expectError(await h.call("heartbeat", { user: "u", conn: "c" }), 503, /not acknowledged by JetStream/);
      const stats = await h.stats();
      expect(stats[0]?.endpoints?.[0]?.data).toMatchObject({ failed_batches: 1, errors: { 503: 1 } });
    });
  });
});

describe("gateway micro service", () => {
  it("answers $SRV.PING and $SRV.INFO.presence with its one endpoint and queue group", async () => {
    await using h = await startHarness();
    const pings: ServiceIdentity[] = [];
    for await (const p of await h.services().ping()) pings.push(p);
    expect(pings).toHaveLength(1);
    expect(pings[0]).toMatchObject({ name: SERVICE_NAME, version: SERVICE_VERSION });
    const infos: ServiceInfo[] = [];
    for await (const i of await h.services().info(SERVICE_NAME)) infos.push(i);
    expect(infos).toHaveLength(1);
    expect(infos[0]?.endpoints).toEqual([{ name: ENDPOINT_NAME, subject: subjects.api, queue_group: "q" }]);
  });

  it("shares requests between two gateways in the queue group, answering each once", async () => {
    await using h = await startHarness({ gateways: 2 });
    await h.viewLoaded();
    const before = (await h.stats()).reduce((n, s) => n + (s.endpoints?.[0]?.num_requests ?? 0), 0);
    const n = 200;
    const replies = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        i % 2 === 0
          ? h.call("heartbeat", { user: `u${i}`, conn: "c" })
          : h.call("is_present", { channel: "r", user: `u${i}` }),
      ),
    );
    for (const [i, r] of replies.entries()) {
      expect(r.body).toEqual(i % 2 === 0 ? { result: {} } : { result: { present: false } });
    }
    const stats = await h.stats();
    expect(stats).toHaveLength(2);
    expect(new Set(stats.map((s) => s.id)).size).toBe(2);
    const counts = stats.map((s) => s.endpoints?.[0]?.num_requests ?? 0);
    for (const c of counts) expect(c).toBeGreaterThan(0);
    // Every request reached exactly one gateway.
    expect(counts.reduce((a, b) => a + b, 0) - before).toBe(n);
  });

  it("on close answers what it received, with every command stored, then stops serving", async () => {
    await using h = await startHarness();
    const gateway = h.gateways.splice(0)[0];
    const sent = Array.from({ length: 50 }, (_, i) =>
      h.call("heartbeat", {
        heartbeats: [
          { user: `u${i}`, conn: "a" },
          { user: `v${i}`, conn: "b" },
        ],
      }),
    );
    // The server has routed the requests to the gateway before it unsubscribes.
    await h.nc.flush();
    await gateway?.close();
    const replies = await Promise.all(sent);
    const stored = new Set((await readCommands(h)).map((c) => c.user));
    for (const [i, reply] of replies.entries()) {
      expect(reply.body).toEqual({ result: {} });
      expect(stored.has(`u${i}`) && stored.has(`v${i}`)).toBe(true);
    }
    await expect(h.call("heartbeat", { user: "late", conn: "c" })).rejects.toThrow(/no responders/);
  });
});
