/**
 * The WebSocket edge of CONTRACT.md §8 against nats-server, two gateways, presence-actor and
 * status-projector as processes, with real WebSocket clients (`ws`) and HS256 tokens signed with
 * jose: connect and every method; the errors (401 before connect, bad and expired tokens, 403
 * outside the token's claims, 429 over the socket's rate, 413 over its limits, frames too large);
 * pushes after a consistent snapshot; interval pushes of a large channel; token expiry and
 * refresh; a closed socket leaving at once; a client moving to the other gateway with the same
 * conn causing no offline flap; a slow consumer closed instead of buffered for; a peer that stops
 * answering pings dropped, one that answers kept.
 */
import { COMPONENTS } from "@herald/protocol";
import { NatsServer, WorkerProcess, waitFor } from "@herald/testkit";
import { connect } from "@nats-io/transport-node";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Push, signToken, WsClient } from "./support/ws-client.js";

const SECRET = "a-test-secret-of-at-least-32-bytes!!";
const KEY = "test-key-0123456789abcdef";
const MAX_MEMBERS = 3;
const GRACE_MS = 2000;
/** The ttl of gateway C, which so pings every second (min(20 s, ttl / 3)). */
const SHORT_TTL_MS = 3000;

describe("the WebSocket edge", () => {
  let server: NatsServer;
  const workers: WorkerProcess[] = [];
  let gwA: string;
  let gwB: string;
  let gwC: string;
  const sockets: WsClient[] = [];
  /** A socket that never connects, opened first (see "within 10 s"). */
  let idle: { socket: WsClient; openedAt: number };

  const token = (sub: string, claims: Record<string, unknown> = {}, expiresInS = 3600) =>
    signToken(SECRET, sub, claims, expiresInS);
  /** A socket connected as `user` to gateway `url`. */
  const connected = async (
    user: string,
    opts: { url?: string; conn?: string; claims?: Record<string, unknown> } = {},
  ) => {
    const c = await WsClient.open(opts.url ?? gwA);
    sockets.push(c);
    const result = await c.ok("connect", {
      token: await token(user, opts.claims),
      ...(opts.conn !== undefined ? { conn: opts.conn } : {}),
    });
    return { c, result };
  };
  const api = async (method: string, params: unknown) => {
    const res = await fetch(`${gwA}/api/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": KEY },
      body: JSON.stringify(params),
    });
    const body = (await res.json()) as { result?: Record<string, unknown>; error?: { message: string } };
    if (body.error !== undefined) throw new Error(`${method}: ${body.error.message}`);
    return body.result ?? {};
  };
  const pushesOf = (c: WsClient, type: string, pred: (p: Push) => boolean = () => true) =>
    c.pushes.filter((p) => p.type === type && pred(p));

  beforeAll(async () => {
    server = await NatsServer.start({ auth: true });
    const env = {
      CLIENT_TOKEN_HMAC_SECRET: SECRET,
      HTTP_API_KEY: KEY,
      CHANNEL_EVENTS_MAX_MEMBERS: String(MAX_MEMBERS),
      CHANNEL_INTERVAL_MS: "300",
      PRESENCE_GRACE_MS: String(GRACE_MS),
      HERALD_USER_RATE: "100000",
      HERALD_CLIENT_RATE: "100000",
    };
    for (const name of [...COMPONENTS, "gateway"] as const) {
      workers.push(WorkerProcess.spawn(name, { ...env, NATS_URL: server.urlFor(name) }));
    }
    const shortTtl = { ...env, PRESENCE_TTL_MS: String(SHORT_TTL_MS), NATS_URL: server.urlFor("gateway") };
    workers.push(WorkerProcess.spawn("gateway", shortTtl));
    await Promise.all(workers.map((w) => w.waitForOutput(/"msg":"started"/)));
    const gateways = workers.filter((w) => w.name === "gateway");
    [gwA, gwB, gwC] = (await Promise.all(gateways.map((g) => g.httpUrl()))) as [string, string, string];
    for (const url of [gwA, gwB, gwC]) {
      await waitFor(async () => (await fetch(`${url}/health`)).status === 200, { what: `${url} healthy` });
    }
    idle = { socket: await WsClient.open(gwA), openedAt: Date.now() };
  });

  afterAll(async () => {
    for (const c of sockets) c.ws.terminate();
    await Promise.all(workers.map((w) => w.stop("SIGTERM")));
    await server?.[Symbol.asyncDispose]();
  });

  describe("connect", () => {
    it("answers {user, conn, ttl_ms}, with a conn made up when none is given, and the user is online", async () => {
      const { result } = await connected("cora", { conn: "tab-1" });
      expect(result).toEqual({ user: "cora", conn: "tab-1", ttl_ms: 30_000 });
      const { result: other } = await connected("cora");
      expect(typeof other.conn).toBe("string");
      expect(other.conn).not.toBe("tab-1");
      await waitFor(
        async () => {
          const r = await api("get_user_status", { users: ["cora"] });
          return (r.statuses as { status: string }[])[0]?.status === "online";
        },
        { what: "cora online" },
      );
    });

    it("refuses a method before connect (401) and closes 4401", async () => {
      const c = await WsClient.open(gwA);
      const r = await c.call("join", { channel: "x" });
      expect(r.error?.code).toBe(401);
      expect((await c.closed).code).toBe(4401);
    });

    const bad: [string, () => Promise<unknown>][] = [
      ["garbage", async () => "not.a.jwt"],
      ["a wrong secret", () => signToken("another-secret-that-is-32-bytes-long", "eve")],
      ["an expired token", () => token("eve", {}, -60)],
      [
        "no exp",
        () =>
          new SignJWT({})
            .setProtectedHeader({ alg: "HS256" })
            .setSubject("eve")
            .sign(new TextEncoder().encode(SECRET)),
      ],
      [
        "HS384",
        () =>
          new SignJWT({})
            .setProtectedHeader({ alg: "HS384" })
            .setSubject("eve")
            .setExpirationTime("1h")
            .sign(new TextEncoder().encode(SECRET)),
      ],
      ["a bad channels claim", () => token("eve", { channels: "room" })],
      ["no token", async () => undefined],
    ];
    it.each(bad)("refuses %s with 401 and closes 4401", async (_what, make) => {
      const c = await WsClient.open(gwA);
      const t = await make();
      const r = await c.call("connect", t === undefined ? {} : { token: t });
      expect(r.error?.code).toBe(401);
      expect((await c.closed).code).toBe(4401);
    });

    it("refuses params naming the user or another field", async () => {
      const c = await WsClient.open(gwA);
      sockets.push(c);
      expect((await c.call("connect", { token: await token("eve"), user: "mallory" })).error?.code).toBe(400);
      await c.ok("connect", { token: await token("eve") });
      const r = await c.call("join", { channel: "r", user: "mallory" });
      expect(r.error?.code).toBe(400);
      expect(r.error?.message).toMatch(/own user/);
      expect((await c.call("connect", { token: await token("eve") })).error?.message).toMatch(
        /already connected/,
      );
      expect((await c.call("no_such_method", {})).error?.code).toBe(404);
    });
  });

  describe("methods and pushes", () => {
    it("join, update, leave, activity and set_status act for the connected user; a subscriber sees them after its snapshot", async () => {
      const { c: sub } = await connected("sam");
      const { c: ada, result } = await connected("ada", { conn: "a1" });
      await ada.ok("join", { channel: "lobby", data: { seat: 1 } });
      await waitFor(
        async () => ((await api("presence", { channel: "lobby" })).members as unknown[]).length === 1,
        {
          what: "ada in the lobby",
        },
      );
      const snapshot = await sub.ok("subscribe", { channel: "lobby" });
      expect(snapshot.members).toEqual([
        expect.objectContaining({ user: "ada", conn: result.conn, data: { seat: 1 } }),
      ]);
      await ada.ok("update", { channel: "lobby", data: { seat: 2 } });
      await ada.ok("activity");
      await ada.ok("set_status", { status: "dnd", text: "busy" });
      await ada.ok("leave", { channel: "lobby" });
      const events = await waitFor(() => (sub.pushes.length >= 2 ? sub.pushes : undefined), {
        what: "pushes",
      });
      expect(events.map((p) => [p.type, p.user, p.data, p.reason])).toEqual([
        ["update", "ada", { seat: 2 }, undefined],
        ["leave", "ada", undefined, "leave"],
      ]);
      const r = await api("get_user_status", { users: ["ada"] });
      expect((r.statuses as { manual?: unknown }[])[0]?.manual).toEqual({ status: "dnd", text: "busy" });
      await sub.ok("unsubscribe", { channel: "lobby" });
      await ada.ok("join", { channel: "lobby" });
      await waitFor(
        async () => ((await api("presence", { channel: "lobby" })).members as unknown[]).length === 1,
        {
          what: "ada back in the lobby",
        },
      );
      expect(sub.pushes).toHaveLength(2);
    });

    it("presence, presence_stats and get_user_status answer as the API does", async () => {
      const { c } = await connected("quinn");
      await c.ok("join", { channel: "q-room", data: { a: 1 } });
      await waitFor(
        async () => ((await c.ok("presence_stats", { channel: "q-room" })).num_clients as number) === 1,
        {
          what: "quinn counted",
        },
      );
      expect(await c.ok("presence", { channel: "q-room" })).toEqual(
        await api("presence", { channel: "q-room" }),
      );
      const mine = (await c.ok("get_user_status", { users: ["quinn"] })).statuses as { status: string }[];
      expect(mine[0]?.status).toBe("online");
    });

    it("watch answers the statuses now, then pushes status changes; unwatch stops them", async () => {
      const { c: watcher } = await connected("wanda");
      const first = await watcher.ok("watch", { users: ["vic", "nobody"] });
      expect(first.statuses).toEqual([
        { user: "vic", status: "offline" },
        { user: "nobody", status: "offline" },
      ]);
      const { c: vic } = await connected("vic");
      await waitFor(() => pushesOf(watcher, "status", (p) => p.user === "vic" && p.status === "online")[0], {
        what: "vic online pushed",
      });
      vic.close();
      await waitFor(() => pushesOf(watcher, "status", (p) => p.user === "vic" && p.status === "offline")[0], {
        what: "vic offline pushed after grace",
      });
      await watcher.ok("unwatch", { users: ["vic"] });
      const before = watcher.pushes.length;
      await connected("vic");
      await waitFor(
        async () =>
          ((await api("get_user_status", { users: ["vic"] })).statuses as { status: string }[])[0]?.status ===
          "online",
        { what: "vic online again" },
      );
      expect(watcher.pushes.length).toBe(before);
    });

    it("a closed socket leaves its channels at once (reason disconnect)", async () => {
      const { c: sub } = await connected("sid");
      await sub.ok("subscribe", { channel: "door" });
      const { c: leaver } = await connected("lou");
      await leaver.ok("join", { channel: "door" });
      await waitFor(() => pushesOf(sub, "join")[0], { what: "lou's join" });
      const t0 = Date.now();
      leaver.close();
      const left = await waitFor(() => pushesOf(sub, "leave")[0], { what: "lou's leave", timeoutMs: 5000 });
      expect(left.reason).toBe("disconnect");
      expect(Date.now() - t0).toBeLessThan(1000);
    });

    it("a snapshot and the pushes after it, taken while members come and go, add up to the channel", async () => {
      // Never more than MAX_MEMBERS members: single pushes, not intervals.
      const joiners = await Promise.all(
        Array.from({ length: MAX_MEMBERS }, (_, i) => connected(`race-${i}`)),
      );
      const { c: sub } = await connected("ria");
      // Joins in flight while the subscription is taken.
      const joining = Promise.all(joiners.map(({ c }, i) => c.ok("join", { channel: "race", data: { i } })));
      const snapshot = (await sub.ok("subscribe", { channel: "race" })).members as {
        user: string;
        conn: string;
      }[];
      await joining;
      await Promise.all(joiners.slice(0, 1).map(({ c }) => c.ok("leave", { channel: "race" })));
      const expected = async () =>
        ((await api("presence", { channel: "race" })).members as { user: string; conn: string }[])
          .map((m) => `${m.user}/${m.conn}`)
          .sort();
      await waitFor(async () => (await expected()).length === MAX_MEMBERS - 1, {
        what: "the members left in the view",
      });
      // Fold the snapshot and the pushes: the same members, with no duplicate join.
      const seen = await waitFor(
        () => {
          const members = new Set(snapshot.map((m) => `${m.user}/${m.conn}`));
          for (const p of sub.pushes) {
            const key = `${p.user}/${p.conn}`;
            if (p.type === "join") {
              if (members.has(key)) throw new Error(`join of ${key} pushed after the snapshot had it`);
              members.add(key);
            } else if (p.type === "leave") members.delete(key);
          }
          return members.size === MAX_MEMBERS - 1 ? [...members].sort() : undefined;
        },
        { what: "snapshot + pushes = the members" },
      );
      expect(seen).toEqual(await expected());
    });
  });

  describe("large channels", () => {
    it(`above ${MAX_MEMBERS} members a subscriber gets interval pushes with what joined and left`, async () => {
      const { c: sub } = await connected("ivy");
      await sub.ok("subscribe", { channel: "big" });
      const members = await Promise.all(
        Array.from({ length: MAX_MEMBERS + 2 }, (_, i) => connected(`big-${i}`)),
      );
      for (const { c } of members) await c.ok("join", { channel: "big" });
      const interval = await waitFor(() => pushesOf(sub, "interval")[0], { what: "an interval push" });
      expect(interval).toMatchObject({ channel: "big", left: [], updated: [] });
      expect((interval.joined as unknown[]).length).toBeGreaterThan(0);
      const joinedSingly = pushesOf(sub, "join").length;
      expect(joinedSingly + (interval.joined as unknown[]).length).toBeLessThanOrEqual(MAX_MEMBERS + 2);
      const m0 = members[0] as { c: WsClient };
      await m0.c.ok("leave", { channel: "big" });
      const withLeave = await waitFor(
        () => pushesOf(sub, "interval", (p) => (p.left as unknown[]).length > 0)[0],
        {
          what: "an interval push with the leave",
        },
      );
      expect(withLeave.left).toEqual([expect.objectContaining({ user: "big-0", reason: "leave" })]);
      expect(withLeave).toMatchObject({ num_clients: MAX_MEMBERS + 1, num_users: MAX_MEMBERS + 1 });
    });
  });

  describe("token claims, refresh and expiry", () => {
    it("403 for a channel outside `channels` and a user outside `watch`, for every method that names one", async () => {
      const { c } = await connected("tess", { claims: { channels: ["ok-room"], watch: ["friend"] } });
      for (const [method, params] of [
        ["join", { channel: "other" }],
        ["update", { channel: "other", data: {} }],
        ["leave", { channel: "other" }],
        ["subscribe", { channel: "other" }],
        ["presence", { channel: "other" }],
        ["presence_stats", { channel: "other" }],
        ["watch", { users: ["friend", "stranger"] }],
        ["get_user_status", { users: ["stranger"] }],
      ] as const) {
        expect((await c.call(method, params)).error?.code, method).toBe(403);
      }
      expect((await c.call("join", { channel: "ok-room" })).result).toEqual({});
      expect((await c.call("watch", { users: ["friend"] })).result).toBeDefined();
    });

    it("refresh takes a new token of the same user; another user's is 403 and changes nothing", async () => {
      const { c } = await connected("rhea", { claims: { channels: ["r1"] } });
      expect((await c.call("refresh", { token: await token("someone-else") })).error?.code).toBe(403);
      expect((await c.call("join", { channel: "r2" })).error?.code).toBe(403);
      expect((await c.call("refresh", { token: await token("rhea", { channels: ["r2"] }) })).result).toEqual(
        {},
      );
      expect((await c.call("join", { channel: "r2" })).result).toEqual({});
    });

    it("closes 4401 when the token expires without a refresh, and stays open with one", async () => {
      const expiring = await WsClient.open(gwA);
      const refreshed = await WsClient.open(gwA);
      sockets.push(expiring, refreshed);
      await expiring.ok("connect", { token: await token("exp-1", {}, 2) });
      await refreshed.ok("connect", { token: await token("exp-2", {}, 2) });
      await refreshed.ok("refresh", { token: await token("exp-2", {}, 60) });
      const closed = await expiring.closed;
      expect(closed).toEqual({ code: 4401, reason: "token expired" });
      expect(refreshed.ws.readyState).toBe(refreshed.ws.OPEN);
      expect((await refreshed.call("activity")).result).toEqual({});
    });
  });

  describe("limits", () => {
    it("a frame over 64 KiB closes the socket (1009)", async () => {
      const { c } = await connected("fred");
      c.ws.send(JSON.stringify({ id: 1, method: "activity", params: { pad: "x".repeat(70 * 1024) } }));
      expect((await c.closed).code).toBe(1009);
    });

    it("over its rate a socket gets 429 and changes nothing more", async () => {
      const { c } = await connected("rita");
      const t0 = Date.now();
      const replies = await Promise.all(Array.from({ length: 80 }, () => c.call("activity")));
      const elapsedS = (Date.now() - t0) / 1000;
      const limited = replies.filter((r) => r.error?.code === 429);
      expect(limited.length).toBeGreaterThan(0);
      expect(limited[0]?.error?.message).toMatch(/rate limited/);
      // A bucket of 50 that refills at 50 a second while the burst is served.
      expect(replies.filter((r) => r.result !== undefined).length).toBeLessThanOrEqual(
        50 + Math.ceil(50 * elapsedS),
      );
    });

    it("subscriptions and watched users per socket are bounded (413)", async () => {
      const { c } = await connected("lim");
      for (let i = 0; i < 16; i++) await c.ok("subscribe", { channel: `s-${i}` });
      expect((await c.call("subscribe", { channel: "s-16" })).error?.code).toBe(413);
      expect((await c.call("subscribe", { channel: "s-0" })).result).toBeDefined();
      const users = Array.from({ length: 1000 }, (_, i) => `w-${i}`);
      await c.ok("watch", { users });
      expect((await c.call("watch", { users: ["w-1000"] })).error?.code).toBe(413);
    });

    it("a socket that does not connect within 10 s is closed (4401)", async () => {
      // Opened before the other tests, so this one waits for what is left of the 10 s.
      const closed = await idle.socket.closed;
      expect(closed.code).toBe(4401);
      expect(closed.reason).toMatch(/no connect within 10000 ms/);
      expect(Date.now() - idle.openedAt).toBeGreaterThan(9000);
    }, 20_000);

    it("a client that does not read its pushes is closed as a slow consumer, not buffered for", async () => {
      const { c: slow } = await connected("sloth");
      await slow.ok("subscribe", { channel: "firehose" });
      // Stop reading: the gateway's send buffer for this socket can only grow.
      slow.ws.pause();
      // Members joined over the HTTP API (few: single pushes), updated in large parallel batches.
      const conns = Array.from({ length: MAX_MEMBERS }, (_, i) => ({ user: `hose-${i}`, conn: "h" }));
      for (const m of conns) await api("join", { ...m, channel: "firehose" });
      let n = 0;
      const update = () => {
        const { user, conn } = conns[n % conns.length] as { user: string; conn: string };
        return { update: { user, conn, channel: "firehose", data: { blob: "y".repeat(3900), n: n++ } } };
      };
      const closed = await waitFor(
        async () => {
          await api("batch", { parallel: true, commands: Array.from({ length: 200 }, update) });
          const text = await fetch(`${gwA}/metrics`).then((r) => r.text());
          return /herald_websocket_closed_total\{code="4408"/.test(text) || undefined;
        },
        { what: "the slow consumer closed", timeoutMs: 30_000 },
      );
      expect(closed).toBe(true);
      // The gateway still serves the others.
      expect((await api("presence_stats", { channel: "firehose" })).num_clients).toBe(MAX_MEMBERS);
    }, 40_000);
  });

  describe("moving between gateways", () => {
    it("a client that reconnects to the other gateway with the same conn within grace causes no offline", async () => {
      const { c: watcher } = await connected("otto", { url: gwB });
      await watcher.ok("watch", { users: ["mover"] });
      const { c: first } = await connected("mover", { conn: "phone" });
      await first.ok("join", { channel: "moving" });
      await waitFor(() => pushesOf(watcher, "status", (p) => p.status === "online")[0], {
        what: "mover online",
      });
      first.ws.terminate();
      const { c: second } = await connected("mover", { url: gwB, conn: "phone" });
      await second.ok("join", { channel: "moving" });
      // Longer than the grace: an offline would have been pushed by now.
      const until = Date.now() + GRACE_MS + 1500;
      await waitFor(() => Date.now() > until, { what: "grace passed", timeoutMs: GRACE_MS + 5000 });
      expect(pushesOf(watcher, "status", (p) => p.user === "mover").map((p) => p.status)).toEqual(["online"]);
      const r = await api("get_user_status", { users: ["mover"] });
      expect((r.statuses as { status: string }[])[0]?.status).toBe("online");
    }, 20_000);
  });

  describe("dead peers", () => {
    it("a socket that stops answering pings is dropped within two ping intervals and its conn times out; one that answers stays", async () => {
      const pingMs = SHORT_TTL_MS / 3;
      const deaf = await WsClient.open(gwC, { autoPong: false });
      const live = await WsClient.open(gwC);
      sockets.push(deaf, live);
      const openedAt = Date.now();
      let pings = 0;
      live.ws.on("ping", () => pings++);
      await deaf.ok("connect", { token: await token("deaf"), conn: "deaf-tab" });
      await live.ok("connect", { token: await token("live"), conn: "live-tab" });
      const statuses = async () =>
        ((await api("get_user_status", { users: ["deaf", "live"] })).statuses as { status: string }[]).map(
          (s) => s.status,
        );
      await waitFor(async () => (await statuses()).join() === "online,online", { what: "both online" });
      const { code } = await deaf.closed;
      const after = Date.now() - openedAt;
      expect(code).toBe(1006);
      expect(after).toBeLessThan(2 * pingMs + 800);
      // The live one has answered pings since and is still open.
      await waitFor(() => pings >= 3, { what: "three pings answered", timeoutMs: 4 * pingMs + 2000 });
      expect(live.ws.readyState).toBe(live.ws.OPEN);
      // The dropped socket's conn is left to time out (1006), so the user goes offline after its ttl.
      await waitFor(async () => (await statuses()).join() === "offline,online", {
        what: "deaf offline",
        timeoutMs: SHORT_TTL_MS + 5000,
      });
    }, 20_000);
  });

  it("/metrics counts the open sockets, and each gateway's stats its connected clients", async () => {
    const text = await fetch(`${gwA}/metrics`).then((r) => r.text());
    const open = Number(/herald_websocket_connections\{[^}]*\} (\d+)/.exec(text)?.[1]);
    expect(open).toBeGreaterThan(0);

    const { c } = await connected("counted", { url: gwB });
    const nc = await connect(server.optionsFor("admin"));
    try {
      const clientsOf = async () => {
        const counts: number[] = [];
        const replies = await nc.requestMany("herald.admin.stats.gateway", "", {
          maxMessages: 3,
          maxWait: 5000,
        });
        for await (const m of replies)
          counts.push((m.json() as { websocket_clients: number }).websocket_clients);
        return counts;
      };
      const before = await clientsOf();
      expect(before).toHaveLength(3);
      expect(before.every((n) => Number.isInteger(n) && n >= 0)).toBe(true);
      c.close();
      await c.closed;
      // One fewer in all once the gateway has seen the close.
      const total = (ns: number[]) => ns.reduce((a, b) => a + b, 0);
      await waitFor(async () => total(await clientsOf()) === total(before) - 1, { what: "one client fewer" });
    } finally {
      await nc.close();
    }
  });
});
