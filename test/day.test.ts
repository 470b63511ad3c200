/**
 * A scripted day of several users, end to end: nats-server and the three workers as separate
 * processes, driven only through the public subjects (requests on presence.api.*, live events on
 * presence.events.*, the presence_status bucket). Timings are shrunk (ttl 1 s, grace 1 s,
 * away after 3 s) so the day takes seconds. The server runs with Herald's users
 * (nats-auth.conf): each worker connects as its own, the test as `client` and, for the bucket,
 * `reader`; nothing any of them does is refused.
 */
import { buckets, COMPONENTS, encodeToken, type StatusDoc, subjects } from "@herald/protocol";
import { NatsServer, WorkerProcess, waitFor } from "@herald/testkit";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const GRACE_MS = 1000;
const AWAY_MS = 3000;

interface Reply {
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

type Ev = Record<string, unknown> & { type: string; at_ms: number };

describe("a day of presence", () => {
  let server: NatsServer;
  let nc: NatsConnection;
  let reader: NatsConnection;
  const workers: WorkerProcess[] = [];
  const events: { subject: string; e: Ev; raw: string }[] = [];

  const call = async (method: string, params: unknown): Promise<Record<string, unknown>> => {
    const m = await nc.request(subjects.method(method), JSON.stringify(params), { timeout: 5000 });
    const reply = m.json<Reply>();
    if (reply.error !== undefined) throw new Error(`${method}: ${reply.error.code} ${reply.error.message}`);
    return reply.result ?? {};
  };
  const userEvents = (user: string) =>
    events.filter((x) => x.subject === subjects.userEvents(user)).map((x) => x.e);
  const channelEvents = (channel: string, user?: string) =>
    events
      .filter(
        (x) => x.subject === subjects.channelEvents(channel) && (user === undefined || x.e.user === user),
      )
      .map((x) => x.e);
  const statusesOf = (user: string) => userEvents(user).map((e) => e.status);
  const waitUntil = (what: string, probe: () => boolean, timeoutMs = 10_000) =>
    waitFor(probe, { what, timeoutMs });

  beforeAll(async () => {
    server = await NatsServer.start({ auth: true });
    const env = {
      PRESENCE_GRACE_MS: String(GRACE_MS),
      PRESENCE_AWAY_AFTER_MS: String(AWAY_MS),
      PRESENCE_TTL_MS: "30000",
      LOG_LEVEL: "info",
    };
    for (const name of COMPONENTS)
      workers.push(WorkerProcess.spawn(name, { ...env, NATS_URL: server.urlFor(name) }));
    await Promise.all(workers.map((w) => w.waitForOutput(/"msg":"started"/)));
    nc = await connect(server.optionsFor("client"));
    reader = await connect(server.optionsFor("reader"));
    nc.subscribe(subjects.allEvents, {
      callback: (_err, m) => {
        events.push({ subject: m.subject, e: m.json<Ev>(), raw: m.string() });
      },
    });
    await nc.flush();
    // The gateway answers queries once its view of the projections is loaded.
    await waitFor(async () => (await call("get_user_status", { users: ["nobody"] })) !== undefined, {
      what: "gateway ready",
    });
  });

  afterAll(async () => {
    await nc?.close();
    await reader?.close();
    const exits = await Promise.all(workers.map((w) => w.stop("SIGTERM")));
    const violations = server?.permissionViolations();
    await server?.[Symbol.asyncDispose]();
    for (const exit of exits) expect(exit.code).toBe(0);
    expect(violations).toEqual([]);
  });

  it("runs a day: tabs, refresh, timeout, away, dnd, invisible, churn", async () => {
    // 08:00 alice opens two tabs and joins the lobby from both.
    await call("heartbeat", {
      heartbeats: [
        { user: "alice", conn: "tab 1" },
        { user: "alice", conn: "tab 2" },
      ],
    });
    await call("join", { user: "alice", conn: "tab 1", channel: "lobby.main", data: { role: "host" } });
    await call("join", { user: "alice", conn: "tab 2", channel: "lobby.main" });
    // bob joins, carol joins with a short ttl, dave and frank connect, erin goes dnd briefly.
    await call("join", { user: "bob", conn: "b1", channel: "lobby.main", data: { n: 1 } });
    await call("heartbeat", { user: "carol", conn: "phone", ttl_ms: 1000 });
    await call("join", { user: "carol", conn: "phone", channel: "lobby.main" });
    await call("heartbeat", { user: "dave", conn: "d" });
    await call("join", { user: "frank ✈", conn: "f", channel: "lobby.main" });
    await call("heartbeat", { user: "erin", conn: "e" });
    const erinDndUntil = Date.now() + 1500;
    await call("set_status", {
      user: "erin",
      status: "dnd",
      text: "focus",
      expires_at_ms: erinDndUntil,
    });

    await waitUntil("everyone online", () =>
      ["alice", "bob", "carol", "dave", "frank ✈", "erin"].every((u) => statusesOf(u).includes("online")),
    );
    await waitUntil("alice's joins", () => channelEvents("lobby.main", "alice").length === 2);
    // Two tabs, one status event.
    expect(userEvents("alice").filter((e) => e.status === "online")).toHaveLength(1);
    const aliceJoins = channelEvents("lobby.main", "alice");
    expect(aliceJoins.map((e) => [e.type, e.conn, e.first ?? false])).toEqual([
      ["join", "tab 1", true],
      ["join", "tab 2", false],
    ]);
    expect(aliceJoins[1]?.data).toEqual({});

    // bob refreshes his page: the old conn ends, a new one comes within the grace.
    await call("disconnect", { user: "bob", conn: "b1" });
    await call("join", { user: "bob", conn: "b2", channel: "lobby.main", data: { n: 2 } });
    await call("update", { user: "bob", conn: "b2", channel: "lobby.main", data: { n: 3 } });

    // frank goes invisible: to others he logs off.
    await call("set_status", { user: "frank ✈", status: "invisible" });
    await waitUntil("frank looks offline", () => statusesOf("frank ✈").at(-1) === "offline");
    const frankLast = userEvents("frank ✈").at(-1);
    expect(frankLast).toMatchObject({ status: "offline", prev: "online" });
    expect(frankLast).not.toHaveProperty("manual");
    expect(frankLast).not.toHaveProperty("online");
    expect(channelEvents("lobby.main", "frank ✈").at(-1)).toMatchObject({
      type: "leave",
      reason: "disconnect",
      last: true,
    });

    // carol stops heart-beating: timeout after 1 s, offline after the grace.
    await waitUntil("carol offline", () => statusesOf("carol").includes("offline"), 8000);
    const carolLeave = channelEvents("lobby.main", "carol").at(-1);
    expect(carolLeave).toMatchObject({ type: "leave", reason: "timeout", last: true });
    const carolOffline = userEvents("carol").at(-1) as Ev;
    expect(carolOffline.at_ms - (carolLeave?.at_ms as number)).toBe(GRACE_MS);

    // erin's dnd expires by itself: a status event without `manual` after the one with dnd.
    const manualOf = (e: Ev) => (e.manual as { status?: string } | undefined)?.status ?? null;
    await waitUntil("erin's dnd expired", () => {
      const erin = userEvents("erin");
      const dnd = erin.findIndex((e) => manualOf(e) === "dnd");
      return dnd >= 0 && erin.slice(dnd + 1).some((e) => manualOf(e) === null);
    });
    expect(userEvents("erin").map(manualOf)).toEqual([null, "dnd", null]);
    // At the time it was set to expire, and she stayed online throughout.
    expect(userEvents("erin")[2]).toMatchObject({ status: "online", prev: "online", at_ms: erinDndUntil });

    // dave pops into the kitchen and out again.
    await call("join", { user: "dave", conn: "d", channel: "kitchen" });
    // Seen in the projections first, so that "gone" below means the leave, not a join on its way.
    await waitFor(
      async () => (await call("is_present", { channel: "kitchen", user: "dave" })).present === true,
      { what: "dave in the kitchen's presence" },
    );
    await call("leave", { user: "dave", conn: "d", channel: "kitchen" });
    await call("leave", { user: "dave", conn: "d", channel: "kitchen" }); // not joined: nothing
    // A marker behind it: a user's events arrive in the order they happened, so anything the
    // second leave caused would arrive before the marker's join.
    await call("join", { user: "dave", conn: "d", channel: "marker" });
    await waitUntil("dave's marker join", () => channelEvents("marker", "dave").length === 1);
    const daveEvents = events.filter((x) => x.e.user === "dave");
    const kitchenJoin = daveEvents.findIndex((x) => x.subject === subjects.channelEvents("kitchen"));
    expect(
      daveEvents.slice(kitchenJoin).map((x) => [x.subject, x.e.type, x.e.reason ?? null]),
      "dave's events from the kitchen join to the marker",
    ).toEqual([
      [subjects.channelEvents("kitchen"), "join", null],
      [subjects.channelEvents("kitchen"), "leave", "leave"],
      [subjects.channelEvents("marker"), "join", null],
    ]);
    await call("leave", { user: "dave", conn: "d", channel: "marker" });
    expect(
      channelEvents("kitchen").map((e) => [e.type, e.reason ?? null, e.first ?? e.last ?? null]),
    ).toEqual([
      ["join", null, true],
      ["leave", "leave", true],
    ]);
    // Once the projections show he left, an update of that channel is refused (409).
    await waitFor(
      async () => (await call("is_present", { channel: "kitchen", user: "dave" })).present === false,
      { what: "dave gone from the kitchen's presence" },
    );
    await expect(call("update", { user: "dave", conn: "d", channel: "kitchen", data: {} })).rejects.toThrow(
      /409/,
    );

    // dave idles into away (heartbeats are not activity), then comes back.
    await call("heartbeat", { user: "dave", conn: "d" });
    await waitUntil("dave away", () => statusesOf("dave").includes("away"), 8000);
    await call("update_user_status", { users: ["dave"] });
    await waitUntil("dave back", () => statusesOf("dave").at(-1) === "online");
    expect(statusesOf("dave")).toEqual(["online", "away", "online"]);

    // Queries, answered from the projections.
    await waitFor(
      async () => {
        const r = await call("presence", { channel: "lobby.main" });
        const members = r.members as { user: string; conn: string; data: unknown }[];
        return (
          members.some((m) => m.user === "bob" && (m.data as { n?: number }).n === 3) &&
          !members.some((m) => m.user === "carol")
        );
      },
      { what: "presence of lobby.main settled" },
    );
    const presence = (await call("presence", { channel: "lobby.main" })).members as {
      user: string;
      conn: string;
      data: unknown;
    }[];
    expect(presence.map((m) => [m.user, m.conn])).toEqual([
      ["alice", "tab 1"],
      ["alice", "tab 2"],
      ["bob", "b2"],
    ]);
    expect(presence[0]?.data).toEqual({ role: "host" });
    expect(await call("presence_stats", { channel: "lobby.main" })).toEqual({ num_clients: 3, num_users: 2 });
    expect(await call("channel_users", { channel: "lobby.main" })).toEqual({ users: ["alice", "bob"] });
    expect(await call("user_channels", { user: "alice" })).toEqual({ channels: ["lobby.main"] });
    expect(await call("is_present", { channel: "lobby.main", user: "frank ✈" })).toEqual({ present: false });

    // alice clicks something (she would be away by now otherwise).
    await call("update_user_status", { users: ["alice"] });
    const query = ["frank ✈", "alice", "carol", "nobody"];
    let statuses: Record<string, unknown>[] = [];
    let asked = { before: 0, after: 0 };
    await waitFor(
      async () => {
        const before = Date.now();
        statuses = (await call("get_user_status", { users: query })).statuses as Record<string, unknown>[];
        asked = { before, after: Date.now() };
        return statuses[1]?.status === "online";
      },
      { what: "alice active again" },
    );
    expect(statuses.map((s) => [s.user, s.status])).toEqual([
      ["frank ✈", "offline"],
      ["alice", "online"],
      ["carol", "offline"],
      ["nobody", "offline"],
    ]);
    expect(statuses[0]).toEqual({ user: "frank ✈", status: "offline" });
    // Connected: `online` is the time of the answer (CONTRACT §4), in seconds.
    expect(statuses[1]?.online).toBeGreaterThanOrEqual(Math.floor(asked.before / 1000));
    expect(statuses[1]?.online).toBeLessThanOrEqual(Math.floor(asked.after / 1000));
    expect(statuses[2]?.online).toBeTypeOf("number");
    expect(statuses[3]).toEqual({ user: "nobody", status: "offline" });
    const trusted = (await call("get_user_status", { users: ["frank ✈"], include_hidden: true }))
      .statuses as {
      status: string;
      manual?: { status: string };
    }[];
    // Trusted callers see the truth: connected (online, or away by now), and invisible.
    expect(trusted[0]?.manual).toEqual({ status: "invisible" });
    expect(["online", "away"]).toContain(trusted[0]?.status);

    // The KV projection, as a trusted service reads it (user reader).
    const kv = await new Kvm(reader).open(buckets.status);
    const alice = (await kv.get(encodeToken("alice")))?.json<StatusDoc>();
    expect(alice).toMatchObject({ user: "alice", status: "online", conns: 2 });
    const frank = (await kv.get(encodeToken("frank ✈")))?.json<StatusDoc>();
    expect(frank).toMatchObject({ status: "offline", hidden: true, actual: { status: trusted[0]?.status } });
    expect(frank).not.toHaveProperty("online");

    // Evening: alice closes both tabs; carol's stored times are deleted.
    await call("disconnect", { user: "alice", conn: "tab 1" });
    await call("disconnect", { user: "alice", conn: "tab 2" });
    await waitUntil("alice offline", () => statusesOf("alice").at(-1) === "offline");
    const aliceLeaves = channelEvents("lobby.main", "alice").filter((e) => e.type === "leave");
    expect(aliceLeaves.map((e) => [e.reason, e.last ?? false])).toEqual([
      ["disconnect", false],
      ["disconnect", true],
    ]);
    await call("delete_user_status", { users: ["carol"] });
    await waitFor(async () => (await kv.get(encodeToken("carol")))?.operation === "DEL", {
      what: "carol forgotten",
    });
    const carol = (await call("get_user_status", { users: ["carol"] })).statuses;
    expect(carol).toEqual([{ user: "carol", status: "offline" }]);

    // History, from the events stream: carol's day, and what others saw at a past moment.
    const history = (await call("history", { user: "carol" })).events as Ev[];
    expect(history.map((e) => e.status)).toEqual(["online", "offline"]);
    expect(history).toEqual(userEvents("carol"));
    const lobby = (await call("history", { channel: "lobby.main", limit: 2 })).events as Ev[];
    expect(lobby).toEqual(channelEvents("lobby.main").slice(0, 2));
    const at = (history[1]?.at_ms as number) - 1;
    expect(await call("status_at", { users: ["carol", "nobody"], at_ms: at })).toEqual({
      statuses: [
        { user: "carol", status: "online" },
        { user: "nobody", status: "offline" },
      ],
    });

    // bob never flapped; nothing was delivered twice; each user's events are in time order.
    expect(statusesOf("bob")[0]).toBe("online");
    expect(statusesOf("bob")).not.toContain("offline");
    expect(new Set(events.map((x) => x.raw)).size).toBe(events.length);
    for (const user of ["alice", "bob", "carol", "dave", "erin"]) {
      const times = userEvents(user).map((e) => e.at_ms);
      expect(times).toEqual([...times].sort((a, b) => a - b));
    }
  });
});
