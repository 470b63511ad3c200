/**
 * Parts of CONTRACT.md end to end, with nats-server and the three workers as processes, driven
 * only through the public subjects: `online`/`active` of live status events, the default
 * `history` limit, what others see of an invisible user (events, `history`, `status_at`), and
 * an invisible status that expires. Timings are shrunk (grace 300 ms, away after 2 s). Each
 * worker connects as its own NATS user (nats-auth.conf), the test as `client`.
 */
import { COMPONENTS, subjects } from "@herald/protocol";
import { NatsServer, WorkerProcess, waitFor } from "@herald/testkit";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const GRACE_MS = 300;
const AWAY_MS = 2000;

interface Reply {
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

type Ev = Record<string, unknown> & { type: string; at_ms: number; user: string };

const seconds = (ms: number) => Math.floor(ms / 1000);

describe("the contract end to end", () => {
  let server: NatsServer;
  let nc: NatsConnection;
  const workers: WorkerProcess[] = [];
  /** Every live event, in the order received. */
  const events: { subject: string; e: Ev }[] = [];

  const call = async (method: string, params: unknown): Promise<Record<string, unknown>> => {
    const m = await nc.request(subjects.method(method), JSON.stringify(params), { timeout: 10_000 });
    const reply = m.json<Reply>();
    if (reply.error !== undefined) throw new Error(`${method}: ${reply.error.code} ${reply.error.message}`);
    return reply.result ?? {};
  };
  /** `call`, and the times just before and after it (a command's stamp lies between). */
  const timed = async (method: string, params: unknown) => {
    const before = Date.now();
    await call(method, params);
    return { before, after: Date.now() };
  };
  const userEvents = (user: string) =>
    events.filter((x) => x.subject === subjects.userEvents(user)).map((x) => x.e);
  const channelEvents = (channel: string) =>
    events.filter((x) => x.subject === subjects.channelEvents(channel)).map((x) => x.e);
  /** Every event of `user`, status and channel alike. */
  const allOf = (user: string) => events.filter((x) => x.e.user === user).map((x) => x.e);
  const nth = async (what: string, list: () => Ev[], n: number): Promise<Ev> =>
    waitFor(() => list()[n - 1], { what, timeoutMs: 15_000 });
  const statusAt = async (user: string, atMs: number) =>
    ((await call("status_at", { users: [user], at_ms: atMs })).statuses as { status: string }[])[0]?.status;

  beforeAll(async () => {
    server = await NatsServer.start({ auth: true });
    const env = {
      PRESENCE_GRACE_MS: String(GRACE_MS),
      PRESENCE_AWAY_AFTER_MS: String(AWAY_MS),
      LOG_LEVEL: "info",
    };
    for (const name of COMPONENTS)
      workers.push(WorkerProcess.spawn(name, { ...env, NATS_URL: server.urlFor(name) }));
    await Promise.all(workers.map((w) => w.waitForOutput(/"msg":"started"/)));
    nc = await connect(server.optionsFor("client"));
    nc.subscribe(subjects.allEvents, {
      callback: (_err, m) => {
        events.push({ subject: m.subject, e: m.json<Ev>() });
      },
    });
    await nc.flush();
    await waitFor(
      async () => {
        const m = await nc.request(subjects.method("presence_stats"), '{"channel":"probe"}');
        return m.json<Reply>().error?.code !== 503;
      },
      { what: "gateway ready" },
    );
  });

  afterAll(async () => {
    await nc?.close();
    const exits = await Promise.all(workers.map((w) => w.stop("SIGTERM")));
    const violations = server?.permissionViolations();
    await server?.[Symbol.asyncDispose]();
    for (const [i, exit] of exits.entries()) expect(exit.code, workers[i]?.output).toBe(0);
    expect(violations).toEqual([]);
  });

  it("live status events carry online and active in unix seconds of the commands' times", async () => {
    const user = "times";
    const status = () => userEvents(user);

    // Connecting is activity: online and active are both the heartbeat's time.
    const hb = await timed("heartbeat", { user, conn: "c", ttl_ms: 60_000 });
    const online = await nth("online", status, 1);
    expect(online).toMatchObject({ status: "online", prev: "offline" });
    expect(online.at_ms).toBeGreaterThanOrEqual(hb.before);
    expect(online.at_ms).toBeLessThanOrEqual(hb.after);
    expect(online.online).toBe(seconds(online.at_ms));
    expect(online.active).toBe(seconds(online.at_ms));

    // No activity for AWAY_MS: away then, still connected (online is then), active unchanged.
    const away = await nth("away", status, 2);
    expect(away).toMatchObject({ status: "away", prev: "online", at_ms: online.at_ms + AWAY_MS });
    expect(away.online).toBe(seconds(away.at_ms));
    expect(away.active).toBe(seconds(online.at_ms));

    // Activity: online again, active is that time.
    const act = await timed("update_user_status", { users: [user] });
    const back = await nth("online again", status, 3);
    expect(back).toMatchObject({ status: "online", prev: "away" });
    expect(back.at_ms).toBeGreaterThanOrEqual(act.before);
    expect(back.at_ms).toBeLessThanOrEqual(act.after);
    expect(back.online).toBe(seconds(back.at_ms));
    expect(back.active).toBe(seconds(back.at_ms));

    // The last conn ends: offline after the grace; online is when it ended, active unchanged.
    const bye = await timed("disconnect", { user, conn: "c" });
    const offline = await waitFor(() => status().find((e) => e.status === "offline"), {
      what: "offline",
      timeoutMs: 15_000,
    });
    const ended = offline.at_ms - GRACE_MS;
    expect(ended).toBeGreaterThanOrEqual(bye.before);
    expect(ended).toBeLessThanOrEqual(bye.after);
    expect(offline.online).toBe(seconds(ended));
    expect(offline.active).toBe(seconds(back.at_ms));
  });

  it("history without a limit answers the oldest 100 events of the window", async () => {
    const user = "historian";
    const channel = "history room";
    // 60 joins and leaves: 120 events on the channel, in order.
    for (let i = 0; i < 60; i++) {
      await call("join", { user, conn: "c", channel, data: { i } });
      await call("leave", { user, conn: "c", channel });
    }
    await waitFor(() => channelEvents(channel).length === 120, {
      what: "120 channel events",
      timeoutMs: 30_000,
    });
    const live = channelEvents(channel);
    expect(live.map((e) => e.type)).toEqual(
      Array.from({ length: 120 }, (_, i) => (i % 2 ? "leave" : "join")),
    );

    const all = (await call("history", { channel })).events as Ev[];
    expect(all).toHaveLength(100);
    expect(all).toEqual(live.slice(0, 100));
    // Within a window: the oldest 100 in it.
    const since = live[10]?.at_ms as number;
    const until = live[115]?.at_ms as number;
    const windowed = (await call("history", { channel, since_ms: since, until_ms: until })).events as Ev[];
    const inWindow = live.filter((e) => e.at_ms >= since && e.at_ms <= until);
    expect(inWindow.length).toBeGreaterThan(100);
    expect(windowed).toEqual(inWindow.slice(0, 100));
    // A limit above the default gives them all.
    expect((await call("history", { channel, limit: 1000 })).events).toEqual(live);
  });

  it("an invisible user is offline to others: no events while invisible, and history and status_at agree", async () => {
    const user = "ghost";
    const room = "ghost room";
    const later = "ghost later";
    await call("heartbeat", { user, conn: "c1", ttl_ms: 60_000 });
    await call("join", { user, conn: "c1", channel: room });
    const online = await nth("ghost online", () => userEvents(user), 1);
    await nth("ghost joined", () => channelEvents(room), 1);

    await call("set_status", { user, status: "invisible", text: "hidden" });
    const gone = await nth("ghost looks offline", () => userEvents(user), 2);
    // Offline, with nothing that would give the user away.
    expect(gone).toEqual({ type: "status", user, status: "offline", prev: "online", at_ms: gone.at_ms });
    const hidden = await nth("ghost's leave", () => channelEvents(room), 2);
    expect(hidden).toMatchObject({ type: "leave", reason: "disconnect", last: true });

    // While invisible: another conn, a join, activity, an update, a leave, and long enough
    // without activity to turn away. Others must see none of it.
    await call("heartbeat", { user, conn: "c2", ttl_ms: 60_000 });
    await call("join", { user, conn: "c2", channel: later });
    await call("update_user_status", { users: [user] });
    await call("update", { user, conn: "c1", channel: room, data: { x: 1 } });
    await call("leave", { user, conn: "c2", channel: later });
    const during = Date.now();
    await waitFor(
      async () => {
        const r = await call("get_user_status", { users: [user], include_hidden: true });
        return (r.statuses as { status: string }[])[0]?.status === "away";
      },
      { what: "ghost away, as trusted callers see", timeoutMs: 15_000 },
    );
    expect(await statusAt(user, during)).toBe("offline");
    expect(await statusAt(user, online.at_ms)).toBe("online");
    expect((await call("get_user_status", { users: [user] })).statuses).toEqual([
      { user, status: "offline" },
    ]);

    // Visible again: the marker. A user's events arrive in order, so anything emitted while
    // invisible would have arrived before it.
    await call("set_status", { user, status: "auto" });
    const visible = await nth("ghost visible", () => userEvents(user), 3);
    expect(visible).toMatchObject({ status: "away", prev: "offline" });
    const between = allOf(user).filter((e) => e.at_ms > gone.at_ms && e.at_ms < visible.at_ms);
    expect(between, "events while invisible").toEqual([]);
    expect(userEvents(user)).toHaveLength(3);
    expect(channelEvents(later)).toEqual([]);

    // history: exactly what others saw; status_at: offline throughout the invisible time.
    expect((await call("history", { user })).events).toEqual([online, gone, visible]);
    expect((await call("history", { channel: later })).events).toEqual([]);
    expect(await statusAt(user, gone.at_ms)).toBe("offline");
    expect(await statusAt(user, visible.at_ms - 1)).toBe("offline");
    expect(await statusAt(user, visible.at_ms)).toBe("away");
  });

  it("an invisible status with expires_at_ms ends at that time, with a status event", async () => {
    const user = "peekaboo";
    await call("heartbeat", { user, conn: "c", ttl_ms: 60_000 });
    await nth("peekaboo online", () => userEvents(user), 1);
    const until = Date.now() + 1500;
    await call("set_status", { user, status: "invisible", expires_at_ms: until });
    const gone = await nth("peekaboo looks offline", () => userEvents(user), 2);
    expect(gone).toMatchObject({ status: "offline", prev: "online" });
    expect(gone).not.toHaveProperty("manual");

    const back = await nth("peekaboo visible again", () => userEvents(user), 3);
    expect(back).toMatchObject({ status: "online", prev: "offline", at_ms: until });
    expect(back).not.toHaveProperty("manual");
    expect(back.online).toBe(seconds(until));
    expect(await statusAt(user, until - 1)).toBe("offline");
    expect(await statusAt(user, until)).toBe("online");
    await waitFor(
      async () => {
        const r = await call("get_user_status", { users: [user], include_hidden: true });
        const s = (r.statuses as Record<string, unknown>[])[0];
        return s?.status === "online" && s.manual === undefined;
      },
      { what: "peekaboo online without a manual status, even to trusted callers" },
    );
  });
});
