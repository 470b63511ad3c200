/**
 * A partition runner on a 3-node cluster whose consumer lives on a node that dies. Its consumer
 * is ephemeral (one replica): on nats-server 2.9 the client then hears nothing for a long time;
 * the runner's watchdog must notice that commands are waiting and consume again.
 */
import {
  buckets,
  type Command,
  consumers,
  encodeCommandBatch,
  internalSubjects,
  loadConfig,
  objectStores,
  streams,
} from "@herald/protocol";
import { ensureResources, StreamPublisher } from "@herald/runtime";
import { NatsCluster, waitFor } from "@herald/testkit";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import { connect } from "@nats-io/transport-node";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { PartitionRunner } from "./runner.js";
import { tuning } from "./tuning.js";

const log = pino({ level: process.env.TEST_LOG ?? "silent" });

describe("PartitionRunner on a cluster", () => {
  const cleanup: (() => Promise<void>)[] = [];
  // Every cleanup runs, newest first; any that failed fails the test.
  afterEach(async () => {
    const failed: unknown[] = [];
    for (const f of cleanup.splice(0).reverse()) await f().catch((err: unknown) => failed.push(err));
    if (failed.length > 0) throw new AggregateError(failed, `${failed.length} cleanup step(s) failed`);
  });

  it("consumes again when the node holding its consumer dies", async () => {
    const cluster = await NatsCluster.start(3);
    cleanup.push(() => cluster[Symbol.asyncDispose]());
    const config = loadConfig({
      NATS_URL: cluster.urls.join(","),
      HERALD_PARTITIONS: "1",
      HERALD_REPLICAS: "3",
      PRESENCE_GRACE_MS: "0",
    });
    const nc = await connect({ servers: cluster.urls, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    cleanup.push(() => nc.close());
    const jsm = await jetstreamManager(nc);
    for (const c of ["gateway", "presence-actor", "status-projector"] as const)
      await ensureResources(nc, jsm, config, c, log);
    const js = jetstream(nc);
    const kvm = new Kvm(nc);
    const runner = new PartitionRunner(
      0,
      config,
      {
        js,
        jsm,
        publisher: new StreamPublisher(nc),
        checkpoints: await kvm.open(buckets.checkpoints),
        snapshots: await new Objm(nc).open(objectStores.snapshots),
        log,
      },
      {
        owner: "test",
        snapshotIntervalMs: 60_000,
        leaseValid: () => true,
        regainLease: async () => false,
        onHalt: () => undefined,
      },
    );
    cleanup.push(() => runner.stop());
    await runner.start();

    const at = Date.now();
    const heartbeat = (user: string): Command => ({
      type: "heartbeat",
      user,
      conn: "c",
      ttl_ms: 600_000,
      at_ms: at,
    });
    /** Publishes until acknowledged: while a node is down the stream may be electing a leader. */
    const send = async (cmds: Command[]) => {
      await waitFor(
        () =>
          js.publish(internalSubjects.commands(0), encodeCommandBatch(cmds), { timeout: 2000 }).then(
            () => true,
            () => false,
          ),
        { what: "a command stored", timeoutMs: 30_000 },
      );
    };
    await send([heartbeat("before")]);
    await waitFor(() => runner.partition.users.size === 1, { what: "the first command applied" });

    // The node that holds the runner's consumer dies.
    const list = await jsm.consumers.list(streams.commands).next();
    const mine = list.find((c) => c.name.startsWith(consumers.actor(0)));
    const node = cluster.servers.findIndex((_, i) => mine?.cluster?.leader === `n${i}`);
    expect(node, `consumer ${mine?.name} on ${mine?.cluster?.leader}`).toBeGreaterThanOrEqual(0);
    await cluster.servers[node]?.kill();
    const killedAt = Date.now();

    await send(Array.from({ length: 20 }, (_, i) => heartbeat(`after ${i}`)));
    const storedAt = Date.now();
    // Within a few watchdog checks of the command being stored (not the ~30 s and more the
    // client's own recovery takes on nats-server 2.9).
    await waitFor(() => runner.partition.users.size === 21, {
      what: "the commands sent after the node died applied",
      timeoutMs: 30_000,
    });
    expect(runner.halted).toBe(false);
    const appliedAt = Date.now();
    console.log(
      `runner: commands stored ${storedAt - killedAt} ms after the node died, applied ${appliedAt - storedAt} ms later`,
    );
    // Two quiet checks, then a new consumer (whose creation may itself time out once or twice on
    // 2.9, more slowly on a machine busy with the rest of the suite: 6–8 s alone, 21 s seen in a
    // full run). The client's own recovery takes 30 s and more, which the 30 s wait above refuses.
    expect(appliedAt - storedAt).toBeLessThan(12.5 * tuning.stallCheckMs);
  });
});
