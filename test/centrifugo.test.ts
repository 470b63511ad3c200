/**
 * Herald's Centrifugo server-API layer (CONTRACT.md §7) against nats-server and the three workers
 * as processes, driven by the real Centrifugo server-API client from npm (cent.js 6.1.0) pointed
 * at `<gateway>/centrifugo/api` exactly as an application points it at Centrifugo: user status
 * (Centrifugo PRO's update/get/delete_user_status), presence with Centrifugo's client ids and
 * chan_info, presence_stats, info (one node, counts that follow the joins), batch and the legacy
 * newline-separated pipeline (replies in order), and every error as cent.js surfaces it, with
 * Centrifugo's codes (108 not served, 104 unknown method, 107 bad request, 111 rate limited, HTTP
 * 401 for a wrong key). Plain fetch covers what cent.js cannot send: `?api_key=`, other key
 * headers, and the transport error mode (`X-Centrifugo-Error-Mode: transport`).
 */
import { hostname } from "node:os";
import { COMPONENTS } from "@herald/protocol";
import { NatsServer, WorkerProcess, waitFor } from "@herald/testkit";
import { CentClient, CentException, CentMethods } from "cent.js";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

const KEY = "centrifugo-test-key-0123456789";
/** HERALD_USER_RATE: one update_user_status naming a user more often than this is refused (429). */
const USER_RATE = 50;

interface CentrifugoError {
  code: number;
  message: string;
}
interface UserStatus {
  user: string;
  status: string;
  online?: number;
  active?: number;
}
interface NodeInfo {
  uid: string;
  name: string;
  version: string;
  uptime: number;
  num_clients: number;
  num_users: number;
  num_channels: number;
}

/** A caller for a method cent.js has no typed method for. */
type Caller = (params?: object) => Promise<Record<string, unknown>>;

/**
 * cent.js 6.1.0 knows only Centrifugo OSS methods (no PRO user status, no batch), but every typed
 * method of it is `methodFactory(<name>)`: a POST to `<url>/<name>` that throws CentException on
 * `error` and resolves `result`. That factory is private in its typings, so it is reached through
 * a cast: the same code path as `getPresence`, for any method name.
 */
function method(client: CentClient, name: string): Caller {
  return (client as unknown as { methodFactory(name: string): Caller }).methodFactory(name);
}

/** One HTTP exchange, as the client that made it saw it. */
interface Exchange {
  url: string;
  status: number;
  body: string;
}

describe("the Centrifugo server API, through cent.js", () => {
  let server: NatsServer;
  const workers: WorkerProcess[] = [];
  let gateway: WorkerProcess;
  let base: string;
  let api: string;
  let cent: CentClient;
  let startedAt: number;
  /** Every response fetch (cent.js's included) received, in order. */
  const exchanges: Exchange[] = [];

  const post = (path: string, body: string, headers: Record<string, string>) =>
    fetch(`${base}${path}`, { method: "POST", body, headers });
  const keyed = { "content-type": "application/json", "x-api-key": KEY };
  const transport = { ...keyed, "x-centrifugo-error-mode": "transport" };

  /** Herald's own API (§7), for setting up state the Centrifugo layer does not write. */
  const herald = async (name: string, params: unknown): Promise<Record<string, unknown>> => {
    const res = await post(`/api/${name}`, JSON.stringify(params), keyed);
    expect(res.status).toBe(200);
    const reply = (await res.json()) as { result?: Record<string, unknown>; error?: CentrifugoError };
    if (reply.result === undefined) throw new Error(`${name}: ${JSON.stringify(reply.error)}`);
    return reply.result;
  };

  /**
   * Runs a cent.js call that must fail and returns the response cent.js read. cent.js 6.1.0 throws
   * `new CentException(res.error)`, and Error's constructor turns that {code, message} object into
   * the string "[object Object]": the exception itself carries no code, so the code is read from
   * the very response cent.js parsed.
   */
  const centFailure = async (call: () => Promise<unknown>): Promise<{ status: number; body: unknown }> => {
    const before = exchanges.length;
    const outcome = await call().then(
      (value) => ({ value }),
      (err: unknown) => ({ err }),
    );
    expect(outcome).toHaveProperty("err");
    const err = (outcome as { err: unknown }).err;
    expect(err).toBeInstanceOf(CentException);
    expect((err as Error).message).toBe("[object Object]");
    expect(exchanges).toHaveLength(before + 1);
    const seen = exchanges[before] as Exchange;
    return { status: seen.status, body: JSON.parse(seen.body) };
  };

  const statuses = async (users: string[]): Promise<UserStatus[]> =>
    (await method(cent, "get_user_status")({ users })).statuses as UserStatus[];

  beforeAll(async () => {
    const realFetch = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const res = await realFetch(input, init);
      exchanges.push({ url: String(input), status: res.status, body: await res.clone().text() });
      return res;
    });

    server = await NatsServer.start({ auth: true });
    startedAt = Date.now();
    for (const name of COMPONENTS) {
      workers.push(
        WorkerProcess.spawn(name, {
          NATS_URL: server.urlFor(name),
          HTTP_API_KEY: KEY,
          HERALD_CLIENT_RATE: "1000000",
          HERALD_USER_RATE: String(USER_RATE),
        }),
      );
    }
    gateway = workers[0] as WorkerProcess;
    expect(gateway.name).toBe("gateway");
    await Promise.all(workers.map((w) => w.waitForOutput(/"msg":"started"/)));
    base = await gateway.httpUrl();
    await waitFor(async () => (await fetch(`${base}/health`)).status === 200, { what: "gateway healthy" });
    api = `${base}/centrifugo/api`;
    cent = new CentClient({ url: api, apiKey: KEY });

    // Members, joined through Herald's own API: user ids with a '.' and a space (Centrifugo client
    // ids are token(user).token(conn)), members with and without data. Conns live for the test.
    await herald("heartbeat", {
      heartbeats: [
        { user: "ana.b", conn: "tab 1", ttl_ms: 600_000 },
        { user: "ana.b", conn: "tab 2", ttl_ms: 600_000 },
        { user: "bo", conn: "b1", ttl_ms: 600_000 },
      ],
    });
    await herald("join", { user: "ana.b", conn: "tab 1", channel: "room", data: { seat: 3, role: "host" } });
    await herald("join", { user: "ana.b", conn: "tab 2", channel: "room" });
    await herald("join", { user: "bo", conn: "b1", channel: "room", data: {} });
    await herald("join", { user: "bo", conn: "b1", channel: "lobby", data: { topic: "x" } });
    await waitFor(
      async () => {
        const room = (await herald("presence", { channel: "room" })).members as unknown[];
        const lobby = (await herald("presence", { channel: "lobby" })).members as unknown[];
        return room.length === 3 && lobby.length === 1;
      },
      { what: "the joins in the view" },
    );
  });

  afterAll(async () => {
    vi.restoreAllMocks();
    await Promise.all(workers.map((w) => w.stop("SIGTERM")));
    await server?.[Symbol.asyncDispose]();
  });

  it("update_user_status sets the active time; get_user_status answers in request order", async () => {
    const t0 = Math.floor(Date.now() / 1000);
    expect(await method(cent, "update_user_status")({ users: ["yan", "zed"] })).toEqual({});
    const order = ["zed", "nobody", "ana.b", "yan"];
    const got = await waitFor(
      async () => {
        const s = await statuses(order);
        return s[0]?.active !== undefined && s[3]?.active !== undefined ? s : undefined;
      },
      { what: "yan and zed active" },
    );
    const now = Math.ceil(Date.now() / 1000);
    expect(got.map((s) => s.user)).toEqual(order);
    const [zed, nobody, ana, yan] = got as [UserStatus, UserStatus, UserStatus, UserStatus];
    for (const s of [zed, yan]) {
      // Activity without a conn: offline, never online, active now (it may lag by up to 5 s).
      expect(s.status).toBe("offline");
      expect(s.online).toBeUndefined();
      expect(s.active).toBeGreaterThanOrEqual(t0 - 5);
      expect(s.active).toBeLessThanOrEqual(now);
    }
    expect(nobody).toEqual({ user: "nobody", status: "offline" });
    expect(ana.status).toBe("online");
    expect(ana.online).toBeGreaterThanOrEqual(t0);
    expect(ana.online).toBeLessThanOrEqual(now);
    expect(ana.active).toBeLessThanOrEqual(now);
  });

  it("delete_user_status forgets the named users' times, and only theirs", async () => {
    await waitFor(async () => (await statuses(["yan"]))[0]?.active !== undefined, { what: "yan active" });
    expect(await method(cent, "delete_user_status")({ users: ["yan"] })).toEqual({});
    const [yan, zed] = await waitFor(
      async () => {
        const s = await statuses(["yan", "zed"]);
        return s[0]?.active === undefined ? s : undefined;
      },
      { what: "yan forgotten" },
    );
    expect(yan).toEqual({ user: "yan", status: "offline" });
    expect(zed?.active).toBeTypeOf("number");
  });

  it("presence answers Centrifugo's client ids, with chan_info only for members with data", async () => {
    expect(await cent.getPresence({ channel: "room" })).toEqual({
      presence: {
        "ana=2Eb.tab=201": { client: "ana=2Eb.tab=201", user: "ana.b", chan_info: { seat: 3, role: "host" } },
        "ana=2Eb.tab=202": { client: "ana=2Eb.tab=202", user: "ana.b" },
        "bo.b1": { client: "bo.b1", user: "bo" },
      },
    });
    expect(await cent.getPresence({ channel: "lobby" })).toEqual({
      presence: { "bo.b1": { client: "bo.b1", user: "bo", chan_info: { topic: "x" } } },
    });
    expect(await cent.getPresence({ channel: "nobody-here" })).toEqual({ presence: {} });
  });

  it("presence_stats counts clients and users", async () => {
    expect(await cent.getPresenceStats({ channel: "room" })).toEqual({ num_clients: 3, num_users: 2 });
    expect(await cent.getPresenceStats({ channel: "lobby" })).toEqual({ num_clients: 1, num_users: 1 });
    expect(await cent.getPresenceStats({ channel: "nobody-here" })).toEqual({ num_clients: 0, num_users: 0 });
  });

  it("info lists the one gateway as a node, with the clients, users and channels joined", async () => {
    // 3 conns (ana.b's two tabs, bo's b1), 2 online users (yan and zed are offline), 2 channels.
    const { nodes } = await waitFor(
      async () => {
        const info = await cent.getInfo();
        const n = info.nodes[0] as unknown as NodeInfo | undefined;
        return n?.num_clients === 3 && n.num_users === 2 && n.num_channels === 2 ? info : undefined;
      },
      { what: "info counting the joins" },
    );
    expect(nodes).toHaveLength(1);
    const node = nodes[0] as unknown as NodeInfo;
    expect(Object.keys(node).sort()).toEqual(
      ["name", "num_channels", "num_clients", "num_users", "uid", "uptime", "version"].sort(),
    );
    expect(node.name).toBe(`${hostname()}:${gateway.pid}`);
    expect(node.uid).toMatch(/^\S+$/);
    expect(node.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(Number.isInteger(node.uptime)).toBe(true);
    expect(node.uptime).toBeGreaterThanOrEqual(0);
    expect(node.uptime).toBeLessThanOrEqual(Math.ceil((Date.now() - startedAt) / 1000));
  });

  describe("batch", () => {
    const commands = [
      { presence_stats: { channel: "room" } },
      { get_user_status: { users: ["zed", "nobody"] } },
      { publish: { channel: "room", data: {} } },
      { no_such_method: {} },
      { presence: { channel: "lobby" } },
      { update_user_status: { users: [] } },
    ];
    const code = (n: number) => ({ error: { code: n, message: expect.any(String) } });
    const expected = [
      { presence_stats: { num_clients: 3, num_users: 2 } },
      {
        get_user_status: {
          statuses: [
            { user: "zed", status: "offline", active: expect.any(Number) },
            { user: "nobody", status: "offline" },
          ],
        },
      },
      code(108),
      code(104),
      { presence: { presence: { "bo.b1": { client: "bo.b1", user: "bo", chan_info: { topic: "x" } } } } },
      code(107),
    ];

    it("answers top-level {replies}, which cent.js's method path cannot read", async () => {
      // cent.js resolves `res.result ?? {}`; Centrifugo's batch answer has no `result`.
      const before = exchanges.length;
      expect(await method(cent, "batch")({ commands })).toEqual({});
      const seen = exchanges[before] as Exchange;
      expect(seen.url).toBe(`${api}/batch`);
      expect(seen.status).toBe(200);
      expect(JSON.parse(seen.body)).toEqual({ replies: expected });
    });

    it("answers the same in parallel and in transport error mode (per-command errors stay replies)", async () => {
      const res = await post(
        "/centrifugo/api/batch",
        JSON.stringify({ commands, parallel: true }),
        transport,
      );
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ replies: expected });
    });

    it("refuses a malformed batch as a whole: 107", async () => {
      const res = await post("/centrifugo/api/batch", JSON.stringify({ commands: {} }), keyed);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual(code(107));
    });
  });

  it("answers the legacy pipeline one line per command, in order, with no trailing newline", async () => {
    const before = exchanges.length;
    const replies = await cent.pipeline([
      { method: CentMethods.Presence, params: { channel: "room" } },
      { method: CentMethods.PresenceStats, params: { channel: "lobby" } },
      { method: CentMethods.Publish, params: { channel: "room", data: {} } },
      { method: CentMethods.Info, params: {} },
      // A PRO method: cent.js types only its OSS methods, the wire format is the same.
      { method: "get_user_status" as CentMethods, params: { users: ["nobody"] } as never },
    ]);
    const seen = exchanges[before] as Exchange;
    expect(seen.url).toBe(api);
    expect(seen.status).toBe(200);
    expect(seen.body.endsWith("\n")).toBe(false);
    const lines = seen.body.split("\n").map((line) => JSON.parse(line));
    expect(lines).toHaveLength(5);
    expect(lines[2]).toEqual({ error: { code: 108, message: expect.stringContaining("publish") } });
    // cent.js keeps only each line's `result`: the publish error becomes undefined.
    expect(replies).toHaveLength(5);
    expect(replies[0]).toEqual({
      presence: {
        "ana=2Eb.tab=201": { client: "ana=2Eb.tab=201", user: "ana.b", chan_info: { seat: 3, role: "host" } },
        "ana=2Eb.tab=202": { client: "ana=2Eb.tab=202", user: "ana.b" },
        "bo.b1": { client: "bo.b1", user: "bo" },
      },
    });
    expect(replies[1]).toEqual({ num_clients: 1, num_users: 1 });
    expect(replies[2]).toBeUndefined();
    expect((replies[3] as { nodes: NodeInfo[] }).nodes.map((n) => n.num_clients)).toEqual([3]);
    expect(replies[4]).toEqual({ statuses: [{ user: "nobody", status: "offline" }] });
  });

  describe("errors, as cent.js surfaces them", () => {
    it("a Centrifugo method Herald does not serve: 108", async () => {
      for (const call of [
        () => cent.publish({ channel: "room", data: { text: "hi" } }),
        () => cent.getHistory({ channel: "room" }),
        () => cent.getChannels({ pattern: "*" }),
      ]) {
        expect(await centFailure(call)).toEqual({
          status: 200,
          body: { error: { code: 108, message: expect.any(String) } },
        });
      }
    });

    it("an unknown method: 104", async () => {
      expect(await centFailure(() => method(cent, "no_such_method")({}))).toEqual({
        status: 200,
        body: { error: { code: 104, message: expect.any(String) } },
      });
    });

    it("bad params: 107, naming the field", async () => {
      for (const [call, field] of [
        [() => cent.getPresence({ channel: "" }), "channel"],
        [() => cent.getPresenceStats({} as { channel: string }), "channel"],
        [() => method(cent, "update_user_status")({ users: [] }), "users"],
        [() => method(cent, "get_user_status")({ users: ["a"], include_hidden: "yes" }), "include_hidden"],
      ] as const) {
        expect(await centFailure(call)).toEqual({
          status: 200,
          body: { error: { code: 107, message: expect.stringContaining(field) } },
        });
      }
    });

    it("a user over HERALD_USER_RATE: 111", async () => {
      const users = Array.from({ length: USER_RATE + 1 }, () => "flood");
      expect(await centFailure(() => method(cent, "update_user_status")({ users }))).toEqual({
        status: 200,
        body: { error: { code: 111, message: expect.stringContaining("rate limited") } },
      });
    });

    it("a wrong API key: HTTP 401 with a JSON error, which cent.js throws as a CentException", async () => {
      const wrong = new CentClient({ url: api, apiKey: `${KEY}x` });
      expect(await centFailure(() => wrong.getInfo())).toEqual({
        status: 401,
        body: { error: { code: 401, message: expect.stringContaining("API key") } },
      });
      // The pipeline reads only `result` of each line: cent.js resolves the refusal to [undefined].
      const before = exchanges.length;
      expect(await wrong.pipeline([{ method: CentMethods.Info, params: {} }])).toEqual([undefined]);
      expect(exchanges[before]?.status).toBe(401);
    });
  });

  describe("API keys and the transport error mode, with plain fetch", () => {
    const stats = JSON.stringify({ channel: "room" });
    const ok = { result: { num_clients: 3, num_users: 2 } };

    it("takes the key as ?api_key=, X-API-Key or Authorization: apikey", async () => {
      const json = { "content-type": "application/json" };
      let res = await post(`/centrifugo/api/presence_stats?api_key=${KEY}`, stats, json);
      expect([res.status, await res.json()]).toEqual([200, ok]);
      res = await post(`/centrifugo/api/presence_stats?api_key=${KEY}x`, stats, json);
      expect(res.status).toBe(401);
      res = await post("/centrifugo/api/presence_stats", stats, json);
      expect(res.status).toBe(401);
      res = await post("/centrifugo/api/presence_stats", stats, { ...json, authorization: `apikey ${KEY}` });
      expect([res.status, await res.json()]).toEqual([200, ok]);
      res = await post(
        `/centrifugo/api?api_key=${KEY}`,
        '{"method":"presence_stats","params":{"channel":"room"}}',
        {},
      );
      expect([res.status, await res.text()]).toEqual([200, JSON.stringify(ok)]);
    });

    it("takes ?api_key= when the header's key is wrong, as Centrifugo does (cent.js without apiKey)", async () => {
      // cent.js always sends X-API-Key: with no apiKey configured that is the string "undefined",
      // and Centrifugo then falls back to the URL's api_key.
      const res = await post(`/centrifugo/api/presence_stats?api_key=${KEY}`, stats, {
        "x-api-key": "undefined",
      });
      expect([res.status, await res.json()]).toEqual([200, ok]);
      const byQuery = new CentClient({ url: `${api}?api_key=${KEY}` });
      expect(
        await byQuery.pipeline([{ method: CentMethods.PresenceStats, params: { channel: "room" } }]),
      ).toEqual([ok.result]);
    });

    it("answers errors with Centrifugo's HTTP status and a bare {code, message}", async () => {
      const cases: [string, string, number, number][] = [
        ["publish", '{"channel":"room","data":{}}', 400, 108],
        ["no_such_method", "{}", 404, 104],
        ["presence", '{"channel":""}', 400, 107],
        ["presence", "{not json", 400, 107],
        ["update_user_status", JSON.stringify({ users: Array(USER_RATE + 1).fill("flood") }), 429, 111],
        // 113 → 409 cannot be provoked here: no method the Centrifugo layer serves can conflict
        // (Herald's only 409 is `update` of a channel not joined, which Centrifugo has no method for).
      ];
      for (const [name, body, status, code] of cases) {
        const res = await post(`/centrifugo/api/${name}`, body, transport);
        expect([name, res.status, await res.json()]).toEqual([
          name,
          status,
          { code, message: expect.any(String) },
        ]);
      }
    });

    it("keeps 200 for results in transport mode, and ignores Herald's own X-Error-Mode", async () => {
      let res = await post("/centrifugo/api/presence_stats", stats, transport);
      expect([res.status, await res.json()]).toEqual([200, ok]);
      res = await post("/centrifugo/api/publish", "{}", { ...keyed, "x-error-mode": "transport" });
      expect([res.status, await res.json()]).toEqual([
        200,
        { error: { code: 108, message: expect.any(String) } },
      ]);
    });
  });
});
