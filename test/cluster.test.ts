/**
 * A 3-node nats-server cluster with every stream and bucket at 3 replicas, and the workers as
 * processes (1 gateway, 2 presence-actors, 1 status-projector), all connected to every node.
 * A client drives acknowledged heartbeats and joins for a few hundred users through the API,
 * several in flight, retrying whatever fails; a quarter of the way in, the node leading the
 * command stream is killed with SIGKILL. The load must go on while it is down, and afterwards
 * nothing acknowledged may be missing: every user online (API and KV), every join present
 * with its data, each user's `online` event stored once. Then the node comes back and catches
 * up.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buckets, encodeToken, headers, internalSubjects, objectStores, streams } from "@herald/protocol";
import { callUntilAnswered, NatsCluster, WorkerProcess, waitFor } from "@herald/testkit";
import { DeliverPolicy, jetstream, jetstreamManager, type StreamInfo } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const USERS = 300;
const CHANNELS = 8;
/** Requests in flight at once. */
const LANES = 8;
const LONG_TTL_MS = 600_000;
/** Every stream Herald makes, buckets and object store included. */
const STREAMS = [
  streams.commands,
  streams.events,
  streams.deadLetters,
  ...Object.values(buckets).map((b) => `KV_${b}`),
  `OBJ_${objectStores.snapshots}`,
];

const userName = (i: number) => `cl user ${i}`;
const channelName = (i: number) => `room ${i % CHANNELS}.x`;

interface Ev {
  type: string;
  user: string;
  status?: string;
  prev?: string;
  channel?: string;
  conn?: string;
  data?: unknown;
}

describe("on a 3-node cluster with 3 replicas", () => {
  let cluster: NatsCluster;
  let nc: NatsConnection;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    cluster = await NatsCluster.start(3);
    const env = {
      NATS_URL: cluster.urls.join(","),
      HERALD_REPLICAS: "3",
      // A join of a conn not yet live makes it live with this ttl: as long as the heartbeats'.
      PRESENCE_TTL_MS: String(LONG_TTL_MS),
      LOG_LEVEL: "info",
    };
    for (const name of ["gateway", "presence-actor", "presence-actor", "status-projector"] as const) {
      workers.push(WorkerProcess.spawn(name, env));
    }
    await Promise.all(workers.map((w) => w.waitForOutput(/"msg":"started"/, 30_000)));
    nc = await connect({ servers: cluster.urls, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  }, 60_000);

  afterAll(async () => {
    await nc?.close();
    await Promise.all(workers.map((w) => w.stop("SIGTERM")));
    await cluster?.[Symbol.asyncDispose]();
  });

  /** Writes every worker's and node's output to a new temp dir, for a failure to name. */
  const saveLogs = (): string => {
    const dir = mkdtempSync(join(tmpdir(), "herald-cluster-test-"));
    for (const [i, w] of workers.entries()) writeFileSync(join(dir, `${w.name}-${i}.log`), w.output);
    for (const [i, s] of cluster.servers.entries()) writeFileSync(join(dir, `n${i}.log`), s.log());
    return dir;
  };

  const infoOf = async (name: string): Promise<StreamInfo> =>
    (await jetstreamManager(nc, { timeout: 2000 })).streams.info(name);

  it("loses nothing acknowledged when a node dies under load", { timeout: 180_000 }, async () => {
    // Every stream, bucket and object store really has 3 replicas.
    for (const name of STREAMS) expect((await infoOf(name)).config.num_replicas, name).toBe(3);
    await waitFor(() => callUntilAnswered(nc, "get_user_status", { users: ["nobody"] }), {
      what: "gateway ready",
    });

    // The node leading the command stream is the one to die: its loss forces an election.
    const leader = (await infoOf(streams.commands)).cluster?.leader;
    const victim = cluster.servers.findIndex((_, i) => leader === `n${i}`);
    expect(victim, `leader ${leader}`).toBeGreaterThanOrEqual(0);

    // The load: per user a heartbeat, then one or two joins with data, acknowledged in turn.
    const online = new Set<string>();
    const joins = new Map<string, Map<string, Record<string, unknown>>>(); // channel → user → data
    const stats = { acked: 0, retries: 0, ackedWhileDown: 0, slowestMs: 0 };
    let down = false;
    let killed: Promise<void> | undefined;
    const call = async (method: string, params: unknown) => {
      const t0 = Date.now();
      await callUntilAnswered(nc, method, params, { onRetry: () => void stats.retries++ });
      stats.slowestMs = Math.max(stats.slowestMs, Date.now() - t0);
      stats.acked++;
      if (down) stats.ackedWhileDown++;
      if (killed === undefined && stats.acked >= USERS / 2) {
        down = true;
        killed = cluster.server(victim).kill();
      }
    };
    let next = 0;
    const lane = async () => {
      for (let i = next++; i < USERS; i = next++) {
        const user = userName(i);
        await call("heartbeat", { user, conn: "c", ttl_ms: LONG_TTL_MS });
        online.add(user);
        for (const channel of i % 2 === 0 ? [channelName(i)] : [channelName(i), channelName(i + 3)]) {
          const data = { i, channel };
          await call("join", { user, conn: "c", channel, data });
          if (!joins.has(channel)) joins.set(channel, new Map());
          joins.get(channel)?.set(user, data);
        }
      }
    };
    await Promise.all(Array.from({ length: LANES }, lane));
    await killed;
    console.log(
      `cluster: killed node n${victim} (command stream leader) after ${USERS / 2} acks; ` +
        `${stats.acked} acknowledged (${stats.ackedWhileDown} while it was down), ` +
        `${stats.retries} retries, slowest ${stats.slowestMs} ms`,
    );
    expect(online.size).toBe(USERS);
    // The load went on without the node: most of it was acknowledged while it was down.
    expect(stats.ackedWhileDown).toBeGreaterThanOrEqual(USERS);
    expect(cluster.server(victim).running).toBe(false);

    // The node comes back; then nothing acknowledged while it was down may be missing. (While a
    // node is down, nats-server before 2.12 may place new consumers on it — nats-server PR
    // #7165 — so a partition or a watch restarting then can take several attempts; this test is
    // about durability, and checks once the cluster is whole.)
    await cluster.server(victim).start();
    await cluster.waitHealthy();

    // Every acknowledged user is online, as the API answers (≤ 1000 users a request)...
    const users = [...online];
    let notOnline: string[] = [];
    const converging = Date.now();
    await waitFor(
      async () => {
        notOnline = [];
        for (let i = 0; i < users.length; i += 1000) {
          const r = await callUntilAnswered(nc, "get_user_status", { users: users.slice(i, i + 1000) });
          const statuses = r.statuses as { user: string; status: string }[];
          notOnline.push(...statuses.filter((s) => s.status !== "online").map((s) => s.user));
        }
        return notOnline.length === 0;
      },
      { what: "every acknowledged user online in get_user_status", timeoutMs: 60_000, intervalMs: 200 },
    ).catch((err: Error) => {
      throw new Error(
        `${err.message}: ${notOnline.length} not online (${notOnline.slice(0, 5).join(", ")}, …); ` +
          `logs in ${saveLogs()}`,
      );
    });
    console.log(`cluster: every acknowledged user online ${Date.now() - converging} ms after the load ended`);
    // ...and in the KV bucket.
    const kv = await new Kvm(nc).open(buckets.status);
    for (const user of users) {
      const doc = await waitFor(async () => (await kv.get(encodeToken(user)))?.json<{ status: string }>(), {
        what: `${user} in ${buckets.status}`,
      });
      expect(doc.status, user).toBe("online");
    }

    // Every acknowledged join is in its channel's presence, with its data, and nothing else is.
    for (const [channel, members] of joins) {
      const want = [...members].map(([user, data]) => ({ user, conn: "c", data }));
      const byUser = (a: { user: string }, b: { user: string }) => a.user.localeCompare(b.user);
      want.sort(byUser);
      let have: unknown[] = [];
      await waitFor(
        async () => {
          const r = await callUntilAnswered(nc, "presence", { channel });
          have = (r.members as { user: string; conn: string; data: unknown }[])
            .map(({ user, conn, data }) => ({ user, conn, data }))
            .sort(byUser);
          return have.length === want.length;
        },
        { what: `presence of ${channel}`, timeoutMs: 30_000, intervalMs: 200 },
      ).catch(() => undefined);
      expect(have, `${channel} (logs in ${have.length === want.length ? "-" : saveLogs()})`).toEqual(want);
    }

    // The events stream: each user's `online` stored once, each join once, no id twice. A group of
    // outputs cut short by the leader change is stored again by its retry, possibly after later
    // ones (docs/ARCHITECTURE.md): read until every acknowledged join's event is there.
    const readEvents = async () => {
      const out: { e: Ev; id: string | undefined }[] = [];
      const consumer = await jetstream(nc).consumers.get(streams.events, {
        filter_subjects: internalSubjects.allEvents,
        deliver_policy: DeliverPolicy.All,
      });
      for await (const m of await consumer.consume()) {
        out.push({ e: m.json<Ev>(), id: m.headers?.get(headers.msgId) });
        if (m.info.pending === 0) break;
      }
      return out;
    };
    const wantJoinCount = [...joins.values()].reduce((n, members) => n + members.size, 0);
    let events: { e: Ev; id: string | undefined }[] = [];
    await waitFor(
      async () => {
        events = await readEvents();
        return events.filter((x) => x.e.type === "join").length >= wantJoinCount;
      },
      { what: "every acknowledged join's event in the events stream", timeoutMs: 30_000, intervalMs: 500 },
    ).catch(() => undefined);
    const ids = events.map((x) => x.id);
    expect(ids.every((id) => id !== undefined && id !== "")).toBe(true);
    expect(new Set(ids).size, "an event id stored twice").toBe(ids.length);
    const statusEvents = events.filter((x) => x.e.type === "status").map((x) => x.e);
    expect(statusEvents.map((e) => e.user).sort()).toEqual([...users].sort());
    for (const e of statusEvents) expect([e.status, e.prev], e.user).toEqual(["online", "offline"]);
    const joinEvents = events
      .filter((x) => x.e.type === "join")
      .map((x) => `${x.e.channel} ${x.e.user} ${JSON.stringify(x.e.data)}`);
    const wantJoins = [...joins].flatMap(([channel, members]) =>
      [...members].map(([user, data]) => `${channel} ${user} ${JSON.stringify(data)}`),
    );
    expect(joinEvents.sort()).toEqual(wantJoins.sort());
    // A join sent again after a lost reply is an update with the same data, never a change.
    for (const x of events.filter((y) => y.e.type === "update")) {
      expect(joins.get(x.e.channel as string)?.get(x.e.user)).toEqual(x.e.data);
    }
    expect(events.every((x) => ["status", "join", "update"].includes(x.e.type))).toBe(true);

    // Every stream has its 3 replicas current again.
    for (const name of STREAMS) {
      await waitFor(
        async () => {
          const c = (await infoOf(name)).cluster;
          const peers = c?.replicas ?? [];
          return c?.leader !== undefined && peers.length === 2 && peers.every((p) => p.current && !p.offline);
        },
        { what: `${name}: 3 current replicas`, timeoutMs: 20_000, intervalMs: 200 },
      );
    }
  });
});
