/**
 * One partition's runner against a real nats-server: snapshots and replay, deadlines that
 * passed while nobody owned the partition, fencing of a stale owner, and the stream as the
 * only input (replaying it gives the very events that were stored, ids included).
 */
import {
  buckets,
  type Command,
  type Config,
  decodeCommandBatch,
  encodeCommandBatch,
  encodeTick,
  headers as H,
  internalSubjects,
  loadConfig,
  msgpack,
  objectStores,
  partitionKeys,
  streams,
  type Verdict,
} from "@herald/protocol";
import { ensureResources, StreamPublisher } from "@herald/runtime";
import { NatsServer, waitFor } from "@herald/testkit";
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { FencedError } from "./errors.js";
import { type Output, Partition } from "./partition.js";
import {
  PartitionRunner,
  partitionOptions,
  type RunnerDeps,
  type RunnerOptions,
  type Snapshot,
} from "./runner.js";

const log = pino({ level: process.env.TEST_LOG ?? "silent" });
const P = 0;

interface StoredEvent {
  subject: string;
  msgId: string;
  body: Record<string, unknown>;
}

describe("PartitionRunner", () => {
  const cleanup: (() => Promise<void>)[] = [];
  // Every cleanup runs, newest first; any that failed fails the test.
  afterEach(async () => {
    const failed: unknown[] = [];
    for (const f of cleanup.splice(0).reverse()) await f().catch((err: unknown) => failed.push(err));
    if (failed.length > 0) throw new AggregateError(failed, `${failed.length} cleanup step(s) failed`);
  });

  async function setup(env: Record<string, string> = {}) {
    const server = await NatsServer.start();
    cleanup.push(() => server[Symbol.asyncDispose]());
    // One partition, so every user is in partition 0.
    const config = loadConfig({
      NATS_URL: server.url,
      HERALD_PARTITIONS: "1",
      PRESENCE_GRACE_MS: "0",
      ...env,
    });
    const nc = await connect({ servers: server.url });
    cleanup.push(() => nc.close());
    const jsm = await jetstreamManager(nc);
    for (const c of ["gateway", "presence-actor", "status-projector"] as const)
      await ensureResources(nc, jsm, config, c, log);
    const js = jetstream(nc);
    const send = (cmds: Command[]) => js.publish(internalSubjects.commands(P), encodeCommandBatch(cmds));
    return { server, config, nc, jsm, js, send };
  }

  async function runner(
    config: Config,
    url: string,
    opts: Partial<RunnerOptions> = {},
    sendVerdict?: RunnerDeps["sendVerdict"],
  ): Promise<{ runner: PartitionRunner; halts: Error[]; nc: NatsConnection }> {
    const nc = await connect({ servers: url });
    const kvm = new Kvm(nc);
    const halts: Error[] = [];
    const r = new PartitionRunner(
      P,
      config,
      {
        js: jetstream(nc),
        jsm: await jetstreamManager(nc),
        publisher: new StreamPublisher(nc),
        checkpoints: await kvm.open(buckets.checkpoints),
        snapshots: await new Objm(nc).open(objectStores.snapshots),
        ...(sendVerdict !== undefined ? { sendVerdict } : {}),
        log,
      },
      {
        owner: `test-${Math.random()}`,
        snapshotIntervalMs: config.snapshotIntervalMs,
        leaseValid: () => true,
        regainLease: async () => false,
        onHalt: (err) => halts.push(err),
        ...opts,
      },
    );
    await r.start();
    const tick = setInterval(() => void r.tick(Date.now()), 20);
    cleanup.push(async () => {
      clearInterval(tick);
      await r.stop();
      await nc.close();
    });
    return { runner: r, halts, nc };
  }

  async function storedEvents(nc: NatsConnection): Promise<StoredEvent[]> {
    const js = jetstream(nc);
    const c = await js.consumers.get(streams.events, {
      filter_subjects: internalSubjects.allEvents,
      deliver_policy: DeliverPolicy.All,
    });
    const out: StoredEvent[] = [];
    const pending = (await c.info()).num_pending;
    if (pending === 0) return out;
    for await (const m of await c.consume()) {
      out.push({ subject: m.subject, msgId: m.headers?.get(H.msgId) ?? "", body: m.json() });
      if (m.info.pending === 0) break;
    }
    return out;
  }

  const statuses = (events: StoredEvent[], user: string) =>
    events.filter((e) => e.body.type === "status" && e.body.user === user).map((e) => e.body.status);

  it("restores from a snapshot and replays only what came after it", async () => {
    const { server, config, nc, send } = await setup();
    const a = await runner(config, server.url);
    const now = Date.now();
    const users = Array.from({ length: 50 }, (_, i) => `u${i}`);
    await send(users.map((user) => ({ type: "heartbeat", user, conn: "k", ttl_ms: 600_000, at_ms: now })));
    await waitFor(() => a.runner.partition.users.size === 50 && a.runner.caughtUp, { what: "50 users" });
    await waitFor(async () => (await storedEvents(nc)).length === 50, { what: "50 events stored" });
    await a.runner.stop(); // a clean stop writes a snapshot

    const blob = await (await new Objm(nc).open(objectStores.snapshots)).getBlob(partitionKeys.snapshot(P));
    const snap = msgpack.decode(blob as Uint8Array) as Snapshot;
    expect(snap.seq).toBe(a.runner.applied);
    expect(Partition.restore(snap.state, { awayAfterMs: 1000, graceMs: 0 }).users.size).toBe(50);

    await send([{ type: "disconnect", user: "u7", conn: "k", at_ms: now + 5 }]);
    const b = await runner(config, server.url);
    expect(b.runner.stats.restoredUsers).toBe(50);
    await waitFor(async () => statuses(await storedEvents(nc), "u7").includes("offline"), {
      what: "u7 offline",
    });
    // Only the one message after the snapshot was applied; nothing was replayed.
    expect(b.runner.stats.replayed).toBe(0);
    expect(b.runner.applied).toBe(snap.seq + 1);
    expect(statuses(await storedEvents(nc), "u7")).toEqual(["online", "offline"]);
  });

  it("fires the deadlines that passed while nobody owned the partition, at their own time", async () => {
    const { server, config, nc, send } = await setup();
    const stamp = Date.now() - 60_000;
    // Stored while no runner is up: the conn's deadline (stamp + 10 s) passed long ago.
    await send([{ type: "heartbeat", user: "gone", conn: "k", ttl_ms: 10_000, at_ms: stamp }]);
    await runner(config, server.url);
    const events = await waitFor(
      async () => {
        const e = await storedEvents(nc);
        return statuses(e, "gone").length === 2 && e;
      },
      { what: "online then offline" },
    );
    const offline = events.find((e) => e.body.status === "offline");
    expect(offline?.body.at_ms).toBe(stamp + 10_000);
  });

  it("fences a stale owner: its checkpoint write fails, it stops, and nothing is stored twice", async () => {
    const { server, config, nc, send } = await setup();
    const a = await runner(config, server.url);
    const now = Date.now();
    await send([{ type: "heartbeat", user: "x", conn: "k", ttl_ms: 600_000, at_ms: now }]);
    await waitFor(async () => (await storedEvents(nc)).length === 1, { what: "x online" });

    // A second owner claims the partition (as after a lease takeover the first did not see).
    const b = await runner(config, server.url);
    await waitFor(() => b.runner.caughtUp, { what: "b caught up" });
    await send([{ type: "disconnect", user: "x", conn: "k", at_ms: now + 1 }]);
    await waitFor(() => a.halts.length === 1, { what: "a fenced" });
    expect(a.halts[0]).toBeInstanceOf(FencedError);
    expect(a.runner.halted).toBe(true);
    expect(b.halts).toEqual([]);

    const appendedByA = a.runner.appended;
    await send([{ type: "heartbeat", user: "x", conn: "k2", ttl_ms: 600_000, at_ms: now + 2 }]);
    await waitFor(async () => statuses(await storedEvents(nc), "x").length === 3, { what: "x online again" });
    expect(a.runner.appended).toBe(appendedByA);
    const events = await storedEvents(nc);
    expect(statuses(events, "x")).toEqual(["online", "offline", "online"]);
    expect(new Set(events.map((e) => e.msgId)).size).toBe(events.length);
  });

  it("sends the verdict on a command that asks for one: applied, or refused with 409", async () => {
    const { server, config, send } = await setup();
    const verdicts: [string, Verdict][] = [];
    const a = await runner(config, server.url, {}, (gateway, v) => verdicts.push([gateway, v]));
    const now = Date.now();
    const update = (id: number, channel: string): Command => ({
      type: "update",
      user: "v",
      conn: "k",
      channel,
      data: { id },
      ttl_ms: 30_000,
      reply: `gw1.${id}`,
      at_ms: now,
    });
    await send([
      update(1, "room"),
      { type: "join", user: "v", conn: "k", channel: "room", data: {}, ttl_ms: 30_000, at_ms: now },
      update(2, "room"),
      update(3, "hall"),
    ]);
    await waitFor(() => verdicts.length === 3, { what: "three verdicts" });
    expect(verdicts).toEqual([
      ["gw1", { id: 1, code: 409, message: 'update: conn "k" of user "v" has not joined channel "room"' }],
      ["gw1", { id: 2 }],
      ["gw1", { id: 3, code: 409, message: 'update: conn "k" of user "v" has not joined channel "hall"' }],
    ]);
    expect(a.runner.stats.verdicts).toBe(3);
    // Refused updates changed nothing: the member has the join's data.
    expect(a.runner.partition.users.get("v")?.context.conns[0]?.channels).toMatchObject([
      { channel: "room", data: { id: 2 } },
    ]);
  });

  it("stops without appending when its lease has run out by its own clock and is lost", async () => {
    const { server, config, nc, send } = await setup();
    let valid = true;
    let asked = 0;
    const a = await runner(config, server.url, {
      leaseValid: () => valid,
      regainLease: async () => {
        asked++;
        return false;
      },
    });
    const now = Date.now();
    await send([{ type: "heartbeat", user: "y", conn: "k", ttl_ms: 600_000, at_ms: now }]);
    await waitFor(async () => (await storedEvents(nc)).length === 1, { what: "y online" });
    valid = false;
    await send([{ type: "disconnect", user: "y", conn: "k", at_ms: now + 1 }]);
    await waitFor(() => a.halts.length === 1, { what: "a stopped" });
    expect(asked).toBe(1);
    expect(a.halts[0]?.message).toMatch(/lease ran out/);
    expect(await storedEvents(nc)).toHaveLength(1);
  });

  it("waits for a lease renewed late and goes on with what it applied: not fenced, nothing replayed", async () => {
    const { server, config, nc, send } = await setup();
    let valid = true;
    let renewed: (() => void) | undefined;
    const a = await runner(config, server.url, {
      leaseValid: () => valid,
      // Resolves once the test lets the late renewal land.
      regainLease: () =>
        new Promise<boolean>((resolve) => {
          renewed = () => {
            valid = true;
            resolve(true);
          };
        }),
    });
    const now = Date.now();
    await send([{ type: "heartbeat", user: "z", conn: "k", ttl_ms: 600_000, at_ms: now }]);
    await waitFor(async () => (await storedEvents(nc)).length === 1, { what: "z online" });
    valid = false;
    await send([{ type: "disconnect", user: "z", conn: "k", at_ms: now + 1 }]);
    await waitFor(() => renewed !== undefined, { what: "waiting for the lease" });
    // Nothing is stored while the lease is not valid.
    expect(await storedEvents(nc)).toHaveLength(1);
    renewed?.();
    await waitFor(async () => (await storedEvents(nc)).length === 2, { what: "z offline stored" });
    expect(a.halts).toEqual([]);
    expect(a.runner.partition.users.get("z")?.value).toMatchObject({ status: { offline: "retained" } });
  });

  it("a tick or a stamp 30 s ahead of the time stored is taken as at most a second ahead: no conn ends early", async () => {
    const { server, config, nc, js, send } = await setup();
    await runner(config, server.url);
    const now = Date.now();
    await send([{ type: "heartbeat", user: "w", conn: "k", ttl_ms: 10_000, at_ms: now }]);
    await waitFor(async () => statuses(await storedEvents(nc), "w").length === 1, { what: "w online" });
    // A tick and a command from a clock 30 s fast (or forged by a holder of those credentials).
    await js.publish(internalSubjects.ticks(P), encodeTick(now + 30_000));
    await send([{ type: "heartbeat", user: "x", conn: "k", ttl_ms: 10_000, at_ms: now + 30_000 }]);
    const events = await waitFor(
      async () => {
        const e = await storedEvents(nc);
        return statuses(e, "x").length === 1 && e;
      },
      { what: "x online" },
    );
    // Applied after the tick, and w's conn (10 s) is still live: the clock moved a second at most.
    expect(statuses(events, "w")).toEqual(["online"]);
    const x = events.find((e) => e.body.user === "x")?.body as { at_ms: number };
    expect(x.at_ms).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it("the stream is the only input: replaying it gives exactly the stored events, ids included", async () => {
    const { server, config, nc, js, send } = await setup();
    const a = await runner(config, server.url);
    // Conns that time out by the clock (ticks), some that disconnect, joins, activity.
    for (let i = 0; i < 20; i++) {
      const user = `r${i % 7}`;
      const cmds: Command[] = [
        { type: "heartbeat", user, conn: `c${i}`, ttl_ms: 1000 + 37 * i, at_ms: Date.now() },
        {
          type: "join",
          user,
          conn: `c${i}`,
          channel: `ch${i % 3}`,
          data: { i },
          ttl_ms: 1000,
          at_ms: Date.now(),
        },
      ];
      if (i % 4 === 0) cmds.push({ type: "disconnect", user, conn: `c${i}`, at_ms: Date.now() });
      await send(cmds);
    }
    // No conn deadline left (offline users keep their retention timer).
    const connDeadlines = () =>
      [...a.runner.partition.timers.entries()].filter((t) => typeof t.payload === "string");
    await waitFor(() => connDeadlines().length === 0 && a.runner.partition.users.size === 7, {
      what: "every conn ended",
      timeoutMs: 15_000,
    });
    expect(a.runner.stats.ticks).toBeGreaterThan(0);

    // Feed the stored command stream to a fresh partition, as a new owner would.
    const replayed: Output[] = [];
    const fresh = new Partition(P, partitionOptions(config));
    const c = await js.consumers.get(streams.commands, { deliver_policy: DeliverPolicy.All });
    for await (const m of await c.consume()) {
      const batch = decodeCommandBatch(m.data);
      for (const [i, cmd] of batch.cmds.entries()) fresh.apply(cmd, `${P}.${m.seq}.${i}`, replayed);
      if (batch.tick !== undefined) fresh.advance(batch.tick, replayed);
      if (m.info.pending === 0) break;
    }
    const stored = await storedEvents(nc);
    const eventPrefix = internalSubjects.allEvents.slice(0, -1);
    const publicOnes = replayed.filter((o) => o.subject.startsWith(eventPrefix));
    expect(stored.length).toBeGreaterThan(40);
    expect(publicOnes.map((o) => [o.subject, o.msgId, JSON.parse(new TextDecoder().decode(o.data))])).toEqual(
      stored.map((e) => [e.subject, e.msgId, e.body]),
    );
  });
});
