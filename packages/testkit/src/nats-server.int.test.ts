import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "@herald/protocol";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { NATS_USERS } from "./auth.js";
import { NatsServerMissingError } from "./errors.js";
import { NatsCluster, NatsServer, natsServerBinary } from "./nats-server.js";
import { waitFor } from "./wait.js";

describe("NatsServer", () => {
  it("runs JetStream on a random loopback port and keeps the store across restarts", async () => {
    await using server = await NatsServer.start();
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`nats://127.0.0.1:${server.port}`);

    const nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    try {
      // A short API timeout: a request sent while the client reconnects is retried sooner.
      const jsm = await jetstreamManager(nc, { timeout: 500 });
      await jsm.streams.add({ name: "KEEP", subjects: ["keep.>"] });
      await jetstream(nc).publish("keep.a", "1");

      const port = server.port;
      await server.restart();
      expect(server.port).toBe(port);
      // The client reconnects by itself; wait for it rather than guessing how long that takes.
      const info = await waitFor(() => jsm.streams.info("KEEP"), { what: "stream info after restart" });
      expect(info.state.messages).toBe(1);

      await server.kill();
      expect(server.running).toBe(false);
      await server.start();
      const again = await waitFor(() => jsm.streams.info("KEEP"), { what: "stream info after kill" });
      expect(again.state.messages).toBe(1);
    } finally {
      await nc.close();
    }
  });

  it("uses a given store dir and leaves it in place on dispose", async () => {
    const storeDir = mkdtempSync(join(tmpdir(), "herald-store-"));
    try {
      {
        await using first = await NatsServer.start({ storeDir });
        const nc = await connect({ servers: first.url });
        await (await jetstreamManager(nc)).streams.add({ name: "OWN", subjects: ["own"] });
        await nc.close();
      }
      await using second = await NatsServer.start({ storeDir });
      const nc = await connect({ servers: second.url });
      const names = await (await jetstreamManager(nc)).streams.names().next();
      await nc.close();
      expect(names).toContain("OWN");
    } finally {
      rmSync(storeDir, { recursive: true, force: true });
    }
  });

  it("with auth, runs nats-auth.conf's users with random passwords, kept across a restart", async () => {
    await using server = await NatsServer.start({ auth: true });
    expect(Object.keys(server.credentials)).toEqual([...NATS_USERS]);
    const passwords = Object.values(server.credentials);
    expect(new Set(passwords).size).toBe(NATS_USERS.length);
    for (const p of passwords) expect(p).toMatch(/^[A-Za-z][A-Za-z0-9]{31}$/);
    expect(server.urlFor("gateway")).toBe(
      `nats://gateway:${server.credentials.gateway}@127.0.0.1:${server.port}`,
    );
    // The workers take credentials from the URL (NATS_URL); nats.js takes them as options.
    expect(loadConfig({ NATS_URL: server.urlFor("presence-actor") }).nats).toEqual({
      servers: [server.url],
      user: "presence-actor",
      pass: server.credentials["presence-actor"],
    });

    await expect(connect({ servers: server.url })).rejects.toThrow(/Authorization Violation/);
    await expect(connect({ ...server.optionsFor("client"), pass: "wrong" })).rejects.toThrow(
      /Authorization Violation/,
    );
    const before = server.credentials;
    await server.restart();
    expect(server.credentials).toBe(before);
    const nc = await connect(server.optionsFor("client"));
    try {
      // client may request the API (no responders here) and nothing internal.
      await expect(nc.request("presence.api.heartbeat", "{}", { timeout: 1000 })).rejects.toThrow(
        /no responders/i,
      );
      await expect(nc.request("herald.admin.stats.gateway", "", { timeout: 1000 })).rejects.toThrow(
        /Permissions Violation/,
      );
    } finally {
      await nc.close();
    }
    await waitFor(() => server.permissionViolations().some((l) => l.includes("herald.admin.stats.gateway")), {
      what: "the violation in the server log",
    });
  });

  it("without auth has no credentials", async () => {
    await using server = await NatsServer.start();
    expect(() => server.credentials).toThrow(/without auth/);
    expect(() => server.urlFor("client")).toThrow(/without auth/);
    expect(server.permissionViolations()).toEqual([]);
  });

  it("says how to install nats-server when it is missing", () => {
    const empty = mkdtempSync(join(tmpdir(), "herald-empty-path-"));
    try {
      expect(() => natsServerBinary(empty, [])).toThrow(NatsServerMissingError);
      expect(() => natsServerBinary(empty, [])).toThrow(/apt-get install -y nats-server/);
      expect(natsServerBinary()).toMatch(/nats-server$/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe("NatsCluster", () => {
  it("keeps an R3 stream writable when one of three nodes dies", async () => {
    await using cluster = await NatsCluster.start(3);
    const nc = await connect({ servers: cluster.urls, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    try {
      const jsm = await jetstreamManager(nc);
      const js = jetstream(nc);
      await jsm.streams.add({ name: "R3", subjects: ["r3.>"], num_replicas: 3 });
      for (let i = 0; i < 10; i++) await js.publish("r3.x", String(i));

      const victim = cluster.servers.findIndex((s) => s.url !== `nats://${nc.getServer()}`);
      await cluster.server(victim).kill();
      for (let i = 10; i < 20; i++) await js.publish("r3.x", String(i), { retries: 10 });
      expect((await jsm.streams.info("R3")).state.messages).toBe(20);

      await cluster.server(victim).start();
      await cluster.waitHealthy();
      expect(cluster.server(victim).running).toBe(true);
    } finally {
      await nc.close();
    }
  });
});
