/**
 * Takeover of a dead presence-actor's partitions, with the default lease settings: nats-server,
 * a gateway, a status-projector and two presence-actors as processes. Once both hold leases and
 * users are online in every partition, one presence-actor is killed with SIGKILL. Measured from
 * the kill: (a) the survivor holds every partition in `herald_leases`, and (b) a command for a
 * user of a dead process's partition takes effect (a disconnect, seen as that user's `offline`
 * event). The requirement is that a dead process's partitions run elsewhere within 10 s. The
 * users of those partitions must still be online afterwards (their state restored, not
 * started anew), and the events stream must hold no status event twice. Each worker connects as
 * its own NATS user (nats-auth.conf); the test drives the API as `client` and looks at what it
 * checks as the user that reads it: the leases as presence-actor, presence_status as `reader`,
 * the events stream as the gateway (which reads it for history).
 */
import {
  buckets,
  encodeToken,
  headers,
  internalSubjects,
  partitionOf,
  streams,
  subjects,
} from "@herald/protocol";
import { callUntilAnswered, NatsServer, type NatsUser, WorkerProcess, waitFor } from "@herald/testkit";
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** The default of HERALD_PARTITIONS, which this test leaves unset like the lease settings. */
const PARTITIONS = 16;
const USERS_PER_PARTITION = 3;
const GRACE_MS = 200;
const LONG_TTL_MS = 600_000;
/** "When a process dies (kill -9), its partitions run elsewhere within 10 s." */
const TAKEOVER_LIMIT_MS = 10_000;

interface Lease {
  owner: string;
  expires_at_ms: number;
}

interface StatusEv {
  type: string;
  user: string;
  status: string;
  prev: string;
}

/** Partition → owner of its unexpired lease (absent when free or expired). */
async function leaseOwners(kv: KV): Promise<Map<number, string>> {
  const owners = new Map<number, string>();
  const now = Date.now();
  for (let p = 0; p < PARTITIONS; p++) {
    const e = await kv.get(`p${p}`);
    if (e?.operation !== "PUT") continue;
    const lease = e.json<Lease>();
    if (lease.expires_at_ms > now) owners.set(p, lease.owner);
  }
  return owners;
}

describe("takeover of a killed presence-actor", () => {
  let server: NatsServer;
  let nc: NatsConnection;
  /** Connections that look at what the test checks, each as the user that may read it. */
  const observers: NatsConnection[] = [];
  const observe = async (user: NatsUser) => {
    const o = await connect({ ...server.optionsFor(user), name: `observer-${user}` });
    observers.push(o);
    return o;
  };
  const workers: WorkerProcess[] = [];
  /** Live status events as subscribers see them, with when they arrived. */
  const live: { user: string; e: StatusEv; raw: string; at: number }[] = [];

  beforeAll(async () => {
    server = await NatsServer.start({ auth: true });
    const env = { PRESENCE_GRACE_MS: String(GRACE_MS), LOG_LEVEL: "info" };
    for (const name of ["gateway", "status-projector", "presence-actor", "presence-actor"] as const) {
      workers.push(WorkerProcess.spawn(name, { ...env, NATS_URL: server.urlFor(name) }));
    }
    await Promise.all(workers.map((w) => w.waitForOutput(/"msg":"started"/)));
    nc = await connect(server.optionsFor("client"));
    nc.subscribe(subjects.allUserEvents, {
      callback: (_err, m) => {
        const e = m.json<StatusEv>();
        live.push({ user: e.user, e, raw: m.string(), at: Date.now() });
      },
    });
    await nc.flush();
  });

  afterAll(async () => {
    await nc?.close();
    for (const o of observers) await o.close();
    await Promise.all(workers.map((w) => w.stop("SIGTERM")));
    const violations = server?.permissionViolations();
    await server?.[Symbol.asyncDispose]();
    expect(violations).toEqual([]);
  });

  it("moves a dead process's partitions to the survivor within 10 s, losing no one", async () => {
    const actors = workers.filter((w) => w.name === "presence-actor");
    const ownerOf = (w: WorkerProcess) => (owner: string) => owner.startsWith(`${w.pid}-`);
    const [victim, survivor] = actors as [WorkerProcess, WorkerProcess];
    const leasesKv = await new Kvm(await observe("presence-actor")).open(buckets.leases);

    // Both processes hold leases: an even share of the partitions each.
    const before = await waitFor(
      async () => {
        const owners = await leaseOwners(leasesKv);
        const all = [...owners.values()];
        const half = (w: WorkerProcess) => all.filter(ownerOf(w)).length === PARTITIONS / 2;
        return half(victim) && half(survivor) ? owners : undefined;
      },
      { what: "each presence-actor holding half the partitions", timeoutMs: 20_000, intervalMs: 100 },
    );

    // Users online in every partition, so in partitions of both processes.
    const users: string[] = [];
    const perPartition = new Map<number, string[]>();
    for (let n = 0; users.length < PARTITIONS * USERS_PER_PARTITION; n++) {
      const user = `tk user ${n}`;
      const mine = perPartition.get(partitionOf(user, PARTITIONS)) ?? [];
      if (mine.length === USERS_PER_PARTITION) continue;
      mine.push(user);
      perPartition.set(partitionOf(user, PARTITIONS), mine);
      users.push(user);
    }
    await callUntilAnswered(nc, "heartbeat", {
      heartbeats: users.map((user) => ({ user, conn: "c1", ttl_ms: LONG_TTL_MS })),
    });
    const statusOf = async (who: string[]) =>
      ((await callUntilAnswered(nc, "get_user_status", { users: who })).statuses as { status: string }[]).map(
        (s) => s.status,
      );
    await waitFor(async () => (await statusOf(users)).every((s) => s === "online"), {
      what: "every user online",
    });

    // The victim's partitions (as the leases say now) and a user of one of them.
    const now = await leaseOwners(leasesKv);
    expect(now).toEqual(before);
    const victimPartitions = [...now].filter(([, owner]) => ownerOf(victim)(owner)).map(([p]) => p);
    expect(victimPartitions.length).toBeGreaterThan(0);
    const victimUsers = users.filter((u) => victimPartitions.includes(partitionOf(u, PARTITIONS)));
    const probe = victimUsers[0] as string;

    // kill -9, then a command for a user of a partition the dead process owned.
    const killedAt = Date.now();
    expect(await victim.stop("SIGKILL")).toMatchObject({ signal: "SIGKILL" });
    await callUntilAnswered(nc, "disconnect", { user: probe, conn: "c1" });
    const [leasesMs, effectMs] = await Promise.all([
      waitFor(
        async () => {
          const owners = await leaseOwners(leasesKv);
          return owners.size === PARTITIONS && [...owners.values()].every(ownerOf(survivor))
            ? Date.now() - killedAt
            : undefined;
        },
        { what: "the survivor holding every partition", timeoutMs: 20_000, intervalMs: 50 },
      ),
      waitFor(
        () => {
          const offline = live.find((x) => x.user === probe && x.e.status === "offline");
          return offline === undefined ? undefined : offline.at - killedAt;
        },
        { what: `${probe} offline after the disconnect`, timeoutMs: 20_000, intervalMs: 20 },
      ),
    ]);
    console.log(
      `takeover: survivor held all ${PARTITIONS} partitions ${leasesMs} ms after kill -9, ` +
        `a command in a dead process's partition took effect after ${effectMs} ms (grace ${GRACE_MS} ms)`,
    );
    expect(leasesMs).toBeLessThan(TAKEOVER_LIMIT_MS);
    expect(effectMs).toBeLessThan(TAKEOVER_LIMIT_MS);

    // The other users are still online, and their state was restored: a second conn of each
    // counts 2 conns (a user started anew would count 1, and be announced online again).
    const others = users.filter((u) => u !== probe);
    expect(await statusOf(others)).toEqual(others.map(() => "online"));
    await callUntilAnswered(nc, "heartbeat", {
      heartbeats: others.map((user) => ({ user, conn: "c2", ttl_ms: LONG_TTL_MS })),
    });
    const statusKv = await new Kvm(await observe("reader")).open(buckets.status);
    for (const user of others) {
      const doc = await waitFor(
        async () => {
          const d = (await statusKv.get(encodeToken(user)))?.json<{ status: string; conns: number }>();
          return d?.conns === 2 ? d : undefined;
        },
        { what: `${user} with 2 conns in ${buckets.status}` },
      ).catch(async (err: Error) => {
        throw new Error(`${err.message}: ${(await statusKv.get(encodeToken(user)))?.string()}`);
      });
      expect(doc.status, user).toBe("online");
    }
    expect(await statusOf([probe])).toEqual(["offline"]);

    // The events stream: no status event stored twice, and each user's events chain.
    const stored: { e: StatusEv; raw: string; id: string | undefined }[] = [];
    const consumer = await jetstream(await observe("gateway")).consumers.get(streams.events, {
      filter_subjects: internalSubjects.allUserEvents,
      deliver_policy: DeliverPolicy.All,
    });
    for await (const m of await consumer.consume()) {
      stored.push({ e: m.json<StatusEv>(), raw: m.string(), id: m.headers?.get(headers.msgId) });
      if (m.info.pending === 0) break;
    }
    for (const user of users) {
      const mine = stored.filter((x) => x.e.user === user);
      const ids = mine.map((x) => x.id);
      expect(
        ids.every((id) => id !== undefined && id !== ""),
        user,
      ).toBe(true);
      expect(new Set(ids).size, `${user}: a Nats-Msg-Id stored twice`).toBe(ids.length);
      for (let i = 1; i < mine.length; i++) {
        expect(mine[i]?.raw, `${user}: the same status event twice in a row`).not.toBe(mine[i - 1]?.raw);
      }
      // Online once (never announced again after the takeover); the probe then offline.
      expect(
        mine.map((x) => [x.e.prev, x.e.status]),
        user,
      ).toEqual(
        user === probe
          ? [
              ["offline", "online"],
              ["online", "offline"],
            ]
          : [["offline", "online"]],
      );
    }
    expect(stored.length).toBe(users.length + 1);
    // Live subscribers saw exactly the stored events, each once.
    await waitFor(() => live.length >= stored.length, { what: "every stored event delivered live" });
    expect(live.map((x) => x.raw)).toEqual(stored.map((x) => x.raw));
  }, 60_000);
});
