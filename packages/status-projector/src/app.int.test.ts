import {
  buckets,
  type Config,
  consumers,
  encodeFact,
  encodeToken,
  type Fact,
  headers as heraldHeaders,
  internalSubjects,
  json,
  kvNames,
  loadConfig,
  type MemberDoc,
  type MemberFact,
  memberKey,
  msgpack,
  type StatusDoc,
  streams,
  type UserFact,
} from "@herald/protocol";
import { createRegistry, ensureResources, STOP_TIMEOUT_MS, type WorkerContext } from "@herald/runtime";
import { failTest, NatsServer, waitFor } from "@herald/testkit";
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { type KV, type KvEntry, Kvm } from "@nats-io/kv";
import { headers, type NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { type ProjectorApp, start, startProjector } from "./app.js";
import { tuning } from "./tuning.js";

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });

/** A server with Herald's streams and buckets, a client, and the projectors started on it. */
class Harness implements AsyncDisposable {
  readonly apps: ProjectorApp[] = [];

  private constructor(
    readonly server: NatsServer,
    readonly nc: NatsConnection,
    readonly jsm: JetStreamManager,
    readonly js: JetStreamClient,
    readonly config: Config,
    readonly status: KV,
    readonly members: KV,
  ) {}

  static async start(): Promise<Harness> {
    const server = await NatsServer.start();
    const config = loadConfig({ NATS_URL: server.url });
    const nc = await connect({ servers: server.url });
    const jsm = await jetstreamManager(nc);
    await ensureResources(nc, jsm, config, "presence-actor", log);
    await ensureResources(nc, jsm, config, "status-projector", log);
    const kvm = new Kvm(nc);
    return new Harness(
      server,
      nc,
      jsm,
      jetstream(nc),
      config,
      await kvm.open(buckets.status),
      await kvm.open(buckets.members),
    );
  }

  get ctx(): WorkerContext {
    return {
      config: this.config,
      log,
      nc: this.nc,
      jsm: this.jsm,
      metrics: createRegistry("status-projector"),
      fatal: failTest,
    };
  }

  async projector(consumer?: string): Promise<ProjectorApp> {
    const app = await startProjector(this.ctx, consumer === undefined ? {} : { consumer });
    this.apps.push(app);
    return app;
  }

  /** Appends a fact to the events stream; returns its stream sequence. */
  async publish(fact: Fact): Promise<number> {
    return this.publishRaw(subjectOf(fact), encodeFact(fact));
  }

  async publishRaw(subject: string, data: Uint8Array): Promise<number> {
    return (await this.js.publish(subject, data)).seq;
  }

  /**
   * Waits until `app` has acknowledged `facts` facts, then checks with the server that nothing
   * is left for its consumer. (It watches the app's own counters while facts flow: on
   * nats-server 2.9.10, consumer info requests against a consumer being pulled by fetches can
   * stall its deliveries.)
   */
  async processed(
    app: ProjectorApp,
    facts: number,
    consumer: string = consumers.projector,
    timeoutMs = 10_000,
  ): Promise<void> {
    await waitFor(() => app.stats().facts >= facts, { what: `${facts} facts processed`, timeoutMs });
    // Acks are fire-and-forget and the server applies them asynchronously: allow up to half
    // of ack_wait, so a fact left unacknowledged (redelivered only after ack_wait) still fails.
    await waitFor(
      async () => {
        const ci = await this.jsm.consumers.info(streams.events, consumer);
        return ci.num_pending === 0 && ci.num_ack_pending === 0;
      },
      // A caller that allows for redelivery (timeoutMs beyond ack_wait) allows it here too.
      {
        timeoutMs: timeoutMs > tuning.ackWaitMs ? timeoutMs : tuning.ackWaitMs / 2,
        intervalMs: 100,
        what: `nothing left for consumer ${consumer}`,
      },
    );
  }

  /** The `Herald-Fact-Seq` header of a key's current message (value or delete marker). */
  async factSeq(bucket: string, key: string): Promise<number | undefined> {
    const sm = await this.jsm.streams.getMessage(kvNames.stream(bucket), {
      last_by_subj: kvNames.subject(bucket, key),
    });
    const value = sm?.header.get(heraldHeaders.factSeq);
    return value === undefined || value === "" ? undefined : Number(value);
  }

  /** How many messages a bucket's stream has ever stored: every KV write moves it. */
  async writes(bucket: string): Promise<number> {
    return (await this.jsm.streams.info(kvNames.stream(bucket))).state.last_seq;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await Promise.all(this.apps.map((a) => a.close()));
      await this.nc.close();
    } finally {
      await this.server[Symbol.asyncDispose]();
    }
  }
}

function subjectOf(fact: Fact): string {
  return fact.type === "user"
    ? internalSubjects.userFact(fact.user)
    : internalSubjects.memberFact(fact.channel, fact.user, fact.conn);
}

let clock = 1_700_000_000_000;
const statusDoc = (user: string, over: Partial<StatusDoc> = {}): StatusDoc => ({
  user,
  status: "online",
  online: Math.floor(clock / 1000),
  conns: 1,
  updated_at_ms: clock++,
  ...over,
});
const userFact = (user: string, doc: StatusDoc | null = statusDoc(user)): UserFact => ({
  type: "user",
  user,
  doc,
});
const memberDoc = (
  channel: string,
  user: string,
  conn: string,
  over: Partial<MemberDoc> = {},
): MemberDoc => ({
  channel,
  user,
  conn,
  data: {},
  joined_at_ms: clock,
  updated_at_ms: clock++,
  ...over,
});
const memberFact = (
  channel: string,
  user: string,
  conn: string,
  doc: MemberDoc | null = memberDoc(channel, user, conn),
): MemberFact => ({ type: "member", channel, user, conn, doc });

/** Waits until `key` holds a value (PUT) equal to `doc`, or is deleted when `doc` is null. */
async function until(kv: KV, key: string, doc: unknown): Promise<KvEntry | null> {
  return waitFor(
    async () => {
      const e = await kv.get(key);
      if (doc === null) return e === null || e.operation !== "PUT" ? (e ?? null) : undefined;
      if (e?.operation !== "PUT") return undefined;
      try {
        expect(e.json()).toEqual(doc);
        return e;
      } catch {
        return undefined;
      }
    },
    { what: `${key} to become ${JSON.stringify(doc)}` },
  ).then((e) => (e === null ? null : (e as KvEntry)));
}

describe("status-projector", () => {
  it("puts a user's status document in presence_status and deletes it", async () => {
    await using h = await Harness.start();
    await h.projector();
    const doc = statusDoc("42", { status: "away", active: 1_700_000_000, conns: 2 });
    const seq = await h.publish(userFact("42", doc));
    const entry = await until(h.status, "42", doc);
    expect(entry?.string()).toBe(JSON.stringify(doc));
    expect(await h.factSeq(buckets.status, "42")).toBe(seq);

    const delSeq = await h.publish(userFact("42", null));
    const gone = await until(h.status, "42", null);
    expect(gone?.operation).toBe("DEL");
    expect(await h.factSeq(buckets.status, "42")).toBe(delSeq);
    const keys: string[] = [];
    for await (const k of await h.status.keys()) keys.push(k);
    expect(keys).not.toContain("42");
  });

  it("puts, deletes and puts again a member document in presence_members", async () => {
    await using h = await Harness.start();
    await h.projector();
    const key = memberKey("lobby", "u1", "tab-1");
    const doc = memberDoc("lobby", "u1", "tab-1", { data: { role: "host" } });
    await h.publish(memberFact("lobby", "u1", "tab-1", doc));
    await until(h.members, key, doc);

    await h.publish(memberFact("lobby", "u1", "tab-1", null));
    expect((await until(h.members, key, null))?.operation).toBe("DEL");

    // Joining again writes over the delete marker (compare-and-set against the marker).
    const again = memberDoc("lobby", "u1", "tab-1", { data: { role: "guest" } });
    const seq = await h.publish(memberFact("lobby", "u1", "tab-1", again));
    await until(h.members, key, again);
    expect(await h.factSeq(buckets.members, key)).toBe(seq);
  });

  it("stores odd ids under their token-encoded keys", async () => {
    await using h = await Harness.start();
    await h.projector();
    const users = ["a.b", "two words", "*", ">", "é😀", "x.*.>", "=41"];
    const expected: [KV, string, unknown][] = [];
    for (const user of users) {
      const doc = statusDoc(user);
      await h.publish(userFact(user, doc));
      expected.push([h.status, encodeToken(user), doc]);
      const mdoc = memberDoc("room.*", user, "tab >");
      await h.publish(memberFact("room.*", user, "tab >", mdoc));
      expected.push([h.members, `room=2E=2A.${encodeToken(user)}.tab=20=3E`, mdoc]);
    }
    for (const [kv, key, doc] of expected) await until(kv, key, doc);
    expect(encodeToken("x.*.>")).toBe("x=2E=2A=2E=3E");
    let count = 0;
    for await (const _ of await h.status.keys()) count++;
    expect(count).toBe(users.length);
  });

  it("writes only the last fact of a key when several arrive in one batch", async () => {
    await using h = await Harness.start();
    // Published before the projector starts, so its first pull takes them all at once.
    let last = statusDoc("u");
    await h.publish(userFact("u", last));
    await h.publish(userFact("u", null));
    for (let conns = 2; conns <= 5; conns++) {
      last = statusDoc("u", { conns });
      await h.publish(userFact("u", last));
    }
    const app = await h.projector();
    await h.processed(app, 6);
    const entry = await until(h.status, "u", last);
    // Normally one pull takes all six; on a busy machine the first may bring fewer. Either way a
    // batch writes the key once, whatever number of its facts it holds.
    const { batches } = app.stats();
    expect(batches).toBeLessThan(6);
    expect(entry?.revision).toBe(batches);
    expect(await h.writes(buckets.status)).toBe(batches);
    expect(app.stats()).toMatchObject({ facts: 6, applied: batches, coalesced: 6 - batches });
  });

  it("rewrites nothing when restarted on the same durable consumer", async () => {
    await using h = await Harness.start();
    const first = await h.projector();
    for (let i = 0; i < 20; i++) await h.publish(userFact(`u${i}`));
    await h.publish(memberFact("c", "u0", "k"));
    await h.processed(first, 21);
    await until(h.members, memberKey("c", "u0", "k"), expect.anything());
    const revisions = new Map<string, number>();
    for await (const k of await h.status.keys()) revisions.set(k, (await h.status.get(k))?.revision ?? -1);
    expect(revisions.size).toBe(20);
    await first.close();

    const second = await h.projector();
    const doc = statusDoc("late");
    await h.publish(userFact("late", doc));
    await until(h.status, "late", doc);
    await h.processed(second, 1);
    for (const [k, rev] of revisions) expect((await h.status.get(k))?.revision).toBe(rev);
    expect(second.stats()).toMatchObject({ facts: 1, applied: 1, skipped: 0 });
  });

  it("a projector replaying every fact on a fresh consumer changes nothing", async () => {
    await using h = await Harness.start();
    const first = await h.projector();
    const final = new Map<string, unknown>();
    for (let round = 0; round < 3; round++) {
      for (let u = 0; u < 10; u++) {
        const user = `u${u}`;
        const doc = round === 1 && u % 3 === 0 ? null : statusDoc(user, { conns: round });
        await h.publish(userFact(user, doc));
        final.set(user, doc);
        const mdoc = u % 2 === round % 2 ? null : memberDoc("ch", user, "k");
        await h.publish(memberFact("ch", user, "k", mdoc));
        final.set(memberKey("ch", user, "k"), mdoc);
      }
    }
    await h.processed(first, 60);
    for (const [key, doc] of final) await until(key.includes(".") ? h.members : h.status, key, doc);
    const before = [await h.writes(buckets.status), await h.writes(buckets.members)];

    const replay = await h.projector("herald-status-projector-replay");
    await h.processed(replay, 60, "herald-status-projector-replay");
    expect([await h.writes(buckets.status), await h.writes(buckets.members)]).toEqual(before);
    for (const [key, doc] of final) await until(key.includes(".") ? h.members : h.status, key, doc);
    expect(replay.stats()).toMatchObject({ facts: 60, applied: 0 });
    expect(replay.stats().skipped).toBeGreaterThan(0);
  });

  it("two projectors racing over the same facts never move a key backwards", async () => {
    await using h = await Harness.start();
    // Every message the status bucket stores, in order, with the fact it comes from.
    const seen: { subject: string; seq: number }[] = [];
    const watcher = await (await h.js.consumers.get(kvNames.stream(buckets.status))).consume();
    const watching = (async () => {
      for await (const m of watcher)
        seen.push({ subject: m.subject, seq: Number(m.headers?.get(heraldHeaders.factSeq)) });
    })();

    const one = await h.projector();
    const two = await h.projector("herald-status-projector-second");
    const lastDoc = new Map<string, StatusDoc | null>();
    const lastSeq = new Map<string, number>();
    for (let i = 0; i < 1000; i += 50) {
      const facts = Array.from({ length: 50 }, (_, j) => {
        const user = `u${(i + j) % 7}`;
        return userFact(user, (i + j) % 11 === 0 ? null : statusDoc(user, { conns: i + j }));
      });
      const seqs = await Promise.all(facts.map((f) => h.publish(f)));
      facts.forEach((f, j) => {
        const seq = seqs[j] as number;
        if ((lastSeq.get(f.user) ?? 0) < seq) {
          lastSeq.set(f.user, seq);
          lastDoc.set(f.user, f.doc);
        }
      });
    }
    await h.processed(one, 1000);
    await h.processed(two, 1000, "herald-status-projector-second");
    for (const [user, doc] of lastDoc) {
      await until(h.status, user, doc);
      expect(await h.factSeq(buckets.status, user)).toBe(lastSeq.get(user));
    }
    const total = await h.writes(buckets.status);
    await waitFor(() => seen.length === total, { what: "the watcher to see every write" });
    await watcher.close();
    await watching;
    const latest = new Map<string, number>();
    for (const { subject, seq } of seen) {
      expect(seq).toBeGreaterThan(latest.get(subject) ?? 0);
      latest.set(subject, seq);
    }
  });

  it("never replaces a value from a later fact, even one written behind its back", async () => {
    await using h = await Harness.start();
    const app = await h.projector();
    const first = statusDoc("k");
    await h.publish(userFact("k", first));
    await until(h.status, "k", first);

    // Another writer stores a value from a (much) later fact; the projector only remembers
    // its own write, so its compare-and-set fails, it reads again and skips.
    const later = statusDoc("k", { status: "away" });
    const hdrs = headers();
    hdrs.set(heraldHeaders.factSeq, "1000000");
    await h.js.publish(kvNames.subject(buckets.status, "k"), json.encode(later), { headers: hdrs });
    await h.publish(userFact("k", statusDoc("k", { conns: 9 })));
    await h.processed(app, 2);
    expect((await h.status.get("k"))?.json()).toEqual(later);
    expect(app.stats()).toMatchObject({ applied: 1, skipped: 1 });

    // A value without the header (written by hand) is replaced by the next fact.
    await h.status.put("k", json.encode({ by: "hand" }));
    const next = statusDoc("k", { conns: 3 });
    await h.publish(userFact("k", next));
    await until(h.status, "k", next);
  });

  it("dead-letters facts it cannot use and carries on with the next ones", async () => {
    await using h = await Harness.start();
    const app = await h.projector();
    const garbage = new Uint8Array([0xc1, 0xff, 0x00, 0x42]);
    const badSeq = await h.publishRaw(internalSubjects.userFact("bad"), garbage);
    const invalid = msgpack.encode({ type: "user", user: "bad2" });
    const invalidSeq = await h.publishRaw(internalSubjects.userFact("bad2"), invalid);
    const mismatch = encodeFact(userFact("bad3", statusDoc("someone-else")));
    const mismatchSeq = await h.publishRaw(internalSubjects.userFact("bad3"), mismatch);
    const doc = statusDoc("good");
    await h.publish(userFact("good", doc));
    await until(h.status, "good", doc);
    await h.processed(app, 4);

    const dlq = await h.jsm.streams.info(streams.deadLetters);
    expect(dlq.state.messages).toBe(3);
    const letters = [];
    for (let seq = dlq.state.first_seq; seq <= dlq.state.last_seq; seq++) {
      const sm = await h.jsm.streams.getMessage(streams.deadLetters, { seq });
      if (sm !== null) letters.push(sm);
    }
    expect(letters.map((l) => l.subject)).toEqual(
      Array(3).fill(internalSubjects.deadLetter("status-projector")),
    );
    expect(letters.map((l) => [...l.data])).toEqual([garbage, invalid, mismatch].map((d) => [...d]));
    expect(letters.map((l) => Number(l.header.get(heraldHeaders.sourceSeq)))).toEqual([
      badSeq,
      invalidSeq,
      mismatchSeq,
    ]);
    expect(letters.map((l) => l.header.get(heraldHeaders.sourceSubject))).toEqual(
      ["bad", "bad2", "bad3"].map((u) => internalSubjects.userFact(u)),
    );
    const reasons = letters.map((l) => l.header.get(heraldHeaders.deadLetterReason));
    expect(reasons[0]).toMatch(/msgpack/);
    expect(reasons[1]).toMatch(/doc/);
    expect(reasons[2]).toMatch(/doc\.user/);
    for (const user of ["bad", "bad2", "bad3"]) expect(await h.status.get(encodeToken(user))).toBeNull();
  });

  it("applies facts published while it runs, through the start() entry", async () => {
    await using h = await Harness.start();
    const app = await start(h.ctx);
    try {
      const docs = new Map<string, StatusDoc>();
      const pending: Promise<number>[] = [];
      for (let i = 0; i < 300; i++) {
        const user = `user-${i}`;
        const doc = statusDoc(user, { conns: i });
        docs.set(user, doc);
        pending.push(h.publish(userFact(user, doc)));
      }
      await Promise.all(pending);
      for (const [user, doc] of docs) await until(h.status, user, doc);
    } finally {
      await app.close();
    }
  });

  it("recreates its consumer when it is deleted, and goes on applying facts", async () => {
    await using h = await Harness.start();
    await h.projector();
    const before = statusDoc("before");
    await h.publish(userFact("before", before));
    await until(h.status, "before", before);
    await h.jsm.consumers.delete(streams.events, consumers.projector);
    const after = statusDoc("after");
    await h.publish(userFact("after", after));
    await until(h.status, "after", after);
    expect((await h.status.get("before"))?.revision).toBe(1);
  });

  it("two processes on the same durable share the facts and end with the last of each key", async () => {
    await using h = await Harness.start();
    const a = await h.projector();
    const b = await h.projector();
    const last = new Map<string, StatusDoc | null>();
    let published = 0;
    const wave = async () => {
      const facts = Array.from({ length: 250 }, (_, j) => {
        const n = published + j;
        const user = `u${n % 50}`;
        return userFact(user, n % 13 === 0 ? null : statusDoc(user, { conns: n }));
      });
      // One connection publishes in call order, so array order is stream order.
      await Promise.all(facts.map((f) => h.publish(f)));
      for (const f of facts) last.set(f.user, f.doc);
      published += facts.length;
    };
    // Which process gets which fact is the server's choice: publish until both got some (each
    // has a pull request waiting, so a few waves do it), at most 40 waves.
    for (let waves = 0; !(a.stats().facts > 0 && b.stats().facts > 0); waves++) {
      expect(waves, `one process got every fact: a ${a.stats().facts}, b ${b.stats().facts}`).toBeLessThan(
        40,
      );
      await wave();
      await waitFor(() => a.stats().facts + b.stats().facts === published, {
        what: `${published} facts processed`,
      });
    }
    for (const [user, doc] of last) await until(h.status, user, doc);
    expect(a.stats().facts + b.stats().facts).toBe(published);
    expect(a.stats().facts).toBeGreaterThan(0);
    expect(b.stats().facts).toBeGreaterThan(0);
  });

  it("closes promptly, leaving nothing unacknowledged, and the next projector goes on from there", async () => {
    await using h = await Harness.start();
    const last = new Map<string, StatusDoc>();
    let published = 0;
    const publish = async (count: number) => {
      for (let i = 0; i < count; i += 500) {
        await Promise.all(
          Array.from({ length: 500 }, () => {
            const n = published++;
            const user = `u${n % 1000}`;
            const doc = statusDoc(user, { conns: n });
            last.set(user, doc);
            return h.publish(userFact(user, doc));
          }),
        );
      }
    };
    await publish(3000);
    const first = await h.projector();
    await waitFor(() => first.stats().batches >= 1, { what: "the first batch applied" });
    const t0 = performance.now();
    await first.close();
    // A worker's stop (close, then draining the connection) must end within STOP_TIMEOUT_MS,
    // or the process is forced out with exit 1 and its fetched facts wait for ack_wait.
    expect(performance.now() - t0).toBeLessThan(STOP_TIMEOUT_MS);
    const stopped = first.stats();
    // Whether it stopped in the middle (usually) or had already applied all 3000 is the
    // machine's timing; more facts after the close make sure the next one has a rest to take.
    await publish(500);

    // It applied what it had fetched before returning and left no pull request behind: the
    // next one gets exactly the rest at once, none of it held back for ack_wait (30 s).
    const next = await h.projector();
    await h.processed(next, published - stopped.facts);
    for (const [user, doc] of last) await until(h.status, user, doc);
    expect(first.stats()).toEqual(stopped);
    expect(next.stats().facts).toBe(published - stopped.facts);
  });
});
