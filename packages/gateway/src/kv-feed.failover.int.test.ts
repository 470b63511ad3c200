/**
 * The gateway's KV view on a 3-node cluster when the node holding a watch's consumer dies: on
 * nats-server 2.9 the watch can stay silent, so the feed must notice the bucket moved on
 * without it and watch again from the next revision.
 */
import { buckets, encodeToken, json, loadConfig, type StatusDoc } from "@herald/protocol";
import { ensureResources } from "@herald/runtime";
import { NatsCluster, waitFor } from "@herald/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { KvFeed } from "./kv-feed.js";
import { tuning } from "./tuning.js";
import { PresenceView } from "./view.js";

const log = pino({ level: process.env.TEST_LOG ?? "silent" });

describe("KvFeed on a cluster", () => {
  const cleanup: (() => Promise<void>)[] = [];
  // Every cleanup runs, newest first; any that failed fails the test.
  afterEach(async () => {
    const failed: unknown[] = [];
    for (const f of cleanup.splice(0).reverse()) await f().catch((err: unknown) => failed.push(err));
    if (failed.length > 0) throw new AggregateError(failed, `${failed.length} cleanup step(s) failed`);
  });

  it("watches again when the node holding its watch dies", async () => {
    const cluster = await NatsCluster.start(3);
    cleanup.push(() => cluster[Symbol.asyncDispose]());
    const config = loadConfig({ NATS_URL: cluster.urls.join(","), HERALD_REPLICAS: "3" });
    const nc = await connect({ servers: cluster.urls, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    cleanup.push(() => nc.close());
    const jsm = await jetstreamManager(nc);
    for (const c of ["gateway", "presence-actor", "status-projector"] as const)
      await ensureResources(nc, jsm, config, c, log);
    const kv = await new Kvm(nc).open(buckets.status);
    const doc = (user: string): StatusDoc => ({
      user,
      status: "online",
      online: 1,
      active: 1,
      conns: 1,
      updated_at_ms: 1,
    });
    /** Puts until acknowledged: while a node is down the bucket may be electing a leader. */
    const put = (user: string) =>
      waitFor(
        () =>
          kv.put(encodeToken(user), json.encode(doc(user)), { timeout: 2000 }).then(
            () => true,
            () => false,
          ),
        { what: `${user} stored`, timeoutMs: 30_000 },
      );
    await put("before");

    const view = new PresenceView();
    const feed = await KvFeed.start(nc, view, log);
    cleanup.push(() => feed.stop());
    await feed.whenReady();
    expect(view.counts.users).toBe(1);

    // The node holding the status watch's consumer dies.
    const watches = await jsm.consumers.list(`KV_${buckets.status}`).next();
    expect(watches).toHaveLength(1);
    const leader = watches[0]?.cluster?.leader;
    const node = cluster.servers.findIndex((_, i) => leader === `n${i}`);
    expect(node, `watch on ${leader}`).toBeGreaterThanOrEqual(0);
    await cluster.servers[node]?.kill();

    for (let i = 0; i < 10; i++) await put(`after ${i}`);
    const storedAt = Date.now();
    await waitFor(() => view.counts.users === 11, {
      what: "the values put after the node died",
      timeoutMs: 30_000,
    });
    const seenAt = Date.now();
    console.log(`kv-feed: values in the view ${seenAt - storedAt} ms after they were stored`);
    // Two quiet checks, then a new watch (whose creation may itself time out once on 2.9).
    expect(seenAt - storedAt).toBeLessThan(10 * tuning.watchCheckMs);
  });
});
