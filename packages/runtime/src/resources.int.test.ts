import { buckets, COMPONENTS, type Component, loadConfig, objectStores, streams } from "@herald/protocol";
import { NatsCluster, NatsServer } from "@herald/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { ensureResources, partitionsOf, resourceSpecs, resourcesFor } from "./resources.js";

const log = pino({ level: "silent" });
const NANOS_PER_MS = 1_000_000;

async function bucketNames(nc: Parameters<typeof ensureResources>[0]): Promise<string[]> {
  const names: string[] = [];
  for await (const s of new Kvm(nc).list()) names.push(s.bucket);
  return names.sort();
}

describe("ensureResources", () => {
  it("is safe when many processes ensure at the same time", async () => {
    await using server = await NatsServer.start();
    const config = loadConfig({ NATS_URL: server.url });
    const conns = await Promise.all(Array.from({ length: 6 }, () => connect({ servers: server.url })));
    try {
      await Promise.all(
        conns.map(async (nc, i) =>
          ensureResources(nc, await jetstreamManager(nc), config, COMPONENTS[i % 3] as Component, log),
        ),
      );
      const nc = conns[0] as (typeof conns)[0];
      const jsm = await jetstreamManager(nc);
      const names: string[] = [];
      for await (const n of jsm.streams.names()) if (!/^(KV|OBJ)_/.test(n)) names.push(n);
      expect(names.sort()).toEqual(Object.values(streams).sort());
      const specBuckets = resourceSpecs(config).flatMap((r) => (r.kind === "bucket" ? [r.name] : []));
      expect(await bucketNames(nc)).toEqual(specBuckets.sort());
      const stores = resourceSpecs(config).flatMap((r) => (r.kind === "objectstore" ? [r.name] : []));
      for (const name of stores) await jsm.streams.info(`OBJ_${name}`);
      expect(stores).toEqual([objectStores.snapshots]);
    } finally {
      await Promise.all(conns.map((c) => c.close()));
    }
  });

  it("updates a stream whose settings changed", async () => {
    await using server = await NatsServer.start();
    const nc = await connect({ servers: server.url });
    try {
      const jsm = await jetstreamManager(nc);
      const week = loadConfig({ NATS_URL: server.url });
      await ensureResources(nc, jsm, week, "presence-actor", log);
      const day = loadConfig({ NATS_URL: server.url, HERALD_EVENTS_MAX_AGE_MS: "86400000" });
      await ensureResources(nc, jsm, day, "presence-actor", log);
      expect((await jsm.streams.info(streams.events)).config.max_age).toBe(86_400_000 * NANOS_PER_MS);

      // A reader with other settings leaves the owner's settings alone.
      const hour = loadConfig({ NATS_URL: server.url, HERALD_EVENTS_MAX_AGE_MS: "3600000" });
      await ensureResources(nc, jsm, hour, "gateway", log);
      expect((await jsm.streams.info(streams.events)).config.max_age).toBe(86_400_000 * NANOS_PER_MS);
    } finally {
      await nc.close();
    }
  });

  it("brings an owned bucket's settings back to the table's", async () => {
    await using server = await NatsServer.start();
    const nc = await connect({ servers: server.url });
    try {
      const jsm = await jetstreamManager(nc);
      await new Kvm(nc).create(buckets.status, { history: 5 });
      const config = loadConfig({ NATS_URL: server.url });
      await ensureResources(nc, jsm, config, "gateway", log);
      expect((await jsm.streams.info(`KV_${buckets.status}`)).config.max_msgs_per_subject).toBe(5);
      await ensureResources(nc, jsm, config, "status-projector", log);
      expect((await jsm.streams.info(`KV_${buckets.status}`)).config.max_msgs_per_subject).toBe(1);
    } finally {
      await nc.close();
    }
  });

  it("creates replicated streams and buckets on a 3-node cluster", async () => {
    await using cluster = await NatsCluster.start(3);
    const config = loadConfig({ NATS_URL: cluster.urls.join(","), HERALD_REPLICAS: "3" });
    const nc = await connect({ servers: cluster.urls });
    try {
      const jsm = await jetstreamManager(nc);
      for (const c of COMPONENTS) await ensureResources(nc, jsm, config, c, log);
      for (const name of Object.values(streams)) {
        expect((await jsm.streams.info(name)).config.num_replicas).toBe(3);
      }
      expect((await jsm.streams.info(`KV_${buckets.status}`)).config.num_replicas).toBe(3);
    } finally {
      await nc.close();
    }
  });

  it("refuses a process whose partition count differs from the deployment's", async () => {
    await using server = await NatsServer.start();
    const nc = await connect({ servers: server.url });
    try {
      const jsm = await jetstreamManager(nc);
      await ensureResources(nc, jsm, loadConfig({ NATS_URL: server.url }), "gateway", log);
      const info = await jsm.streams.info(streams.commands);
      expect(partitionsOf(info.config.description)).toBe(16);
      for (const component of ["gateway", "presence-actor"] as const) {
        const other = loadConfig({ NATS_URL: server.url, HERALD_PARTITIONS: "8" });
        await expect(ensureResources(nc, jsm, other, component, log)).rejects.toThrow(
          /created with HERALD_PARTITIONS=16, this process has 8/,
        );
      }
      expect(partitionsOf((await jsm.streams.info(streams.commands)).config.description)).toBe(16);
    } finally {
      await nc.close();
    }
  });
});

describe("resourcesFor", () => {
  it("gives each component what it owns and what it reads", () => {
    const config = loadConfig({});
    const names = (c: Component) =>
      resourcesFor(config, c)
        .map((r) => (r.kind === "stream" ? r.config.name : r.name))
        .sort();
    expect(names("gateway")).toEqual(
      [streams.commands, streams.events, buckets.members, buckets.status].sort(),
    );
    expect(names("presence-actor")).toContain(streams.commands);
    expect(names("status-projector")).not.toContain(streams.commands);
  });
});
