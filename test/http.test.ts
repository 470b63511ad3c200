/**
 * The HTTP API of CONTRACT.md §7 and the operations of §9, against nats-server and the three
 * workers as processes, with real HTTP requests (Node's fetch, keep-alive): every method over
 * HTTP answers what the same request over NATS answers; the API key in each header form;
 * error modes; batches; bad input gets a clean 4xx, never a 500; `/metrics` parses as
 * Prometheus text and its counters move with traffic; `/health` follows nats-server going away
 * and coming back; and a gateway that cannot listen as configured does not start.
 */
import { createServer } from "node:net";
import { COMPONENTS, subjects } from "@herald/protocol";
import { EXIT_CONFIG } from "@herald/runtime";
import { NatsServer, WorkerProcess, waitFor } from "@herald/testkit";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scrape } from "./support/metrics.js";

const KEY = "test-key-0123456789abcdef";
const JSON_HEADERS = { "content-type": "application/json", "x-api-key": KEY };

interface Reply {
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

const errorOf = (reply: Record<string, unknown> | undefined) =>
  reply?.error as { code: number; message: string } | undefined;

describe("the HTTP API", () => {
  let server: NatsServer;
  let nc: NatsConnection;
  let base: string;
  const workers: WorkerProcess[] = [];
  let gateway: WorkerProcess;

  const viaNats = async (method: string, body: string): Promise<Reply> =>
    (await nc.request(subjects.method(method), body, { timeout: 10_000 })).json<Reply>();
  const post = (path: string, body: string, headers: Record<string, string> = JSON_HEADERS) =>
    fetch(`${base}${path}`, { method: "POST", body, headers });
  const viaHttp = async (method: string, body: string): Promise<Reply> => {
    const res = await post(`/api/${method}`, body);
    expect(res.status).toBe(200);
    return (await res.json()) as Reply;
  };
  const ok = async (method: string, params: unknown) => {
    const r = await viaHttp(method, JSON.stringify(params));
    if (r.error !== undefined) throw new Error(`${method}: ${r.error.code} ${r.error.message}`);
    return r.result ?? {};
  };

  beforeAll(async () => {
    server = await NatsServer.start({ auth: true });
    for (const name of COMPONENTS) {
      workers.push(
        WorkerProcess.spawn(name, {
          NATS_URL: server.urlFor(name),
          PRESENCE_GRACE_MS: "200",
          HTTP_API_KEY: KEY,
          HERALD_CLIENT_RATE: "1000000",
          HERALD_USER_RATE: "1000000",
          ...(name === "gateway" ? {} : { METRICS_ADDR: "127.0.0.1:0" }),
        }),
      );
    }
    gateway = workers[0] as WorkerProcess;
    expect(gateway.name).toBe("gateway");
    await Promise.all(workers.map((w) => w.waitForOutput(/"msg":"started"/)));
    base = await gateway.httpUrl();
    nc = await connect(server.optionsFor("client"));
    await waitFor(async () => (await fetch(`${base}/health`)).status === 200, { what: "gateway healthy" });
  });

  afterAll(async () => {
    await nc?.close();
    await Promise.all(workers.map((w) => w.stop("SIGTERM")));
    await server?.[Symbol.asyncDispose]();
  });

  describe("every method, over HTTP as over NATS", () => {
    beforeAll(async () => {
      await ok("heartbeat", { user: "ana", conn: "c1", ttl_ms: 60_000 });
      await ok("join", { user: "ana", conn: "c1", channel: "room", data: { seat: 3 } });
      await ok("join", { user: "bo", conn: "c9", channel: "room" });
      await ok("set_status", { user: "bo", status: "dnd", text: "focus" });
      await ok("heartbeat", { user: "cy", conn: "x" });
      await ok("disconnect", { user: "cy", conn: "x" });
      // Every effect is in the view (bo's dnd last, cy offline after grace) before comparing.
      await waitFor(
        async () => {
          const r = await ok("get_user_status", { users: ["bo", "cy"] });
          const [bo, cy] = r.statuses as { status: string; manual?: unknown; online?: number }[];
          // cy known (online stored) and offline: connected, disconnected, grace passed.
          return bo?.manual !== undefined && cy?.status === "offline" && cy.online !== undefined;
        },
        { what: "the commands applied" },
      );
    });

    // `online` is the time of the answer while a conn is live: the two answers may straddle a second.
    const settle = (r: Reply): Reply => JSON.parse(JSON.stringify(r).replace(/"online":\d+/g, '"online":0'));

    const queries: [string, unknown][] = [
      ["get_user_status", { users: ["ana", "bo", "cy", "nobody"] }],
      ["get_user_status", { users: ["bo"], include_hidden: true }],
      ["presence", { channel: "room" }],
      ["presence_stats", { channel: "room" }],
      ["channel_users", { channel: "room" }],
      ["user_channels", { user: "ana" }],
      ["is_present", { channel: "room", user: "bo" }],
      ["history", { channel: "room" }],
      ["history", { user: "cy", limit: 1 }],
      ["status_at", { users: ["ana", "cy"], at_ms: Date.now() }],
    ];
    it.each(queries)("%s %j", async (method, params) => {
      const body = JSON.stringify(params);
      const [http, nats] = await Promise.all([viaHttp(method, body), viaNats(method, body)]);
      expect(http.result).toBeDefined();
      expect(settle(http)).toEqual(settle(nats));
    });

    const refused: [string, string][] = [
      ["heartbeat", '{"user":"","conn":"c"}'],
      ["heartbeat", `{"heartbeats":[${'{"user":"u","conn":"c"},'.repeat(1000)}{"user":"u","conn":"c"}]}`],
      ["disconnect", '{"user":"u"}'],
      ["update_user_status", '{"users":[]}'],
      ["delete_user_status", '{"users":"ana"}'],
      ["join", '{"user":"u","conn":"c","channel":"r","data":[1]}'],
      ["join", `{"user":"u","conn":"c","channel":"r","data":{"x":"${"y".repeat(5000)}"}}`],
      ["update", '{"user":"ana","conn":"c1","channel":"never-joined","data":{}}'],
      ["leave", '{"user":"u","conn":"c","channel":"r","extra":1}'],
      ["set_status", '{"user":"u","status":"busy"}'],
      ["get_user_status", '{"users":["a"],"include_hidden":"yes"}'],
      ["history", '{"user":"u","channel":"c"}'],
      ["no_such_method", "{}"],
      ["presence", "{not json"],
      ["presence", "[]"],
    ];
    it.each(refused)("refuses %s %s the same way", async (method, body) => {
      const [http, nats] = await Promise.all([viaHttp(method, body), viaNats(method, body)]);
      expect(http.error?.code).toBeGreaterThanOrEqual(400);
      expect(http).toEqual(nats);
    });

    it("answers each command {} as over NATS, and its effect is the same", async () => {
      expect(
        await viaHttp("heartbeat", '{"heartbeats":[{"user":"dee","conn":"a"},{"user":"dee","conn":"b"}]}'),
      ).toEqual({
        result: {},
      });
      expect(
        await viaHttp("update", '{"user":"ana","conn":"c1","channel":"room","data":{"seat":4}}'),
      ).toEqual({
        result: {},
      });
      expect(await viaHttp("update_user_status", '{"users":["ana"]}')).toEqual({ result: {} });
      expect(await viaHttp("leave", '{"user":"bo","conn":"c9","channel":"room"}')).toEqual({ result: {} });
      expect(await viaHttp("delete_user_status", '{"users":["cy"]}')).toEqual({ result: {} });
      await waitFor(
        async () => {
          const r = await viaNats("presence", '{"channel":"room"}');
          const members = r.result?.members as { user: string; data: unknown }[];
          return members.length === 1 && JSON.stringify(members[0]?.data) === '{"seat":4}';
        },
        { what: "the update and the leave applied" },
      );
      // delete_user_status forgot cy's stored times; dee's two conns are live.
      const known = async () => {
        const r = await viaNats("get_user_status", '{"users":["dee","cy"]}');
        return ((r.result?.statuses ?? []) as { status: string; online?: number }[]).map(
          (x) => `${x.status}:${x.online !== undefined}`,
        );
      };
      await waitFor(async () => (await known()).join() === "online:true,offline:false", {
        what: "dee online, cy's times forgotten",
      });
    });
  });

  describe("the API key", () => {
    const forms: [string, Record<string, string>, number][] = [
      ["no key", { "content-type": "application/json" }, 401],
      ["a wrong key", { "content-type": "application/json", "x-api-key": `${KEY}x` }, 401],
      ["a key that is a prefix", { "content-type": "application/json", "x-api-key": KEY.slice(0, -1) }, 401],
      ["a bearer token", { "content-type": "application/json", authorization: `Bearer ${KEY}` }, 401],
      ["X-API-Key", { "content-type": "application/json", "x-api-key": KEY }, 200],
      ["Authorization: apikey", { "content-type": "application/json", authorization: `apikey ${KEY}` }, 200],
      ["Authorization: ApiKey", { "content-type": "application/json", authorization: `ApiKey ${KEY}` }, 200],
    ];
    it.each(forms)("%s → HTTP %i", async (_what, headers, status) => {
      const res = await post("/api/presence_stats", '{"channel":"room"}', headers);
      expect(res.status).toBe(status);
      const body = (await res.json()) as Reply;
      if (status === 401) expect(body.error?.message).toMatch(/API key/);
      else expect(body.result).toBeDefined();
    });

    it("a command without the key changes nothing, whatever its error mode", async () => {
      const res = await post("/api/join", '{"user":"mallory","conn":"m","channel":"keyless"}', {
        "content-type": "application/json",
        "x-error-mode": "transport",
      });
      expect(res.status).toBe(401);
      // A later command with the key is applied; the keyless one before it never was.
      await ok("join", { user: "trent", conn: "t", channel: "keyless" });
      await waitFor(
        async () => (await ok("channel_users", { channel: "keyless" })).users?.toString() === "trent",
        {
          what: "trent's join",
        },
      );
      expect(await ok("user_channels", { user: "mallory" })).toEqual({ channels: [] });
    });

    it("/health and /metrics need no key", async () => {
      expect((await fetch(`${base}/health`)).status).toBe(200);
      expect((await fetch(`${base}/metrics`)).status).toBe(200);
    });

    it("the key in the query string is for the Centrifugo layer only", async () => {
      const res = await post(`/api/presence_stats?api_key=${KEY}`, '{"channel":"room"}', {
        "content-type": "application/json",
      });
      expect(res.status).toBe(401);
    });
  });

  describe("error modes", () => {
    const cases: [string, string, number][] = [
      ["presence", '{"channel":""}', 400],
      ["no_such_method", "{}", 404],
      ["update", '{"user":"ana","conn":"c1","channel":"not-joined","data":{}}', 409],
      ["join", `{"user":"u","conn":"c","channel":"r","data":{"x":"${"y".repeat(5000)}"}}`, 413],
    ];
    it.each(cases)(
      "%s %s: HTTP 200 by default, HTTP %i in transport mode, same body",
      async (method, body, code) => {
        const plain = await post(`/api/${method}`, body);
        const transport = await post(`/api/${method}`, body, {
          ...JSON_HEADERS,
          "x-error-mode": "transport",
        });
        expect(plain.status).toBe(200);
        expect(transport.status).toBe(code);
        const [a, b] = [(await plain.json()) as Reply, (await transport.json()) as Reply];
        expect(a.error?.code).toBe(code);
        expect(b).toEqual(a);
      },
    );
  });

  describe("batch", () => {
    const batch = async (body: unknown, headers: Record<string, string> = JSON_HEADERS) => {
      const res = await post("/api/batch", JSON.stringify(body), headers);
      return {
        status: res.status,
        body: (await res.json()) as { replies?: Record<string, unknown>[] } & Reply,
      };
    };

    it("runs commands in order and answers one reply each, errors in place", async () => {
      const { status, body } = await batch({
        commands: [
          { join: { user: "eve", conn: "e", channel: "batch-room" } },
          { update: { user: "eve", conn: "e", channel: "batch-room", data: { n: 1 } } },
          { update: { user: "eve", conn: "e", channel: "other-room", data: { n: 1 } } },
          { no_such_method: {} },
          { presence_stats: { channel: "" } },
          { join: {}, leave: {} },
          "join",
          { batch: { commands: [] } },
          { is_present: { channel: "batch-room", user: "nobody" } },
        ],
      });
      expect(status).toBe(200);
      const replies = body.replies ?? [];
      expect(replies).toHaveLength(9);
      expect(replies[0]).toEqual({ join: {} });
      // The update was decided after the join was applied: sequential.
      expect(replies[1]).toEqual({ update: {} });
      expect(errorOf(replies[2])?.code).toBe(409);
      expect(errorOf(replies[3])?.code).toBe(404);
      expect(errorOf(replies[4])?.code).toBe(400);
      expect(errorOf(replies[5])?.message).toMatch(/exactly one key/);
      expect(errorOf(replies[6])?.code).toBe(400);
      expect(errorOf(replies[7])?.message).toMatch(/cannot hold a batch/);
      expect(replies[8]).toEqual({ is_present: { present: false } });
    });

    it("runs them at once with parallel, still one reply each in order", async () => {
      const users = Array.from({ length: 50 }, (_, i) => `par-${i}`);
      const { body } = await batch({
        parallel: true,
        commands: [
          ...users.map((user) => ({ heartbeat: { user, conn: "p" } })),
          { leave: { user: "x", conn: "y" } },
          { get_user_status: { users: ["ana"] } },
        ],
      });
      const replies = body.replies ?? [];
      expect(replies.slice(0, 50)).toEqual(users.map(() => ({ heartbeat: {} })));
      expect(errorOf(replies[50])?.code).toBe(400);
      expect(Object.keys(replies[51] ?? {})).toEqual(["get_user_status"]);
    });

    it("refuses a batch of more than 1000 commands (413), or of the wrong shape (400), following the error mode", async () => {
      const big = { commands: Array.from({ length: 1001 }, () => ({ presence_stats: { channel: "r" } })) };
      expect((await batch(big)).body.error?.code).toBe(413);
      const transport = await batch(big, { ...JSON_HEADERS, "x-error-mode": "transport" });
      expect(transport.status).toBe(413);
      for (const bad of [
        [],
        { commands: {} },
        { commands: [], parallel: "yes" },
        { commands: [], extra: 1 },
      ]) {
        expect((await batch(bad)).body.error?.code).toBe(400);
      }
    });
  });

  describe("bad input", () => {
    const cases: [string, string, string, Record<string, string>, number, RegExp][] = [
      ["malformed JSON", "POST", "/api/presence", JSON_HEADERS, 400, /not valid JSON/],
      ["wrong types", "POST", "/api/presence", JSON_HEADERS, 400, /channel/],
      ["deep nesting", "POST", "/api/join", JSON_HEADERS, 400, /.+/],
      [
        "a text body",
        "POST",
        "/api/presence",
        { "content-type": "text/plain", "x-api-key": KEY },
        400,
        /Content-Type/,
      ],
      [
        "a form body",
        "POST",
        "/api/presence",
        { "content-type": "application/x-www-form-urlencoded", "x-api-key": KEY },
        400,
        /Content-Type/,
      ],
      ["an unknown route", "POST", "/nothing/here", JSON_HEADERS, 404, /no route/],
      ["GET of a method", "GET", "/api/presence", { "x-api-key": KEY }, 404, /no route/],
      ["PUT of a method", "PUT", "/api/presence", JSON_HEADERS, 404, /no route/],
    ];
    const bodies: Record<string, string | undefined> = {
      "malformed JSON": '{"channel": "room"',
      "wrong types": '{"channel": 42}',
      "deep nesting": `{"user":"u","conn":"c","channel":"r","data":${'{"a":'.repeat(5000)}1${"}".repeat(5000)}}`,
      "a text body": '{"channel":"room"}',
      "a form body": "channel=room",
      "an unknown route": "{}",
      "PUT of a method": "{}",
    };
    it.each(cases)(
      "%s → HTTP %i … in transport mode, a clean error otherwise",
      async (what, method, path, headers, status, message) => {
        const body = bodies[what];
        const res = await fetch(`${base}${path}`, {
          method,
          headers: { ...headers, "x-error-mode": "transport" },
          ...(body !== undefined ? { body } : {}),
        });
        expect(res.status).toBe(status);
        const reply = (await res.json()) as Reply;
        expect(reply.error?.code).toBe(status);
        expect(reply.error?.message).toMatch(message);
      },
    );

    it("a body over 1 MiB is 413, as over NATS", async () => {
      const huge = `{"channel":"${"x".repeat(1024 * 1024)}"}`;
      const plain = await post("/api/presence", huge);
      expect(plain.status).toBe(200);
      expect(((await plain.json()) as Reply).error?.code).toBe(413);
      const transport = await post("/api/presence", huge, { ...JSON_HEADERS, "x-error-mode": "transport" });
      expect(transport.status).toBe(413);
    });

    it("the legacy Centrifugo endpoint refuses a line that is not UTF-8 (107) and serves the others; over 1 MiB is 107", async () => {
      const body = Buffer.concat([
        Buffer.from('{"method":"presence_stats","params":{"channel":"'),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('"}}\n{"method":"presence_stats","params":{"channel":"room"}}'),
      ]);
      const res = await fetch(`${base}/centrifugo/api`, {
        method: "POST",
        headers: { "x-api-key": KEY },
        body,
      });
      const [bad, good] = (await res.text()).split("\n").map((l) => JSON.parse(l) as Reply);
      expect(bad?.error).toEqual({ code: 107, message: "body is not valid UTF-8" });
      expect(good?.result).toBeDefined();
      const huge = `{"method":"info","params":{"pad":"${"x".repeat(1024 * 1024)}"}}`;
      const over = await fetch(`${base}/centrifugo/api`, {
        method: "POST",
        headers: { "x-api-key": KEY },
        body: huge,
      });
      expect(over.status).toBe(200);
      expect(((await over.json()) as Reply).error?.code).toBe(107);
    });

    it("an empty body is {} (then the params are checked)", async () => {
      const res = await fetch(`${base}/api/presence`, { method: "POST", headers: { "x-api-key": KEY } });
      expect(((await res.json()) as Reply).error?.message).toMatch(/channel/);
    });

    it("no request made the gateway answer 500", async () => {
      const m = await scrape(base);
      const statuses = m.families
        .find((f) => f.name === "herald_http_requests_total")
        ?.metrics.map((s) => s.labels?.status);
      expect(statuses).toContain("400");
      expect(statuses).not.toContain("500");
    });
  });

  describe("/metrics", () => {
    it("is Prometheus text, names prefixed herald_, with the metrics of CONTRACT.md §9", async () => {
      const m = await scrape(base);
      const names = m.families.map((f) => f.name);
      expect(names.every((n) => n.startsWith("herald_"))).toBe(true);
      for (const name of [
        "herald_commands_accepted_total",
        "herald_commands_rejected_total",
        "herald_queries_total",
        "herald_query_duration_seconds",
        "herald_users",
        "herald_conns",
        "herald_websocket_connections",
        "herald_append_batch_commands",
        "herald_http_requests_total",
        "herald_http_request_duration_seconds",
        "herald_process_cpu_seconds_total",
        "herald_nodejs_eventloop_lag_seconds",
      ]) {
        expect(names).toContain(name);
      }
      for (const f of m.families.filter((f) => f.type === "COUNTER")) expect(f.name).toMatch(/_total$/);
      const lag = m.families.find((f) => f.name === "herald_consumer_pending_messages");
      expect(lag?.metrics.map((s) => s.labels?.consumer).sort()).toEqual([
        "presence_members",
        "presence_status",
      ]);
    });

    it("counts commands, refusals and queries as they happen", async () => {
      const before = await scrape(base);
      for (let i = 0; i < 7; i++) await ok("heartbeat", { user: "metered", conn: `c${i}` });
      for (let i = 0; i < 3; i++) await viaHttp("join", '{"user":"metered","conn":"c0"}');
      // Over NATS too: one dispatcher, one set of counters.
      for (let i = 0; i < 2; i++) await viaNats("presence_stats", '{"channel":"metered"}');
      const after = await scrape(base);
      const delta = (name: string, labels: Record<string, string>) =>
        after.value(name, labels) - before.value(name, labels);
      expect(delta("herald_commands_accepted_total", { method: "heartbeat" })).toBe(7);
      expect(delta("herald_commands_rejected_total", { method: "join", code: "400" })).toBe(3);
      expect(delta("herald_queries_total", { method: "presence_stats", code: "200" })).toBeGreaterThanOrEqual(
        2,
      );
      await waitFor(async () => (await scrape(base)).value("herald_conns") >= 7, { what: "conns gauge" });
    });

    it("presence-actor and status-projector serve theirs on METRICS_ADDR, with their own metrics", async () => {
      const of = (name: string) => workers.find((w) => w.name === name) as WorkerProcess;
      const actor = await of("presence-actor").httpUrl();
      const projector = await of("status-projector").httpUrl();
      for (const url of [actor, projector]) expect((await fetch(`${url}/health`)).status).toBe(200);
      const a = await scrape(actor);
      expect(a.families[0]?.metrics[0]?.labels?.component).toBe("presence-actor");
      expect(a.value("herald_partitions_owned")).toBe(16);
      expect(a.value("herald_events_emitted_total", { type: "join" })).toBeGreaterThan(0);
      expect(a.value("herald_events_emitted_total", { type: "status" })).toBeGreaterThan(0);
      expect(a.value("herald_facts_emitted_total")).toBeGreaterThan(0);
      expect(a.families.map((f) => f.name)).toEqual(
        expect.arrayContaining([
          "herald_consumer_pending_messages",
          "herald_group_commit_outputs",
          "herald_dead_letters_total",
        ]),
      );
      // Every fact the actor stored is projected, eventually: the projector's counter catches up.
      await waitFor(
        async () =>
          (await scrape(projector)).value("herald_facts_projected_total") >=
          a.value("herald_facts_emitted_total"),
        { what: "the projector's facts" },
      );
      const p = await scrape(projector);
      expect(p.families[0]?.metrics[0]?.labels?.component).toBe("status-projector");
      expect(p.value("herald_kv_writes_total")).toBeGreaterThan(0);
    });

    it("a presence-actor holding no partition is a standby: /health 503 saying so", async () => {
      await using standby = WorkerProcess.spawn("presence-actor", {
        NATS_URL: server.urlFor("presence-actor"),
        METRICS_ADDR: "127.0.0.1:0",
      });
      const url = await standby.httpUrl();
      await standby.waitForOutput(/"msg":"started"/);
      const res = await fetch(`${url}/health`);
      expect(res.status).toBe(503);
      expect(((await res.json()) as Reply).error?.message).toMatch(/holds no partition/);
      expect((await scrape(url)).value("herald_partitions_owned")).toBe(0);
    });
  });

  describe("/health", () => {
    it("turns 503 naming the reason when nats-server stops, and 200 when it returns", async () => {
      expect((await fetch(`${base}/health`)).status).toBe(200);
      await server.stop();
      const down = await waitFor(
        async () => {
          const res = await fetch(`${base}/health`);
          return res.status === 503 ? ((await res.json()) as Reply) : undefined;
        },
        { what: "health 503", timeoutMs: 20_000 },
      );
      expect(down.error?.message).toMatch(/NATS/);
      await server.start();
      await waitFor(async () => (await fetch(`${base}/health`)).status === 200, {
        what: "health 200 again",
        timeoutMs: 30_000,
      });
      // And the API works again.
      await waitFor(
        async () => (await viaHttp("presence_stats", '{"channel":"room"}')).result !== undefined,
        {
          what: "the API answering again",
          timeoutMs: 30_000,
        },
      );
    });
  });
});

describe("a gateway that cannot listen as configured", () => {
  it("stops at start naming HTTP_ADDR when the port is in use, and HTTP_API_KEY on a public address without one", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      // NATS is not even needed: both are refused before connecting.
      const env = { NATS_URL: "nats://127.0.0.1:1" };
      const inUse = WorkerProcess.spawn("gateway", { ...env, HTTP_ADDR: `127.0.0.1:${port}` });
      expect((await inUse.waitExit()).code).toBe(EXIT_CONFIG);
      expect(inUse.output).toMatch(new RegExp(`HTTP_ADDR: 127\\.0\\.0\\.1:${port} is in use`));
      const open = WorkerProcess.spawn("gateway", { ...env, HTTP_ADDR: "0.0.0.0:0" });
      expect((await open.waitExit()).code).toBe(EXIT_CONFIG);
      expect(open.output).toMatch(
        /HTTP_API_KEY: must be set when HTTP_ADDR \(0\.0\.0\.0:0\) is not a loopback address/,
      );
      const bad = WorkerProcess.spawn("gateway", { ...env, HTTP_ADDR: "8000" });
      expect((await bad.waitExit()).code).toBe(EXIT_CONFIG);
      expect(bad.output).toMatch(/HTTP_ADDR: must be host:port/);
    } finally {
      taken.close();
    }
  });

  it("two gateways on one machine each listen on their own HTTP_ADDR; off opens none", async () => {
    await using server = await NatsServer.start();
    await using a = WorkerProcess.spawn("gateway", { NATS_URL: server.url });
    await using b = WorkerProcess.spawn("gateway", { NATS_URL: server.url });
    await using off = WorkerProcess.spawn("gateway", { NATS_URL: server.url, HTTP_ADDR: "off" });
    const [ua, ub] = await Promise.all([a.httpUrl(), b.httpUrl()]);
    expect(ua).not.toBe(ub);
    await off.waitForOutput(/"msg":"started"/);
    expect(off.output).not.toMatch(/HTTP listening/);
    for (const url of [ua, ub]) {
      await waitFor(async () => (await fetch(`${url}/health`)).status === 200, { what: `${url} healthy` });
    }
  });
});
