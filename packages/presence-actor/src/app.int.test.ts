import {
  buckets,
  type Command,
  encodeCommandBatch,
  internalSubjects,
  loadConfig,
  partitionOf,
  streams,
  subjects,
} from "@herald/protocol";
import { type App, createRegistry, ensureResources } from "@herald/runtime";
import { failTest, NatsServer, waitFor } from "@herald/testkit";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { start } from "./app.js";

const log = pino({ level: process.env.TEST_LOG ?? "silent" });

interface Running {
  app: App;
  nc: NatsConnection;
}

describe("presence-actor", () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  async function setup() {
    const server = await NatsServer.start();
    cleanup.push(() => server[Symbol.asyncDispose]());
    const config = loadConfig({ NATS_URL: server.url, PRESENCE_GRACE_MS: "500", HERALD_PARTITIONS: "4" });
    const nc = await connect({ servers: server.url });
    cleanup.push(() => nc.close());
    const jsm = await jetstreamManager(nc);
    await ensureResources(nc, jsm, config, "gateway", log);
    await ensureResources(nc, jsm, config, "presence-actor", log);
    const seen: { subject: string; body: Record<string, unknown> }[] = [];
    nc.subscribe(subjects.allEvents, {
      callback: (_e, m) => {
        seen.push({ subject: m.subject, body: m.json() });
      },
    });
    const js = jetstream(nc);
    const send = async (cmds: Command[]) => {
      const byPartition = new Map<number, Command[]>();
      for (const c of cmds) {
        const p = partitionOf(c.user, config.partitions);
        byPartition.set(p, [...(byPartition.get(p) ?? []), c]);
      }
      for (const [p, list] of byPartition)
        await js.publish(internalSubjects.commands(p), encodeCommandBatch(list));
    };
    const run = async (): Promise<Running> => {
      const anc = await connect({ servers: server.url });
      const app = await start({
        config,
        log,
        nc: anc,
        jsm: await jetstreamManager(anc),
        metrics: createRegistry("presence-actor"),
        fatal: failTest,
      });
      const running = { app, nc: anc };
      cleanup.push(async () => {
        await app.close();
        await anc.close();
      });
      return running;
    };
    return { server, config, nc, jsm, seen, send, run };
  }

  it("turns commands into events once, and keeps state across a restart", async () => {
    const { seen, send, run, jsm } = await setup();
    const first = await run();
    const now = Date.now();
    const users = ["a", "b.c", "d e", "ü", "*", ">"];
    await send(users.map((user) => ({ type: "heartbeat", user, conn: "k", ttl_ms: 60_000, at_ms: now })));
    await waitFor(() => seen.filter((s) => s.body.status === "online").length === users.length, {
      what: "every user online",
    });
    for (const user of users) {
      expect(seen.filter((s) => s.subject === subjects.userEvents(user))).toHaveLength(1);
    }

    // A clean stop hands the partitions to the next process, which replays to where it was.
    await first.app.close();
    await first.nc.close();
    await run();
    await send([
      { type: "heartbeat", user: "a", conn: "k", ttl_ms: 60_000, at_ms: now + 10 },
      { type: "disconnect", user: "a", conn: "k", at_ms: now + 20 },
    ]);
    await waitFor(() => seen.some((s) => s.body.user === "a" && s.body.status === "offline"), {
      what: "a offline after the restart",
    });
    expect(seen.filter((s) => s.subject === subjects.userEvents("a")).map((s) => s.body.status)).toEqual([
      "online",
      "offline",
    ]);
    // Nothing stored twice either.
    const info = await jsm.streams.info(streams.events, { subjects_filter: ">" });
    expect(info.state.subjects?.[internalSubjects.userEvent("a")]).toBe(2);
  });

  it("dead-letters a bad message and a bad command without losing the good ones", async () => {
    const { seen, run, nc, jsm } = await setup();
    await run();
    const js = jetstream(nc);
    await js.publish(internalSubjects.commands(0), new Uint8Array([0xc1, 0x00]));
    const user = ["x", "y", "z", "w"].find((u) => partitionOf(u, 4) === 1) as string;
    const bad = { type: "heartbeat", user: "", conn: "k", ttl_ms: 60_000, at_ms: Date.now() } as Command;
    const good: Command = { type: "heartbeat", user, conn: "k", ttl_ms: 60_000, at_ms: Date.now() };
    await js.publish(internalSubjects.commands(1), encodeCommandBatch([bad, good]));
    await waitFor(() => seen.some((s) => s.body.user === user), { what: "the good command applied" });
    await waitFor(async () => (await jsm.streams.info(streams.deadLetters)).state.messages === 2, {
      what: "two dead letters",
    });
  });

  it("shares partitions between processes and takes over those of one that stops", async () => {
    const { run, config } = await setup();
    const a = await run();
    const b = await run();
    const owners = async () => {
      const kv = await new Kvm(a.nc).open(buckets.leases);
      const out = new Map<string, number>();
      for (let p = 0; p < config.partitions; p++) {
        const e = await kv.get(`p${p}`);
        if (e?.operation !== "PUT") continue;
        const owner = JSON.parse(e.string()).owner as string;
        out.set(owner, (out.get(owner) ?? 0) + 1);
      }
      return [...out.values()].sort();
    };
    await waitFor(async () => JSON.stringify(await owners()) === "[2,2]", {
      what: "two owners with two partitions each",
      timeoutMs: 20_000,
    });
    await b.app.close();
    await waitFor(async () => JSON.stringify(await owners()) === "[4]", {
      what: "the remaining owner holds every partition",
      timeoutMs: 20_000,
    });
  });
});
