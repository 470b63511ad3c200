import { NatsServer } from "@herald/testkit";
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterEach, describe, expect, it } from "vitest";
import { PublishError } from "./errors.js";
import { StreamPublisher } from "./publisher.js";

const encoder = new TextEncoder();

describe("StreamPublisher", () => {
  const cleanup: (() => Promise<void>)[] = [];
  // Every cleanup runs, newest first; any that failed fails the test.
  afterEach(async () => {
    const failed: unknown[] = [];
    for (const f of cleanup.splice(0).reverse()) await f().catch((err: unknown) => failed.push(err));
    if (failed.length > 0) throw new AggregateError(failed, `${failed.length} cleanup step(s) failed`);
  });

  async function setup(timeoutMs = 2000) {
    const server = await NatsServer.start();
    cleanup.push(() => server[Symbol.asyncDispose]());
    const nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    cleanup.push(() => nc.close());
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "T", subjects: ["t.>"], max_msg_size: 1024 });
    const stored = async () => {
      const c = await jetstream(nc).consumers.get("T", { deliver_policy: DeliverPolicy.All });
      const out: { subject: string; body: string; id?: string; extra?: string }[] = [];
      const pending = (await c.info()).num_pending;
      if (pending === 0) return out;
      for await (const m of await c.consume()) {
        out.push({
          subject: m.subject,
          body: m.string(),
          id: m.headers?.get("Nats-Msg-Id"),
          extra: m.headers?.get("X-Extra"),
        });
        if (m.info.pending === 0) break;
      }
      return out;
    };
    return { server, nc, stored, publisher: new StreamPublisher(nc, timeoutMs) };
  }

  it("stores every message in the order sent, with its id and headers, once", async () => {
    const { publisher, stored } = await setup();
    const messages = Array.from({ length: 3000 }, (_, i) => ({
      subject: `t.${i % 7}`,
      data: encoder.encode(`m${i}`),
      msgId: `id-${i}`,
      ...(i === 5 ? { headers: { "X-Extra": "five" } } : {}),
    }));
    await publisher.publishAll(messages);
    // Sent again (a retry after a lost group): dropped by id, and acknowledged.
    await publisher.publishAll(messages.slice(0, 100));
    expect(publisher.inFlight).toBe(0);
    const got = await stored();
    expect(got.map((m) => m.body)).toEqual(messages.map((_, i) => `m${i}`));
    expect(got.map((m) => m.subject)).toEqual(messages.map((m) => m.subject));
    expect(got.map((m) => m.id)).toEqual(messages.map((m) => m.msgId));
    expect(got[5]?.extra).toBe("five");
  });

  it("rejects a group at an error reply, naming the subject and the server's reason", async () => {
    const { publisher } = await setup();
    const big = new Uint8Array(4096);
    const err = await publisher
      .publishAll([
        { subject: "t.ok", data: encoder.encode("fine") },
        { subject: "t.big", data: big },
      ])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PublishError);
    expect((err as Error).message).toMatch(/t\.big.*maximum/i);
    expect(publisher.inFlight).toBe(0);
  });

  it("rejects when no stream takes the subject", async () => {
    const { publisher } = await setup();
    await expect(publisher.publishAll([{ subject: "nowhere.x", data: encoder.encode("x") }])).rejects.toThrow(
      /nowhere\.x.*no responders/,
    );
  });

  it("rejects at once when the connection is re-established, without waiting for the timeout", async () => {
    const { publisher, server, stored } = await setup(60_000);
    await server.kill();
    const sent = publisher.publishAll([{ subject: "t.a", data: encoder.encode("x"), msgId: "x" }]);
    await server.start();
    await expect(sent).rejects.toThrow(/reconnected/);
    expect(publisher.inFlight).toBe(0);
    // Sent again, it is stored once whether or not the first one was.
    await publisher.publishAll([{ subject: "t.a", data: encoder.encode("x"), msgId: "x" }]);
    expect((await stored()).map((m) => m.id)).toEqual(["x"]);
  });

  it("rejects after its timeout when the server is gone, and forgets the group", async () => {
    const { publisher, server } = await setup();
    await server.kill();
    const t0 = Date.now();
    await expect(publisher.publishAll([{ subject: "t.a", data: encoder.encode("x") }])).rejects.toThrow(
      /no acknowledgement within 2000 ms/,
    );
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1900);
    expect(publisher.inFlight).toBe(0);
  });
});
