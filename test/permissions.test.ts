/**
 * Least-privilege NATS (nats-auth.conf): nats-server with the repository's users, the three
 * workers as processes each connected as its own user, applications as `client`. Each worker
 * does its job with its own permissions (nothing it does is refused: no violation of theirs in
 * the server log); `client` uses the API and live events and is refused everything internal —
 * every forgery below is refused by the server and leaves no trace where it was aimed; `reader`
 * reads presence_status and nothing else; `admin` reads stats and rebuilds the projections; a
 * connection without a password is refused.
 *
 * A forgery is shown to have no effect with a barrier: after it, on the same connection, a real
 * command of a fresh user is sent and its effect awaited. JetStream stores what reaches a stream
 * in order, and the forgery reached the server first, so once the barrier's effect is visible a
 * forgery that had got through would be visible too.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import {
  buckets,
  COMPONENTS,
  consumers,
  encodeCommandBatch,
  encodeFact,
  encodeTick,
  encodeToken,
  headers,
  internalSubjects,
  kvNames,
  objectStoreStream,
  objectStores,
  partitionOf,
  type StatusDoc,
  streams,
  subjects,
} from "@herald/protocol";
import { NatsServer, type NatsUser, repoRoot, WorkerProcess, waitFor } from "@herald/testkit";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import { connect, type NatsConnection, headers as natsHeaders } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const PARTITIONS = 16;
/** Long enough that no timer fires during the test: no clock ticks, no status changes. */
const TTL_MS = 3_600_000;
/** Every stream behind Herald's streams, buckets and object store. */
const ALL_STREAMS = [
  streams.commands,
  streams.events,
  streams.deadLetters,
  kvNames.stream(buckets.status),
  kvNames.stream(buckets.members),
  kvNames.stream(buckets.leases),
  kvNames.stream(buckets.checkpoints),
  objectStoreStream(objectStores.snapshots),
];

interface Reply {
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

/** What the server told a connection it refused, as nats.js reports it. */
function refusals(nc: NatsConnection): string[] {
  const seen: string[] = [];
  void (async () => {
    for await (const s of nc.status()) if (s.type === "error") seen.push(s.error.message);
  })();
  return seen;
}

const refusedPublish = (subject: string) => `Permissions Violation for Publish to "${subject}"`;
const refusedSubscription = (subject: string) => `Permissions Violation for Subscription to "${subject}"`;

/** The server's log line of a refused publish by `user`. */
const violationOf = (user: string, subject: string) =>
  `Publish Violation - User "${user}", Subject "${subject}"`;

async function countOn(jsm: JetStreamManager, stream: string, subject: string): Promise<number> {
  const info = await jsm.streams.info(stream, { subjects_filter: subject });
  return info.state.subjects?.[subject] ?? 0;
}

describe("least-privilege NATS users", () => {
  let server: NatsServer;
  const workers = new Map<string, WorkerProcess>();
  let env: (user: NatsUser) => Record<string, string>;
  /** An application, and what the server refused it. */
  let app: NatsConnection;
  let appRefused: string[];
  let reader: NatsConnection;
  let readerRefused: string[];
  let statusKv: KV;
  let admin: NatsConnection;
  /** The owners' view, for checking what reached their streams. */
  let eventsJsm: JetStreamManager;
  let commandsJsm: JetStreamManager;
  let actorJsm: JetStreamManager;
  let actorNc: NatsConnection;
  let gatewayNc: NatsConnection;
  const observers: NatsConnection[] = [];
  /** Live events the application received. */
  const live: { subject: string; data: string }[] = [];
  let n = 0;
  const fresh = (what: string) => `${what} ${++n} ✓`;

  const call = async (method: string, params: unknown): Promise<Record<string, unknown>> => {
    const m = await app.request(subjects.method(method), JSON.stringify(params), { timeout: 10_000 });
    const reply = m.json<Reply>();
    if (reply.error !== undefined) throw new Error(`${method}: ${reply.error.code} ${reply.error.message}`);
    return reply.result ?? {};
  };
  const statusDoc = async (user: string) => (await statusKv.get(encodeToken(user)))?.json<StatusDoc>();
  /** A fresh user made online by the application, seen in presence_status (see the header). */
  const barrier = async () => {
    const user = fresh("barrier");
    await call("heartbeat", { user, conn: "c", ttl_ms: TTL_MS });
    await waitFor(async () => (await statusDoc(user))?.status === "online", { what: `${user} projected` });
  };
  const statusProjectorNc = async () => {
    const nc = await connect({ ...server.optionsFor("status-projector"), name: "observer-status-projector" });
    observers.push(nc);
    return nc;
  };
  const waitRefused = (seen: string[], message: string) =>
    waitFor(() => seen.includes(message), { what: `the server to refuse: ${message}` });
  const waitLogged = (user: string, subject: string) =>
    waitFor(() => server.log().includes(violationOf(user, subject)), {
      what: `the server to log: ${violationOf(user, subject)}`,
    });

  beforeAll(async () => {
    server = await NatsServer.start({ auth: true });
    env = (user) => ({
      NATS_URL: server.urlFor(user),
      PRESENCE_TTL_MS: String(TTL_MS),
      PRESENCE_GRACE_MS: "1000",
      // Snapshots often, so that writing them is part of the run.
      HERALD_SNAPSHOT_INTERVAL_MS: "200",
      LOG_LEVEL: "info",
    });
    for (const name of COMPONENTS) workers.set(name, WorkerProcess.spawn(name, env(name)));
    await Promise.all([...workers.values()].map((w) => w.waitForOutput(/"msg":"started"/)));

    app = await connect({ ...server.optionsFor("client"), name: "app" });
    appRefused = refusals(app);
    app.subscribe(subjects.allEvents, {
      callback: (_err, m) => {
        live.push({ subject: m.subject, data: m.string() });
      },
    });
    reader = await connect({ ...server.optionsFor("reader"), name: "reader-app" });
    readerRefused = refusals(reader);
    statusKv = await new Kvm(reader).open(buckets.status);
    admin = await connect({ ...server.optionsFor("admin"), name: "operator" });
    const observer = async (user: NatsUser) => {
      const nc = await connect({ ...server.optionsFor(user), name: `observer-${user}` });
      observers.push(nc);
      return nc;
    };
    eventsJsm = await jetstreamManager(admin);
    gatewayNc = await observer("gateway");
    commandsJsm = await jetstreamManager(gatewayNc);
    actorNc = await observer("presence-actor");
    actorJsm = await jetstreamManager(actorNc);
    await waitFor(
      async () => {
        const m = await app.request(subjects.method("get_user_status"), '{"users":["nobody"]}');
        return m.json<Reply>().result !== undefined;
      },
      { what: "gateway ready" },
    );
  });

  afterAll(async () => {
    for (const nc of [app, reader, admin, ...observers]) await nc?.close();
    const exits = await Promise.all(
      [...workers.values()].map(async (w) => [w, await w.stop("SIGTERM")] as const),
    );
    const log = server?.permissionViolations() ?? [];
    await server?.[Symbol.asyncDispose]();
    for (const [w, exit] of exits) expect(exit.code, w.output).toBe(0);
    // The workers' connections (named herald-<component>…) were refused nothing.
    const ofWorkers = log.filter((line) => /"v[\d.]+:nats\.js:herald-/.test(line));
    expect(ofWorkers).toEqual([]);
  });

  it("refuses a connection without a password, or with a wrong one", async () => {
    await expect(connect({ servers: server.url, reconnect: false })).rejects.toThrow(
      /Authorization Violation/,
    );
    await expect(
      connect({ servers: server.url, user: "client", pass: "not-the-password", reconnect: false }),
    ).rejects.toThrow(/Authorization Violation/);
    await expect(
      connect({ servers: server.url, user: "gateway", pass: server.credentials.client, reconnect: false }),
    ).rejects.toThrow(/Authorization Violation/);
  });

  it("serves applications as client: the API, the micro service, live events", async () => {
    const user = fresh("app user");
    await call("heartbeat", { user, conn: "c", ttl_ms: TTL_MS });
    await waitFor(() => live.some((e) => e.subject === subjects.userEvents(user)), {
      what: `${user}'s event`,
    });
    expect(JSON.parse(live.find((e) => e.subject === subjects.userEvents(user))?.data ?? "")).toMatchObject({
      type: "status",
      user,
      status: "online",
    });
    const ping = (await app.request("$SRV.PING.presence", "", { timeout: 5000 })).json<{ name: string }>();
    expect(ping.name).toBe("presence");
    const info = (await app.request("$SRV.INFO.presence", "", { timeout: 5000 })).json<{
      endpoints: { subject: string }[];
    }>();
    expect(info.endpoints.map((e) => e.subject)).toEqual(["presence.api.>"]);
  });

  it("client cannot forge status events or facts: the events stream and live subscribers never get them", async () => {
    const user = fresh("forged");
    const channel = fresh("forged room");
    const forgedEvent = {
      type: "status",
      user,
      status: "online",
      prev: "offline",
      at_ms: Date.now(),
      forged: true,
    };
    const forgedDoc: StatusDoc = { user, status: "online", conns: 1, updated_at_ms: Date.now() };
    const forgeries = [
      [internalSubjects.userEvent(user), JSON.stringify(forgedEvent)],
      [
        internalSubjects.channelEvent(channel),
        JSON.stringify({ type: "join", channel, user, conn: "c", data: {} }),
      ],
      [internalSubjects.userFact(user), encodeFact({ type: "user", user, doc: forgedDoc })],
      [internalSubjects.factNudge, new Uint8Array(0)],
      // The public subjects are the server's to republish, nobody's to publish.
      [subjects.userEvents(user), JSON.stringify(forgedEvent)],
    ] as const;
    for (const [subject, data] of forgeries) app.publish(subject, data);
    for (const [subject] of forgeries) await waitRefused(appRefused, refusedPublish(subject));
    for (const [subject] of forgeries) await waitLogged("client", subject);

    // The real thing, after the forgeries: one status event, stored and delivered once.
    await call("heartbeat", { user, conn: "c", ttl_ms: TTL_MS });
    await waitFor(async () => (await statusDoc(user))?.status === "online", { what: `${user} projected` });
    await waitFor(() => live.some((e) => e.subject === subjects.userEvents(user)), {
      what: `${user}'s event`,
    });
    const mine = live.filter((e) => e.subject === subjects.userEvents(user)).map((e) => JSON.parse(e.data));
    expect(mine).toEqual([expect.objectContaining({ user, status: "online", prev: "offline" })]);
    expect(mine[0]).not.toHaveProperty("forged");
    expect(live.filter((e) => e.subject === subjects.channelEvents(channel))).toEqual([]);
    expect(await countOn(eventsJsm, streams.events, internalSubjects.userEvent(user))).toBe(1);
    expect(await countOn(eventsJsm, streams.events, internalSubjects.userFact(user))).toBe(1);
    expect(await countOn(eventsJsm, streams.events, internalSubjects.channelEvent(channel))).toBe(0);
  });

  it("client cannot write presence_status: with or without Herald-Fact-Seq, nor garbage", async () => {
    const ghost = fresh("kv ghost");
    const real = fresh("kv real");
    await call("heartbeat", { user: real, conn: "c1", ttl_ms: TTL_MS });
    await waitFor(async () => (await statusDoc(real))?.conns === 1, { what: `${real} projected` });

    const doc = (user: string): StatusDoc => ({
      user,
      status: "online",
      conns: 9,
      updated_at_ms: Date.now(),
    });
    const ahead = natsHeaders();
    ahead.set(headers.factSeq, "999999999");
    const purge = natsHeaders();
    purge.set(kvNames.operationHeader, "PURGE");
    const key = (user: string) => kvNames.subject(buckets.status, encodeToken(user));
    app.publish(key(ghost), JSON.stringify(doc(ghost)), { headers: ahead });
    app.publish(key(ghost), JSON.stringify(doc(ghost)));
    app.publish(key(ghost), new Uint8Array([0xc1, 0xff, 0x00]));
    // A value "from a later fact" would make the projector skip the real user's next writes.
    app.publish(key(real), JSON.stringify(doc(real)), { headers: ahead });
    app.publish(key(real), "", { headers: purge });
    app.publish(kvNames.subject(buckets.members, "room.user.conn"), "{}");
    await waitRefused(appRefused, refusedPublish(key(ghost)));
    await waitRefused(appRefused, refusedPublish(key(real)));
    await waitRefused(appRefused, refusedPublish(kvNames.subject(buckets.members, "room.user.conn")));

    // The real user's next change is projected: nothing got in its way.
    await call("heartbeat", { user: real, conn: "c2", ttl_ms: TTL_MS });
    await waitFor(async () => (await statusDoc(real))?.conns === 2, { what: `${real} with 2 conns` });
    // As the projector wrote it: from a fact of the events stream.
    const after = await (await jetstreamManager(reader)).streams.getMessage(kvNames.stream(buckets.status), {
      last_by_subj: key(real),
    });
    expect(after?.json<StatusDoc>()).toMatchObject({ user: real, status: "online", conns: 2 });
    const factSeq = Number(after?.header.get(headers.factSeq));
    expect(factSeq).toBeGreaterThan(0);
    expect(factSeq).toBeLessThanOrEqual((await eventsJsm.streams.info(streams.events)).state.last_seq);
    await barrier();
    expect(await statusKv.get(encodeToken(ghost))).toBeNull();
  });

  it("client cannot append commands or clock ticks", async () => {
    const user = fresh("cmd");
    const forged = fresh("cmd forged");
    const p = partitionOf(user, PARTITIONS);
    const q = partitionOf(forged, PARTITIONS);
    const count = async () => ({
      c: await countOn(commandsJsm, streams.commands, internalSubjects.commands(p)),
      t: await countOn(commandsJsm, streams.commands, internalSubjects.ticks(p)),
      cq: await countOn(commandsJsm, streams.commands, internalSubjects.commands(q)),
    });
    const before = await count();
    const heartbeat = {
      type: "heartbeat" as const,
      user: forged,
      conn: "c",
      ttl_ms: TTL_MS,
      at_ms: Date.now(),
    };
    app.publish(internalSubjects.commands(q), encodeCommandBatch([heartbeat]));
    app.publish(internalSubjects.commands(p), "not msgpack");
    // A tick far ahead would fire every timer of the partition at once.
    app.publish(internalSubjects.ticks(p), encodeTick(Date.now() + 10 * TTL_MS));
    for (const subject of [
      internalSubjects.commands(q),
      internalSubjects.commands(p),
      internalSubjects.ticks(p),
    ])
      await waitRefused(appRefused, refusedPublish(subject));

    await call("heartbeat", { user, conn: "c", ttl_ms: TTL_MS });
    await waitFor(async () => (await statusDoc(user))?.status === "online", { what: `${user} projected` });
    const after = await count();
    expect(after.c).toBe(before.c + 1);
    expect(after.t).toBe(before.t);
    expect(after.cq).toBe(before.cq + (p === q ? 1 : 0));
    await barrier();
    expect(await statusDoc(forged)).toBeUndefined();
    // Nothing reached a stream that a worker had to throw away.
    expect((await actorJsm.streams.info(streams.deadLetters)).state.messages).toBe(0);
  });

  it("client cannot take partition leases or write checkpoints and snapshots", async () => {
    const leases = await new Kvm(actorNc).open(buckets.leases);
    const before = await leases.get("p0");
    expect(before?.json<{ owner: string }>().owner).toMatch(
      new RegExp(`^${workers.get("presence-actor")?.pid}-`),
    );
    const forged = JSON.stringify({ owner: "attacker", expires_at_ms: 253402300799999 });
    const targets = [
      kvNames.subject(buckets.leases, "p0"),
      kvNames.subject(buckets.leases, "o.attacker"),
      kvNames.subject(buckets.checkpoints, "p0"),
      `$O.${objectStores.snapshots}.M.cDA=`,
      `$O.${objectStores.snapshots}.C.forged`,
      internalSubjects.verdicts("anything"),
      internalSubjects.deadLetter("presence-actor"),
    ];
    for (const subject of targets) app.publish(subject, forged);
    for (const subject of targets) await waitRefused(appRefused, refusedPublish(subject));
    // The owner renews its lease (by compare-and-set on the revision) as if nothing happened.
    const renewed = await waitFor(
      async () => {
        const e = await leases.get("p0");
        return e !== null && e.revision > (before?.revision ?? 0) ? e : undefined;
      },
      { what: "the lease of p0 renewed" },
    );
    expect(renewed.json<{ owner: string }>().owner).toBe(before?.json<{ owner: string }>().owner);
    expect(await leases.get("o.attacker")).toBeNull();
  });

  it("client can read no stream, bucket, dead letter or snapshot, presence_status included", async () => {
    const tryApi = async (subject: string) => {
      await expect(app.request(subject, "{}", { timeout: 5000 }), subject).rejects.toThrow(
        refusedPublish(subject),
      );
    };
    for (const api of [
      "$JS.API.INFO",
      "$JS.API.STREAM.NAMES",
      "$JS.API.STREAM.LIST",
      "$JS.API.CONSUMER.CREATE",
    ])
      await tryApi(api);
    for (const stream of ALL_STREAMS) {
      for (const op of [
        "STREAM.INFO",
        "STREAM.MSG.GET",
        "DIRECT.GET",
        "STREAM.PURGE",
        "STREAM.DELETE",
        "STREAM.CREATE",
      ])
        await tryApi(`$JS.API.${op}.${stream}`);
      await tryApi(`$JS.API.CONSUMER.CREATE.${stream}`);
      await tryApi(`$JS.API.CONSUMER.CREATE.${stream}.spy.>`);
      await tryApi(`$JS.API.CONSUMER.DURABLE.CREATE.${stream}.spy`);
    }
    await tryApi(
      `$JS.API.DIRECT.GET.${kvNames.stream(buckets.status)}.${kvNames.subject(buckets.status, "x")}`,
    );
    await tryApi(`$JS.API.CONSUMER.MSG.NEXT.${streams.events}.herald-status-projector`);
    await tryApi(`$JS.API.CONSUMER.DELETE.${streams.events}.herald-status-projector`);
    // As a library would: reading the bucket or the object store is refused.
    await expect((async () => (await new Kvm(app).open(buckets.status)).get("x"))()).rejects.toThrow(
      /Permissions Violation/,
    );
    await expect(
      (async () => (await new Objm(app).open(objectStores.snapshots)).get("p0"))(),
    ).rejects.toThrow(/Permissions Violation/);
  });

  it("client cannot subscribe to anything internal, nor take the API's requests", async () => {
    const denied = [
      ">",
      "herald.>",
      "herald.ev.>",
      "herald.fact.>",
      "herald.cmd.*.c",
      "herald.verdict.*",
      "herald.dlq.>",
      "herald.admin.stats.gateway",
      "$KV.>",
      "$KV.presence_status.>",
      "$JS.>",
      "$JS.EVENT.>",
      "$O.>",
      "$SRV.>",
      "$SRV.PING",
      "presence.api.>",
      "presence.api.heartbeat",
      "_INBOX_gateway.>",
      "_INBOX_reader.>",
    ];
    const closed = denied.map((subject) => app.subscribe(subject).closed);
    // In the gateways' queue group too.
    closed.push(app.subscribe("presence.api.>", { queue: "q" }).closed);
    const results = await Promise.all(closed);
    for (const [i, subject] of denied.entries()) {
      expect(results[i], subject).toBeInstanceOf(Error);
      expect((results[i] as Error).message).toBe(refusedSubscription(subject));
    }
    expect((results.at(-1) as Error).message).toBe(
      `${refusedSubscription("presence.api.>")} using queue "q"`,
    );
    // The API still answers (nobody took its requests).
    expect(await call("presence_stats", { channel: "anything" })).toEqual({ num_clients: 0, num_users: 0 });
  });

  it("a request naming an internal reply subject makes the gateway write nothing there", async () => {
    const user = fresh("reply");
    const targets = [
      internalSubjects.userEvent(user),
      internalSubjects.userFact(user),
      kvNames.subject(buckets.status, encodeToken(user)),
      kvNames.subject(buckets.leases, "p0"),
      internalSubjects.ticks(partitionOf(user, PARTITIONS)),
      // The gateway may publish here itself: it still answers only requesters' inboxes.
      internalSubjects.commands(partitionOf(user, PARTITIONS)),
    ];
    const commandsSubject = internalSubjects.commands(partitionOf(user, PARTITIONS));
    const commandsBefore = await countOn(actorJsm, streams.commands, commandsSubject);
    for (const reply of targets) {
      app.publish(subjects.method("get_user_status"), JSON.stringify({ users: [user] }), { reply });
    }
    // The gateway ignores them (and counts them), writing nothing anywhere.
    await waitFor(
      async () => {
        const stats = await app.request("$SRV.STATS.presence", "", { timeout: 5000 });
        const data = stats.json<{ endpoints: { data?: { bad_reply_subject?: number } }[] }>().endpoints[0]
          ?.data;
        return (data?.bad_reply_subject ?? 0) >= targets.length;
      },
      { what: "the gateway to ignore every request with an internal reply subject" },
    );
    expect(await countOn(actorJsm, streams.commands, commandsSubject)).toBe(commandsBefore);
    await barrier();
    expect(await statusDoc(user)).toBeUndefined();
    expect(await countOn(eventsJsm, streams.events, internalSubjects.userEvent(user))).toBe(0);
    expect(await countOn(eventsJsm, streams.events, internalSubjects.userFact(user))).toBe(0);
    expect(live.filter((e) => e.subject === subjects.userEvents(user))).toEqual([]);
    expect((await actorJsm.streams.info(streams.deadLetters)).state.messages).toBe(0);
  });

  it("an application snooping on _INBOX.> sees none of the workers', reader's or admin's traffic", async () => {
    const snooped: { subject: string; reply: string; data: string; headers: string[] }[] = [];
    const snoop = app.subscribe("_INBOX.>", {
      callback: (_err, m) => {
        snooped.push({
          subject: m.subject,
          reply: m.reply ?? "",
          data: m.string(),
          headers: m.headers === undefined ? [] : [...m.headers.keys()],
        });
      },
    });
    await app.flush();
    // Another application's request: its reply is visible (applications share one user).
    const other = await connect({ ...server.optionsFor("client"), name: "other-app" });
    const ghost = fresh("ghost");
    await other.request(
      subjects.method("heartbeat"),
      JSON.stringify({ user: ghost, conn: "c", ttl_ms: TTL_MS }),
    );
    const answered = (
      await other.request(subjects.method("user_channels"), JSON.stringify({ user: ghost }))
    ).string();
    expect(answered).toBe('{"result":{"channels":[]}}');
    await other.request(subjects.method("set_status"), JSON.stringify({ user: ghost, status: "invisible" }));
    await other.close();
    // The workers project and watch it; reader gets and watches it; admin asks for stats.
    const hidden = await waitFor(
      async () => {
        const d = await statusDoc(ghost);
        return d?.hidden === true ? d : undefined;
      },
      { what: `${ghost} hidden in presence_status` },
    );
    expect(hidden.actual?.status).toBe("online");
    const watch = await statusKv.watch({ key: encodeToken(ghost) });
    for await (const e of watch) if (e.json<StatusDoc>().hidden === true) break;
    for (const c of COMPONENTS) await admin.request(internalSubjects.stats(c), "", { timeout: 5000 });
    await barrier();
    snoop.unsubscribe();

    expect(snooped.map((m) => m.data)).toContain(answered);
    const internal = snooped.filter(
      (m) =>
        m.reply.startsWith("$JS.") ||
        m.headers.some((h) => h.startsWith("Nats-") || h.startsWith("KV-")) ||
        m.data.includes('"hidden"') ||
        m.data.includes("io.nats.jetstream.api.v1") ||
        m.data.includes('"component"'),
    );
    expect(internal).toEqual([]);
  });

  it("reader gets and watches presence_status, and nothing else", async () => {
    const user = fresh("read me");
    await call("heartbeat", { user, conn: "c", ttl_ms: TTL_MS });
    await waitFor(async () => (await statusDoc(user))?.status === "online", { what: `${user} projected` });
    const watch = await statusKv.watch({ key: encodeToken(user) });
    for await (const e of watch) {
      expect(e.json<StatusDoc>()).toMatchObject({ user, status: "online" });
      break;
    }
    const direct = await reader.request(
      `$JS.API.DIRECT.GET.${kvNames.stream(buckets.status)}.${kvNames.subject(buckets.status, encodeToken(user))}`,
      "",
    );
    expect(direct.json<StatusDoc>()).toMatchObject({ user, status: "online" });

    const refused = [
      `$JS.API.STREAM.INFO.${kvNames.stream(buckets.members)}`,
      `$JS.API.STREAM.MSG.GET.${kvNames.stream(buckets.members)}`,
      `$JS.API.DIRECT.GET.${kvNames.stream(buckets.members)}.${kvNames.subject(buckets.members, "x")}`,
      `$JS.API.STREAM.INFO.${streams.events}`,
      `$JS.API.STREAM.MSG.GET.${streams.deadLetters}`,
      `$JS.API.STREAM.MSG.GET.${kvNames.stream(buckets.leases)}`,
      `$JS.API.STREAM.INFO.${objectStoreStream(objectStores.snapshots)}`,
      `$JS.API.STREAM.DELETE.${kvNames.stream(buckets.status)}`,
      `$JS.API.STREAM.PURGE.${kvNames.stream(buckets.status)}`,
      `$JS.API.STREAM.UPDATE.${kvNames.stream(buckets.status)}`,
      `$JS.API.CONSUMER.CREATE.${kvNames.stream(buckets.status)}`,
      internalSubjects.stats("gateway"),
      subjects.method("get_user_status"),
    ];
    for (const subject of refused)
      await expect(reader.request(subject, "{}", { timeout: 5000 }), subject).rejects.toThrow(
        refusedPublish(subject),
      );
    await expect(statusKv.put(encodeToken(user), "{}")).rejects.toThrow(/Permissions Violation/);
    reader.publish(internalSubjects.userEvent(user), "{}");
    await waitRefused(readerRefused, refusedPublish(internalSubjects.userEvent(user)));
    const sub = await reader.subscribe(subjects.allEvents).closed;
    expect((sub as Error).message).toBe(refusedSubscription(subjects.allEvents));
    expect(await statusDoc(user)).toMatchObject({ user, status: "online", conns: 1 });
  });

  it("only the components and admin may ask for stats; admin may, client may not", async () => {
    for (const c of COMPONENTS) {
      const stats = (await admin.request(internalSubjects.stats(c), "", { timeout: 5000 })).json<{
        component: string;
        pid: number;
      }>();
      expect(stats).toMatchObject({ component: c, pid: workers.get(c)?.pid });
      await expect(app.request(internalSubjects.stats(c), "", { timeout: 5000 })).rejects.toThrow(
        refusedPublish(internalSubjects.stats(c)),
      );
    }
  });

  it("admin rebuilds and compares the projections, and cannot touch the live ones", async () => {
    await barrier();
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [`${repoRoot}/packages/status-projector/dist/rebuild-main.js`, "--compare"],
      { env: { PATH: process.env.PATH ?? "", NATS_URL: server.urlFor("admin"), LOG_LEVEL: "warn" } },
    );
    expect(stdout).toMatch(/; compare: no differences$/m);
    expect(stdout).not.toContain(server.credentials.admin);
    const adminRefused = refusals(admin);
    const projector = `${streams.events}.${consumers.projector}`;
    for (const subject of [
      `$JS.API.STREAM.DELETE.${kvNames.stream(buckets.status)}`,
      `$JS.API.STREAM.PURGE.${kvNames.stream(buckets.members)}`,
      `$JS.API.STREAM.DELETE.${streams.events}`,
      `$JS.API.CONSUMER.DELETE.${projector}`,
      `$JS.API.CONSUMER.MSG.NEXT.${projector}`,
      `$JS.API.CONSUMER.CREATE.${projector}.${internalSubjects.allFacts}`,
    ])
      await expect(admin.request(subject, "{}", { timeout: 5000 }), subject).rejects.toThrow(
        refusedPublish(subject),
      );
    const key = kvNames.subject(buckets.status, "x");
    admin.publish(key, "{}");
    await waitRefused(adminRefused, refusedPublish(key));
  });

  it("each component reaches only its own: the gateway's user cannot touch status-projector's consumer or write events", async () => {
    const projector = `${streams.events}.${consumers.projector}`;
    const refused = [
      [gatewayNc, `$JS.API.CONSUMER.DELETE.${projector}`],
      [gatewayNc, `$JS.API.CONSUMER.MSG.NEXT.${projector}`],
      [gatewayNc, `$JS.API.CONSUMER.CREATE.${projector}.${internalSubjects.userEvent("x")}`],
      [gatewayNc, `$JS.API.STREAM.DELETE.${streams.events}`],
      [gatewayNc, `$JS.API.STREAM.MSG.GET.${kvNames.stream(buckets.leases)}`],
      [actorNc, `$JS.API.STREAM.INFO.${kvNames.stream(buckets.status)}`],
      [actorNc, `$JS.API.CONSUMER.CREATE.${projector}.${internalSubjects.allFacts}`],
    ] as const;
    for (const [nc, subject] of refused)
      await expect(nc.request(subject, "{}", { timeout: 5000 }), subject).rejects.toThrow(
        refusedPublish(subject),
      );
    const gatewayRefused = refusals(gatewayNc);
    for (const subject of [
      internalSubjects.userEvent("x"),
      internalSubjects.ticks(0),
      kvNames.subject(buckets.status, "x"),
    ])
      gatewayNc.publish(subject, "{}");
    for (const subject of [
      internalSubjects.userEvent("x"),
      internalSubjects.ticks(0),
      kvNames.subject(buckets.status, "x"),
    ])
      await waitRefused(gatewayRefused, refusedPublish(subject));
    // The projector's consumer is still there, as it was made.
    const info = await (await jetstreamManager(await statusProjectorNc())).consumers.info(
      streams.events,
      consumers.projector,
    );
    expect(info.config.filter_subject).toBe(internalSubjects.allFacts);
  });

  it("presence-actor restarts from its own snapshots with its own user", async () => {
    const user = fresh("snapshot");
    await call("heartbeat", { user, conn: "c", ttl_ms: TTL_MS });
    await waitFor(async () => (await statusDoc(user))?.status === "online", { what: `${user} projected` });
    const old = workers.get("presence-actor") as WorkerProcess;
    expect(await old.stop("SIGTERM")).toMatchObject({ code: 0 });
    const next = WorkerProcess.spawn("presence-actor", env("presence-actor"));
    workers.set("presence-actor", next);
    await next.waitForOutput(/"msg":"started"/);
    await next.waitForOutput(/"snapshotSeq":\d+/);
    // Still online, and the state was restored: a second conn counts 2.
    await call("heartbeat", { user, conn: "c2", ttl_ms: TTL_MS });
    await waitFor(async () => (await statusDoc(user))?.conns === 2, { what: `${user} with 2 conns` });
  });
});
