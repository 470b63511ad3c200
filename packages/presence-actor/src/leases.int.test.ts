/**
 * Leases against a real nats-server: an even share across processes, takeover of a dead
 * process's partitions after the ttl, and never two processes acting on one partition.
 */
import { buckets } from "@herald/protocol";
import { NatsServer, waitFor } from "@herald/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm, KvWatchInclude } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { Leases, type LeaseValue } from "./leases.js";

const log = pino({ level: process.env.TEST_LOG ?? "silent" });
const PARTITIONS = 8;
const TTL_MS = 1000;
const RENEW_MS = 200;

/** One write to `herald_leases`, as the bucket stored it (seq = its revision). */
interface LeaseRecord {
  key: string;
  op: string;
  value: LeaseValue | undefined;
  seq: number;
}

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

  /**
   * Every write to the leases bucket from now on, in the order stored. Times in the values are
   * the members' own clocks: a lease `p<n>` holds the time of the round or renewal that wrote
   * it + ttl, and a round writes `o.<owner>` with its start + ttl, so the records show when
   * each round started and which one took a lease, whatever the test's own polling delays.
   */
  async function leaseLog(url: string): Promise<LeaseRecord[]> {
    const nc = await connect({ servers: url });
    const kv = await new Kvm(nc).create(buckets.leases, { history: 1 });
    const records: LeaseRecord[] = [];
    const watch = await kv.watch({ include: KvWatchInclude.AllHistory });
    const reading = (async () => {
      for await (const e of watch) {
        const value = e.operation === "PUT" ? e.json<LeaseValue>() : undefined;
        records.push({ key: e.key, op: e.operation, value, seq: e.revision });
      }
    })();
    cleanup.push(async () => {
      watch.stop();
      await reading;
      await nc.close();
    });
    return records;
  }

  /** When the rounds of `owner` started (by its clock), in order. */
  const roundStarts = (log: LeaseRecord[], owner: string) =>
    log.filter((r) => r.key === `o.${owner}` && r.value !== undefined).map((r) => startOf(r));
  const startOf = (r: LeaseRecord) => (r.value?.expires_at_ms ?? Number.NaN) - TTL_MS;
  const lastPut = (log: LeaseRecord[], key: string, owner: string) =>
    log.findLast((r) => r.key === key && r.value?.owner === owner);

  const validOwners = (members: Member[]) =>
    Array.from({ length: PARTITIONS }, (_, p) => members.filter((m) => m.leases.valid(p)).length);

  it("shares the partitions evenly, takes over a dead member's, never two owners at once", async () => {
    const server = await startServer();
    const log = await leaseLog(server.url);
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
    await b.nc.close();
    const live = [a, c];
    // An upper stop only: the requirement is checked on the records below.
    await waitFor(() => lost.every((p) => live.some((m) => m.leases.valid(p))), {
      what: "b's partitions taken over",
      timeoutMs: 10_000,
    });
    // By its own clock b stopped acting before anyone else started.
    for (const p of lost) expect(b.leases.valid(p)).toBe(false);
    await waitFor(() => validOwners(live).every((n) => n === 1), { what: "every partition owned" });
    expect(overlaps).toEqual([]);

    // The requirement (ARCHITECTURE.md, Leases): a dead process's leases expire after the ttl,
    // and the next round of a live process takes them. b also stops counting in everyone's
    // share once its `o.b` key expires. So each lost partition is taken no earlier than its
    // lease's expiry, and no later than the first round of each live member that starts once
    // the lease and `o.b` have expired (one of them has room for it by then).
    const bGone = lastPut(log, "o.b", "b")?.value?.expires_at_ms as number;
    expect(bGone).toBeGreaterThan(0);
    const takes = await waitFor(
      () => {
        const found = lost.map((p) => {
          const key = `p${p}`;
          const bLast = lastPut(log, key, "b") as LeaseRecord;
          const take = log.find((r) => r.seq > bLast.seq && r.key === key && r.value?.owner !== "b");
          if (take === undefined) return undefined;
          const expired = bLast.value?.expires_at_ms as number;
          const due = Math.max(expired, bGone);
          const firstRounds = live.map((m) => roundStarts(log, m.name).find((t) => t >= due));
          if (firstRounds.includes(undefined)) return undefined;
          return {
            p,
            expired,
            takenAt: startOf(take),
            by: take.value?.owner,
            latest: Math.max(...(firstRounds as number[])),
          };
        });
        return found.every((t) => t !== undefined) && found;
      },
      { what: "the takeovers and the rounds after them in the lease records" },
    );
    for (const t of takes) {
      expect(t.by === "a" || t.by === "c", `p${t.p} taken by ${t.by}`).toBe(true);
      expect(t.takenAt, `p${t.p} taken before b's lease expired`).toBeGreaterThanOrEqual(t.expired);
      expect(t.takenAt, `p${t.p} not taken by the first rounds after it expired`).toBeLessThanOrEqual(
        t.latest,
      );
    }
  });

  it("a member that stops cleanly hands its partitions over at once", async () => {
    const server = await startServer();
    const log = await leaseLog(server.url);
    const a = await member(server.url, "a");
    const b = await member(server.url, "b");
    const overlaps = watchOwners([a, b]);
    await waitFor(() => a.leases.held.length === 4 && b.leases.held.length === 4, { what: "4 and 4" });
    const handed = b.leases.held;
    await b.leases.close();
    expect(b.running.size).toBe(0);
    await waitFor(() => a.leases.held.length === PARTITIONS, { what: "a holds all" });
    expect(overlaps).toEqual([]);

    // Released, not left to expire: b deleted each lease and then its `o.b` key, and a took
    // them at once. A round whose `o.a` write was stored after that delete may have read the
    // bucket just before it; the round after it reads after it (rounds run one at a time), so
    // a takes them within two rounds of b's last delete, not after a ttl of rounds.
    const bLeft = log.findLast((r) => r.key === "o.b" && r.op === "DEL");
    expect(bLeft, "b deleted its o.b key").toBeDefined();
    const leftSeq = bLeft?.seq as number;
    for (const p of handed) {
      const deleted = log.find((r) => r.key === `p${p}` && r.op === "DEL");
      expect(deleted, `b gave p${p} back`).toBeDefined();
      expect(deleted?.seq).toBeLessThan(leftSeq);
    }
    const aRounds = () => log.filter((r) => r.key === "o.a" && r.value !== undefined);
    const takeRounds = await waitFor(
      () => {
        const found = handed.map((p) => {
          const take = log.find((r) => r.key === `p${p}` && r.op === "PUT" && r.value?.owner === "a");
          // The round that took it wrote o.a with the same time.
          return aRounds().find((r) => r.value?.expires_at_ms === take?.value?.expires_at_ms);
        });
        return found.every((r) => r !== undefined) && (found as LeaseRecord[]);
      },
      { what: "a's takes and their rounds in the lease records" },
    );
    for (const [i, round] of takeRounds.entries()) {
      const roundsAfter = aRounds().filter((r) => r.seq > leftSeq && r.seq <= round.seq).length;
      expect(roundsAfter, `p${handed[i]} taken ${roundsAfter} rounds after b left`).toBeLessThanOrEqual(2);
    }
  });

  it("a lease that ran out while the server stalled is renewed once it answers, not given up", async () => {
    const server = await startServer();
    const a = await member(server.url, "a");
    await waitFor(() => a.running.size === PARTITIONS, { what: "a holds every partition" });
    const pid = server.pid as number;
    // The server stops answering (as one busy storing a flood would), longer than the ttl.
    process.kill(pid, "SIGSTOP");
    let regained: Promise<boolean> | undefined;
    let settled = false;
    try {
      await waitFor(() => !a.leases.valid(0), { what: "the lease ran out by a's clock" });
      regained = a.leases.regain(0, new AbortController().signal);
      void regained.then(() => {
        settled = true;
      });
      const stalledAt = Date.now();
      await waitFor(() => Date.now() - stalledAt > TTL_MS, { what: "a ttl of stall" });
      expect(settled, "regain waits while the server does not answer").toBe(false);
    } finally {
      process.kill(pid, "SIGCONT");
    }
    expect(await regained).toBe(true);
    expect(a.leases.valid(0)).toBe(true);
    // Nothing was given up: no partition stopped, every lease still a's.
    expect(a.running.size).toBe(PARTITIONS);
    expect(a.leases.held).toHaveLength(PARTITIONS);
  });

  it("regain answers false for a lease someone else took", async () => {
    const server = await startServer();
    const a = await member(server.url, "a");
    await waitFor(() => a.running.size === PARTITIONS, { what: "a holds every partition" });
    const nc = await connect({ servers: server.url });
    cleanup.push(() => nc.close());
    const kv = await new Kvm(nc).open(buckets.leases);
    const taken: LeaseValue = { owner: "z", expires_at_ms: Date.now() + 60_000 };
    await kv.put("p3", JSON.stringify(taken));
    await waitFor(() => !a.running.has(3), { what: "a stopped p3" });
    expect(await a.leases.regain(3, new AbortController().signal)).toBe(false);
    expect(a.leases.held).not.toContain(3);
  });
});
