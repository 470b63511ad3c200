/**
 * Leases against a real nats-server: an even share across processes, takeover of a dead
 * process's partitions after the ttl, and never two processes acting on one partition.
 */
import { buckets } from "@herald/protocol";
import { NatsServer, waitFor } from "@herald/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { Leases } from "./leases.js";

const log = pino({ level: process.env.TEST_LOG ?? "silent" });
const PARTITIONS = 8;
const TTL_MS = 1000;
const RENEW_MS = 200;

interface Member {
  name: string;
  leases: Leases;
  nc: NatsConnection;
  /** Partitions its handlers were told to run and not yet told to stop. */
  running: Set<number>;
}

describe("Leases", () => {
  const cleanup: (() => Promise<void>)[] = [];
  // Every cleanup runs, newest first; any that failed fails the test.
  afterEach(async () => {
    const failed: unknown[] = [];
    for (const f of cleanup.splice(0).reverse()) await f().catch((err: unknown) => failed.push(err));
    if (failed.length > 0) throw new AggregateError(failed, `${failed.length} cleanup step(s) failed`);
  });

  async function startServer(): Promise<NatsServer> {
    const server = await NatsServer.start();
    cleanup.push(() => server[Symbol.asyncDispose]()); // last, after the members
    return server;
  }

  async function member(url: string, name: string): Promise<Member> {
    const nc = await connect({ servers: url });
    const kv = await new Kvm(nc).create(buckets.leases, { history: 1 });
    const running = new Set<number>();
    const leases = new Leases(
      kv,
      await jetstreamManager(nc),
      { owner: name, partitions: PARTITIONS, ttlMs: TTL_MS, renewMs: RENEW_MS },
      {
        async acquired(p) {
          running.add(p);
        },
        async released(p) {
          running.delete(p);
        },
      },
      log.child({ owner: name }),
    );
    await leases.start();
    cleanup.push(async () => {
      await leases.close();
      await nc.close();
    });
    return { name, leases, nc, running };
  }

  /** Watches every partition: at no sample may two members hold a valid lease on it. */
  function watchOwners(members: Member[]) {
    const overlaps: string[] = [];
    const timer = setInterval(() => {
      const now = Date.now();
      for (let p = 0; p < PARTITIONS; p++) {
        const valid = members.filter((m) => m.leases.valid(p, now)).map((m) => m.name);
        if (valid.length > 1) overlaps.push(`p${p}: ${valid.join(", ")}`);
      }
    }, 5);
    cleanup.push(async () => clearInterval(timer));
    return overlaps;
  }

  const validOwners = (members: Member[]) =>
    Array.from({ length: PARTITIONS }, (_, p) => members.filter((m) => m.leases.valid(p)).length);

  it("shares the partitions evenly, takes over a dead member's, never two owners at once", async () => {
    const server = await startServer();
    const a = await member(server.url, "a");
    await waitFor(() => a.leases.held.length === PARTITIONS, { what: "a holds every partition" });
    const b = await member(server.url, "b");
    const c = await member(server.url, "c");
    const all = [a, b, c];
    const overlaps = watchOwners(all);

    // Joining members get their share: at most ceil(8 / 3) = 3 each, every partition owned once.
    await waitFor(
      () =>
        all.every((m) => m.leases.held.length <= 3 && m.leases.held.length >= 2) &&
        validOwners(all).every((n) => n === 1),
      { what: "an even share", timeoutMs: 10_000 },
    );
    for (const m of all) expect([...m.running].sort()).toEqual(m.leases.held);

    // b dies: its connection goes, it renews nothing (like kill -9 or a long pause).
    const lost = b.leases.held;
    expect(lost.length).toBeGreaterThan(0);
    const died = Date.now();
    await b.nc.close();
    const live = [a, c];
    await waitFor(() => lost.every((p) => live.some((m) => m.leases.valid(p))), {
      what: "b's partitions taken over",
      timeoutMs: 10_000,
    });
    const takeover = Date.now() - died;
    // Expired after the ttl, seen at the next round of a live member (and some slack for CI).
    expect(takeover).toBeLessThan(TTL_MS + 2 * RENEW_MS + 1000);
    // By its own clock b stopped acting before anyone else started.
    for (const p of lost) expect(b.leases.valid(p)).toBe(false);
    await waitFor(() => validOwners(live).every((n) => n === 1), { what: "every partition owned" });
    expect(overlaps).toEqual([]);
  });

  it("a member that stops cleanly hands its partitions over at once", async () => {
    const server = await startServer();
    const a = await member(server.url, "a");
    const b = await member(server.url, "b");
    const overlaps = watchOwners([a, b]);
    await waitFor(() => a.leases.held.length === 4 && b.leases.held.length === 4, { what: "4 and 4" });
    const stopped = Date.now();
    await b.leases.close();
    expect(b.running.size).toBe(0);
    await waitFor(() => a.leases.held.length === PARTITIONS, { what: "a holds all" });
    // Released, not expired: the next round of a takes them (well under a ttl).
    expect(Date.now() - stopped).toBeLessThan(TTL_MS);
    expect(overlaps).toEqual([]);
  });
});
