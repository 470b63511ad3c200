/**
 * Chaos: a seeded random workload through the public API while presence-actor, status-projector
 * and gateway processes are killed with SIGKILL and restarted, and nats-server restarts. Every
 * command is retried until acknowledged (a retry after a lost reply may apply it twice, which
 * these commands tolerate), and fed to a small reference model once acknowledged. Afterwards:
 *
 * - every acknowledged command took effect: statuses (API and KV) and channel members (API)
 *   equal the model's;
 * - the events stream holds no change twice (no two identical events; each user's status
 *   events chain `prev` → `status` with none missing) and each member's join/update/leave
 *   events alternate as they must, ending where the model ends.
 *
 * The seed is in the test's name, so in every failure; `CHAOS_SEED=<n>` runs the same workload
 * and kill schedule again. Re-sends are bounded: a command still answered 503 (or not at all)
 * after RESEND_LIMIT fails the test. Every update the model holds as joined must be accepted: a
 * 409 to one is recorded in `updateConflicts` (not sent again), which must stay empty.
 */
import {
  buckets,
  COMPONENTS,
  type Component,
  encodeToken,
  internalSubjects,
  streams,
  subjects,
} from "@herald/protocol";
import { NatsServer, seededRandom, WorkerProcess, waitFor } from "@herald/testkit";
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const SEED = Number(process.env.CHAOS_SEED ?? Date.now() % 1_000_000);
const USERS = 40;
const CHANNELS = ["c0", "c1", "c2", "c3 .*", "c4", "c5"];
const LOAD_MS = 30_000;
const LONG_TTL_MS = 600_000;
const SHORT_TTL_MS = 1500;
const GRACE_MS = 300;
/**
 * How long one command may go unacknowledged (503 not ready/overloaded, or no reply while a
 * gateway or the server restarts), and how many 503s it may get, before the test fails: a
 * kill -9 or a server restart takes seconds, so more means a gateway that is stuck.
 */
const RESEND_LIMIT = { ms: 30_000, unavailable: 60 };

interface ModelUser {
  /** Long-lived conns (never time out during the test) → channel → data. */
  long: Map<string, Map<string, Record<string, unknown>>>;
  /** The short conn being kept alive, if any (it times out once abandoned). */
  short?: string;
  dnd: boolean;
}

interface Ev {
  type: string;
  user: string;
  at_ms: number;
  status?: string;
  prev?: string;
  manual?: { status: string };
  channel?: string;
  conn?: string;
  data?: Record<string, unknown>;
}

describe(`chaos (CHAOS_SEED=${SEED})`, () => {
  let server: NatsServer;
  let nc: NatsConnection;
  const workers = new Map<string, WorkerProcess>();
  let env: Record<string, string>;
  const model = new Map<string, ModelUser>();
  const stats = { acked: 0, retries: 0, ambiguous: 0, refused: 0, kills: [] as string[] };
  /** Every kill and restart with when it happened (ms since the load started), for failures. */
  const timeline: string[] = [];
  let loadStart = Date.now();
  const since = (t: number) => `+${t - loadStart} ms`;
  /**
   * Every 409 answered to an `update` of a member the model holds as joined (so none is right:
   * the user's owner decides, whichever gateway took the join).
   */
  const updateConflicts: { user: string; conn: string; channel: string; attempt: number; message: string }[] =
    [];

  const spawn = (id: string, name: Component) => workers.set(id, WorkerProcess.spawn(name, env));

  beforeAll(async () => {
    server = await NatsServer.start();
    env = {
      NATS_URL: server.url,
      PRESENCE_GRACE_MS: String(GRACE_MS),
      PRESENCE_AWAY_AFTER_MS: "3600000",
      // A join of a conn that timed out makes it live again with this ttl: short, like the short conns.
      PRESENCE_TTL_MS: String(SHORT_TTL_MS),
      HERALD_PARTITIONS: "8",
      HERALD_LEASE_TTL_MS: "2000",
      HERALD_SNAPSHOT_INTERVAL_MS: "1000",
      LOG_LEVEL: "info",
    };
    for (const name of COMPONENTS) for (const n of [1, 2]) spawn(`${name}-${n}`, name);
    await Promise.all([...workers.values()].map((w) => w.waitForOutput(/"msg":"started"/)));
    nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    console.log(`chaos seed ${SEED} (CHAOS_SEED=${SEED} repeats this run)`);
  }, 60_000);

  afterAll(async () => {
    await nc?.close();
    await Promise.all([...workers.values()].map((w) => w.stop("SIGTERM")));
    await server?.[Symbol.asyncDispose]();
  });

  /**
   * Sends a request until it is acknowledged (`acked`). No reply and 503 are sent again, within
   * RESEND_LIMIT; a 409 to an `update` is recorded and the update counts as refused (`acked`
   * false; the model keeps the old data); any other error fails the test.
   * `unanswered`: attempts without a reply (each may or may not have been applied).
   */
  async function ack(method: string, params: unknown): Promise<{ acked: boolean; unanswered: number }> {
    const body = JSON.stringify(params);
    const started = Date.now();
    const seen = { unavailable: 0, noReply: 0, conflicts: 0 };
    const fail = (why: string) =>
      new Error(
        `CHAOS_SEED=${SEED}: ${method} ${body}: ${why} (${seen.unavailable} × 503, ${seen.noReply} without reply, ${seen.conflicts} × 409 from ${since(started)} to ${since(Date.now())}; so far: ${timeline.join(", ")})`,
      );
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) {
        stats.retries++;
        if (Date.now() - started > RESEND_LIMIT.ms)
          throw fail(`not acknowledged within ${RESEND_LIMIT.ms} ms`);
        await new Promise((r) => setTimeout(r, Math.min(1000, 50 * attempt)));
      }
      let reply: { result?: Record<string, unknown>; error?: { code: number; message: string } };
      try {
        // Longer than a gateway may take to append a request (its publish retries), so a request
        // we give up on can no longer be appended after our retry and reorder this user's
        // commands. (An update then waits for its owner's verdict, up to the gateway's
        // verdictTimeoutMs: one stuck there counts as without reply here, and is sent again.)
        const m = await nc.request(subjects.method(method), body, { timeout: 10_000 });
        reply = m.json();
      } catch {
        stats.ambiguous++; // no reply: maybe applied, maybe not; send it again
        seen.noReply++;
        continue;
      }
      if (reply.error === undefined) return { acked: true, unanswered: seen.noReply };
      if (reply.error.code === 503) {
        seen.unavailable++;
        if (seen.unavailable > RESEND_LIMIT.unavailable)
          throw fail(`still 503 after ${seen.unavailable} answers`);
        continue;
      }
      if (reply.error.code === 409 && method === "update") {
        seen.conflicts++;
        const { user, conn, channel } = params as { user: string; conn: string; channel: string };
        updateConflicts.push({ user, conn, channel, attempt, message: reply.error.message });
        return { acked: false, unanswered: seen.noReply };
      }
      throw fail(`answered ${reply.error.code} ${reply.error.message}`);
    }
  }

  /** One user's random life until `until`; the model changes only once a command is acknowledged. */
  async function live(user: string, random: () => number, until: number): Promise<void> {
    const m: ModelUser = { long: new Map(), dnd: false };
    model.set(user, m);
    let n = 0;
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
    while (Date.now() < until) {
      const r = random();
      const longs = [...m.long.keys()];
      let acked = true;
      if (longs.length === 0 || (r < 0.08 && longs.length < 3)) {
        const conn = `L${n++}`;
        await ack("heartbeat", { user, conn, ttl_ms: LONG_TTL_MS });
        m.long.set(conn, new Map());
      } else if (r < 0.3) {
        // The short conn: kept alive by heartbeats, sometimes in a channel, then abandoned.
        if (m.short === undefined || random() < 0.15) m.short = `S${n++}`;
        if (random() < 0.3) {
          await ack("join", { user, conn: m.short, channel: pick(CHANNELS), data: { s: n++ } });
        } else {
          await ack("heartbeat", { user, conn: m.short, ttl_ms: SHORT_TTL_MS });
        }
      } else if (r < 0.5) {
        const conn = pick(longs);
        const channel = pick(CHANNELS);
        const data = { v: n++ };
        await ack("join", { user, conn, channel, data });
        m.long.get(conn)?.set(channel, data);
      } else if (r < 0.62) {
        const conn = pick(longs);
        const joined = [...(m.long.get(conn)?.keys() ?? [])];
        if (joined.length === 0) continue;
        const channel = pick(joined);
        const data = { u: n++ };
        const sent = await ack("update", { user, conn, channel, data });
        if (!sent.acked) {
          stats.refused++;
          // Refused (409): nothing changed, unless an attempt without a reply was applied.
          // Then a join with the same data (never 409) settles it.
          if (sent.unanswered > 0) await ack("join", { user, conn, channel, data });
          else acked = false;
        }
        if (acked) m.long.get(conn)?.set(channel, data);
      } else if (r < 0.72) {
        const conn = pick(longs);
        const channel = pick(CHANNELS);
        await ack("leave", { user, conn, channel });
        m.long.get(conn)?.delete(channel);
      } else if (r < 0.78) {
        const conn = pick(longs);
        await ack("disconnect", { user, conn });
        m.long.delete(conn);
      } else if (r < 0.84) {
        const dnd = random() < 0.5;
        await ack("set_status", { user, status: dnd ? "dnd" : "auto" });
        m.dnd = dnd;
      } else {
        await ack("heartbeat", { user, conn: pick(longs), ttl_ms: LONG_TTL_MS });
      }
      if (acked) stats.acked++;
      await new Promise((r) => setTimeout(r, 20 + random() * 150));
    }
  }

  /** Kills and restarts processes (and once the server) on a seeded schedule until `until`. */
  async function chaos(random: () => number, until: number): Promise<void> {
    const victims = ["presence-actor", "presence-actor", "status-projector", "gateway", "server"];
    while (Date.now() < until - 4000) {
      await new Promise((r) => setTimeout(r, 2000 + random() * 2000));
      const victim =
        victims.length > 0 ? victims.splice(Math.floor(random() * victims.length), 1)[0] : undefined;
      const kind = victim ?? ["presence-actor", "status-projector", "gateway"][Math.floor(random() * 3)];
      if (kind === "server") {
        stats.kills.push("nats-server restart");
        timeline.push(`${since(Date.now())} nats-server restart`);
        await server.restart();
        continue;
      }
      const id = `${kind}-${1 + Math.floor(random() * 2)}`;
      stats.kills.push(`kill -9 ${id}`);
      timeline.push(`${since(Date.now())} kill -9 ${id}`);
      await workers.get(id)?.stop("SIGKILL");
      spawn(id, kind as Component);
    }
  }

  /** The differences between what Herald answers now and the model (empty when equal). */
  async function differences(): Promise<string[]> {
    const diffs: string[] = [];
    const users = [...model.keys()];
    const reply = await nc.request(subjects.method("get_user_status"), JSON.stringify({ users }), {
      timeout: 5000,
    });
    const statuses = reply.json<{
      result?: { statuses: { user: string; status: string; manual?: { status: string } }[] };
    }>().result?.statuses;
    if (statuses === undefined) return ["get_user_status failed"];
    for (const s of statuses) {
      const m = model.get(s.user) as ModelUser;
      const want = m.long.size > 0 ? "online" : "offline";
      if (s.status !== want) diffs.push(`${s.user}: status ${s.status}, model ${want}`);
      if ((s.manual?.status === "dnd") !== m.dnd)
        diffs.push(`${s.user}: manual ${s.manual?.status}, model dnd=${m.dnd}`);
    }
    for (const channel of CHANNELS) {
      const r = await nc.request(subjects.method("presence"), JSON.stringify({ channel }), { timeout: 5000 });
      const members = r.json<{ result?: { members: { user: string; conn: string; data: unknown }[] } }>()
        .result?.members;
      if (members === undefined) return ["presence failed"];
      const have = members.map((x) => `${x.user}/${x.conn}=${JSON.stringify(x.data)}`).sort();
      const want: string[] = [];
      for (const [user, m] of model)
        for (const [conn, chans] of m.long) {
          const data = chans.get(channel);
          if (data !== undefined) want.push(`${user}/${conn}=${JSON.stringify(data)}`);
        }
      want.sort();
      if (JSON.stringify(have) !== JSON.stringify(want))
        diffs.push(`${channel}: members ${JSON.stringify(have)}, model ${JSON.stringify(want)}`);
    }
    return diffs;
  }

  async function storedEvents(): Promise<Ev[]> {
    const js = jetstream(nc);
    const c = await js.consumers.get(streams.events, {
      filter_subjects: internalSubjects.allEvents,
      deliver_policy: DeliverPolicy.All,
    });
    const out: Ev[] = [];
    for await (const m of await c.consume()) {
      out.push(m.json<Ev>());
      if (m.info.pending === 0) break;
    }
    return out;
  }

  it("loses nothing acknowledged and stores no change twice while processes die", async () => {
    const random = seededRandom(SEED);
    loadStart = Date.now();
    const until = loadStart + LOAD_MS;
    const userSeeds = Array.from({ length: USERS }, () => Math.floor(random() * 2 ** 31));
    await Promise.all([
      chaos(seededRandom(Math.floor(random() * 2 ** 31)), until),
      ...userSeeds.map((seed, i) => live(`user ${i}.x`, seededRandom(seed), until)),
    ]);
    console.log(
      `chaos (CHAOS_SEED=${SEED}): ${stats.acked} acknowledged commands, ${stats.retries} retries (${stats.ambiguous} without reply), ${stats.refused} updates refused; ${stats.kills.join(", ")}`,
    );
    expect(updateConflicts, `409s to updates of joined members (CHAOS_SEED=${SEED})`).toEqual([]);
    expect(stats.kills.length).toBeGreaterThanOrEqual(5);
    expect(stats.kills).toContain("nats-server restart");

    // Every process is up; short conns time out; then Herald must agree with the model.
    await Promise.all([...workers.values()].map((w) => w.waitForOutput(/"msg":"started"/, 30_000)));
    let last: string[] = [];
    await waitFor(
      async () => {
        last = await differences();
        return last.length === 0;
      },
      { what: "Herald to agree with the model", timeoutMs: 45_000, intervalMs: 250 },
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${last.slice(0, 20).join("\n")}`);
    });

    // The KV projection agrees too, conns included (the API answers no conn count, so a short
    // conn that is still to time out shows only here: wait for it as well).
    const kv = await new Kvm(nc).open(buckets.status);
    const kvDiffs = async () => {
      const out: string[] = [];
      for (const [user, m] of model) {
        const doc = (await kv.get(encodeToken(user)))?.json<{ status: string; conns: number }>();
        const want = { status: m.long.size > 0 ? "online" : "offline", conns: m.long.size };
        if (doc?.status !== want.status || doc.conns !== want.conns)
          out.push(
            `${user}: KV ${JSON.stringify(doc && { status: doc.status, conns: doc.conns })}, model ${JSON.stringify(want)}`,
          );
      }
      return out;
    };
    await waitFor(
      async () => {
        last = await kvDiffs();
        return last.length === 0;
      },
      {
        what: "the KV projection to agree with the model",
        timeoutMs: 30_000,
        intervalMs: 250,
      },
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${last.slice(0, 20).join("\n")}`);
    });

    // The events stream: no change twice, none missing, each member's events in a valid order.
    const events = await storedEvents();
    const bodies = events.map((e) => JSON.stringify(e));
    expect(new Set(bodies).size, "identical events stored twice").toBe(bodies.length);
    for (const [user, m] of model) {
      const mine = events.filter((e) => e.type === "status" && e.user === user);
      let status = "offline";
      let at = 0;
      for (const e of mine) {
        expect(e.prev, `${user}: event after ${status} says prev ${e.prev}`).toBe(status);
        expect(e.at_ms, `${user}: events in order`).toBeGreaterThanOrEqual(at);
        status = e.status as string;
        at = e.at_ms;
      }
      expect(status, `${user}: last status event`).toBe(m.long.size > 0 ? "online" : "offline");
      const members = new Map<string, Record<string, unknown> | undefined>();
      for (const e of events.filter((x) => x.type !== "status" && x.user === user)) {
        const key = `${e.channel}/${e.conn}`;
        const present = members.has(key);
        if (e.type === "join") expect(present, `${user} ${key}: join while joined`).toBe(false);
        else expect(present, `${user} ${key}: ${e.type} while not joined`).toBe(true);
        if (e.type === "leave") members.delete(key);
        else members.set(key, e.data);
      }
      const want = new Map<string, Record<string, unknown>>();
      for (const [conn, chans] of m.long) for (const [ch, data] of chans) want.set(`${ch}/${conn}`, data);
      expect(new Map([...members].sort()), `${user}: members from the events`).toEqual(
        new Map([...want].sort()),
      );
    }
  }, 180_000);
});
