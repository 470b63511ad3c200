import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  buckets,
  type Config,
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
import { type App, createRegistry, ensureResources, type WorkerContext } from "@herald/runtime";
import { failTest, NatsServer, repoRoot, waitFor } from "@herald/testkit";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { start } from "./app.js";

import { EventsStreamMissingError, InvalidSuffixError } from "./errors.js";
import {
  compareProjections,
  differences,
  PROJECTIONS,
  type RebuildProgress,
  rebuildProjections,
  rebuiltName,
} from "./rebuild.js";

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });

/** What a key's current message holds: value bytes, KV operation and the fact it comes from. */
interface Stored {
  readonly data: Uint8Array;
  readonly op: string;
  readonly factSeq: string;
}

/**
 * A server with Herald's streams and buckets, the live projector (`start`), and a record of
 * the facts published: the last one of every key, which is what a projection must hold.
 */
class Harness implements AsyncDisposable {
  /** By live bucket and key: the last fact's document (null: removed) and stream sequence. */
  readonly expected = new Map<string, Map<string, { doc: unknown; seq: number }>>(
    PROJECTIONS.map((b) => [b, new Map()]),
  );
  readonly invalidSeqs: number[] = [];
  /** Facts published per key (bucket and key). */
  readonly factsPerKey = new Map<string, number>();
  /** Facts published, invalid ones included. */
  published = 0;
  #live: App | undefined;

  private constructor(
    readonly server: NatsServer,
    readonly nc: NatsConnection,
    readonly jsm: JetStreamManager,
    readonly config: Config,
  ) {}

  static async start(): Promise<Harness> {
    const server = await NatsServer.start();
    const config = loadConfig({ NATS_URL: server.url });
    const nc = await connect({ servers: server.url });
    const jsm = await jetstreamManager(nc);
    await ensureResources(nc, jsm, config, "presence-actor", log);
    await ensureResources(nc, jsm, config, "status-projector", log);
    return new Harness(server, nc, jsm, config);
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

  async startLive(): Promise<void> {
    this.#live = await start(this.ctx);
  }

  kv(bucket: string): Promise<KV> {
    return new Kvm(this.nc).open(bucket);
  }

  /** Appends facts in order (one connection keeps call order) and records the last of each key. */
  async publish(facts: readonly Fact[]): Promise<void> {
    const js = this.jsm.jetstream();
    const seqs = await Promise.all(facts.map((f) => js.publish(subjectOf(f), encodeFact(f))));
    facts.forEach((fact, i) => {
      const seq = seqs[i]?.seq ?? 0;
      const { bucket, key } = targetOf(fact);
      const keys = this.expected.get(bucket);
      if ((keys?.get(key)?.seq ?? 0) < seq) keys?.set(key, { doc: fact.doc, seq });
      this.factsPerKey.set(`${bucket} ${key}`, (this.factsPerKey.get(`${bucket} ${key}`) ?? 0) + 1);
    });
    this.published += facts.length;
  }

  async publishInvalid(subject: string, data: Uint8Array): Promise<void> {
    this.invalidSeqs.push((await this.jsm.jetstream().publish(subject, data)).seq);
    this.published++;
  }

  /** The keys of `bucket` whose last fact gave them a value. */
  withValue(bucket: string): string[] {
    return [...(this.expected.get(bucket) ?? [])].filter(([, e]) => e.doc !== null).map(([key]) => key);
  }

  /** The current message of a key, or undefined. */
  async stored(bucket: string, key: string): Promise<Stored | undefined> {
    const sm = await this.jsm.streams.getMessage(kvNames.stream(bucket), {
      last_by_subj: kvNames.subject(bucket, key),
    });
    if (sm === null) return undefined;
    return {
      data: sm.data,
      op: sm.header.get(kvNames.operationHeader),
      factSeq: sm.header.get(heraldHeaders.factSeq),
    };
  }

  /** Every expected key of live bucket `bucket`, as stored in `name` (the live one by default). */
  async snapshot(bucket: string, name = bucket): Promise<Map<string, Stored | undefined>> {
    const out = new Map<string, Stored | undefined>();
    for (const key of this.expected.get(bucket)?.keys() ?? []) out.set(key, await this.stored(name, key));
    return out;
  }

  /**
   * Waits until the live projector has applied the last fact of every key and dead-lettered
   * every invalid fact: the state a rebuild must reproduce.
   */
  async projected(): Promise<void> {
    await waitFor(
      async () => {
        for (const [bucket, keys] of this.expected)
          for (const [key, { seq }] of keys)
            if ((await this.stored(bucket, key))?.factSeq !== String(seq)) return false;
        const dlq = await this.jsm.streams.info(streams.deadLetters);
        return dlq.state.messages === this.invalidSeqs.length;
      },
      { what: "the live projector to apply every fact", timeoutMs: 30_000, intervalMs: 100 },
    );
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.#live?.close();
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

function targetOf(fact: Fact): { bucket: string; key: string } {
  return fact.type === "user"
    ? { bucket: buckets.status, key: encodeToken(fact.user) }
    : { bucket: buckets.members, key: memberKey(fact.channel, fact.user, fact.conn) };
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
const userFact = (user: string, doc: StatusDoc | null): UserFact => ({ type: "user", user, doc });
const memberDoc = (channel: string, user: string, conn: string, data: MemberDoc["data"]): MemberDoc => ({
  channel,
  user,
  conn,
  data,
  joined_at_ms: clock,
  updated_at_ms: clock++,
});
const memberFact = (channel: string, user: string, conn: string, doc: MemberDoc | null): MemberFact => ({
  type: "member",
  channel,
  user,
  conn,
  doc,
});

const pick = <T>(items: readonly T[], i: number): T => items[i % items.length] as T;
const USERS = [...Array.from({ length: 20 }, (_, i) => `u${i}`), "a.b", "two words", "é😀", ">"];
const STATUSES = ["online", "away", "offline"] as const;

/** A seeded pseudo-random integer below `n` (mulberry32): the same workload on every run. */
function random(seed: number): (n: number) => number {
  let a = seed;
  return (n) => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/**
 * `n` facts: statuses set, changed and removed (then set again), members joined, updated and
 * removed (then joined again), odd ids, and one user ("hot") in a quarter of them: the same keys many times.
 */
function workload(n: number): Fact[] {
  const rnd = random(n);
  const facts: Fact[] = [];
  for (let i = 0; i < n; i++) {
    const user = rnd(4) === 0 ? "hot" : pick(USERS, rnd(USERS.length));
    if (rnd(3) === 0) {
      const doc = rnd(8) === 0 ? null : statusDoc(user, { status: pick(STATUSES, rnd(3)), conns: rnd(4) });
      facts.push(userFact(user, doc));
    } else {
      const [channel, conn] = [pick(["lobby", "room.*"], rnd(2)), pick(["tab-1", "tab >"], rnd(2))];
      const doc =
        rnd(5) === 0
          ? null
          : memberDoc(channel, user, conn, { n: rnd(5), role: pick(["host", "guest"], rnd(2)) });
      facts.push(memberFact(channel, user, conn, doc));
    }
  }
  return facts;
}

/** Publishes `facts` in chunks with the three kinds of invalid fact between them. */
async function publishWorkload(h: Harness, facts: readonly Fact[]): Promise<void> {
  const invalid: [string, Uint8Array][] = [
    [internalSubjects.userFact("bad"), new Uint8Array([0xc1, 0xff, 0x00, 0x42])],
    [internalSubjects.userFact("bad2"), msgpack.encode({ type: "user", user: "bad2" })],
    [internalSubjects.userFact("bad3"), encodeFact(userFact("bad3", statusDoc("someone-else")))],
  ];
  const chunk = Math.ceil(facts.length / invalid.length);
  for (let i = 0; i < facts.length; i += chunk) {
    await h.publish(facts.slice(i, i + chunk));
    const bad = invalid.shift();
    if (bad !== undefined) await h.publishInvalid(...bad);
  }
}

describe("rebuildProjections", () => {
  it("rebuilds projections byte-equal to the live ones, and compare finds what differs", async () => {
    await using h = await Harness.start();
    await h.startLive();
    await publishWorkload(h, workload(1800));
    await h.projected();

    // The live projection is the last fact of every key: the workload reached it.
    const valueKeys: Record<string, number> = { [buckets.status]: 0, [buckets.members]: 0 };
    for (const [bucket, keys] of h.expected) {
      expect(keys.size).toBeGreaterThan(10);
      for (const [key, { doc, seq }] of keys) {
        const s = await h.stored(bucket, key);
        expect(s?.factSeq).toBe(String(seq));
        if (doc === null) expect(s?.op).toBe("DEL");
        else {
          expect(s?.op).toBe("");
          expect(Buffer.from(s?.data ?? []).equals(json.encode(doc))).toBe(true);
          valueKeys[bucket] = (valueKeys[bucket] ?? 0) + 1;
        }
      }
    }
    // The same key many times (the "hot" user's status and memberships).
    expect(Math.max(...h.factsPerKey.values())).toBeGreaterThan(50);

    const progress: RebuildProgress[] = [];
    const result = await rebuildProjections(h.nc, h.config, {
      suffix: "t1",
      batchMax: 128,
      onProgress: (p) => progress.push(p),
    });
    const names = PROJECTIONS.map((b) => rebuiltName(b, "t1"));
    expect(names).toEqual(["presence_status_t1", "presence_members_t1"]);
    const keyCount = [...h.expected.values()].reduce((n, keys) => n + keys.size, 0);
    expect(result).toMatchObject({
      buckets: names,
      facts: h.published,
      invalid: 3,
      keys: keyCount,
      firstSeq: 1,
    });
    expect(result.invalidFacts.map((f) => f.seq)).toEqual(h.invalidSeqs);
    expect(result.invalidFacts.map((f) => f.reason)).toEqual([
      expect.stringMatching(/msgpack/),
      expect.stringMatching(/doc/),
      expect.stringMatching(/doc\.user/),
    ]);
    expect(result.writes).toBeGreaterThanOrEqual(keyCount);
    expect(result.writes).toBeLessThan(h.published - 3);

    // Progress: from 0 to every fact, never backwards, over many batches.
    expect(progress[0]).toMatchObject({ read: 0, total: h.published });
    expect(progress.at(-1)).toMatchObject({ read: h.published, total: h.published });
    expect(progress.length).toBeGreaterThan(h.published / 128);
    for (let i = 1; i < progress.length; i++)
      expect(progress[i]?.read).toBeGreaterThan(progress[i - 1]?.read ?? Number.POSITIVE_INFINITY);

    // Key by key: the same bytes, the same operation, from the same fact.
    for (const bucket of PROJECTIONS) {
      const live = await h.snapshot(bucket);
      expect([...live.values()].every((s) => s !== undefined)).toBe(true);
      expect(await h.snapshot(bucket, rebuiltName(bucket, "t1"))).toEqual(live);
      const keysOf = async (name: string) => {
        const keys: string[] = [];
        for await (const k of await (await h.kv(name)).keys()) keys.push(k);
        return keys.sort();
      };
      const liveKeys = await keysOf(bucket);
      expect(liveKeys).toHaveLength(valueKeys[bucket] ?? -1);
      expect(await keysOf(rebuiltName(bucket, "t1"))).toEqual(liveKeys);
    }

    const same = await compareProjections(h.nc, "t1");
    expect(differences(same)).toBe(0);
    expect(same.map((d) => [d.bucket, d.rebuilt, d.liveKeys, d.rebuiltKeys])).toEqual(
      PROJECTIONS.map((b) => [b, rebuiltName(b, "t1"), valueKeys[b], valueKeys[b]]),
    );

    // One key changed, one deleted, one added behind the projector's back: each is reported.
    const status = await h.kv(buckets.status);
    const [changed, deleted] = h.withValue(buckets.status);
    expect(deleted).toBeDefined();
    // One digit of updated_at_ms, so the value keeps its length and is still a document.
    const value = Uint8Array.from((await status.get(changed ?? ""))?.value ?? []);
    value[value.length - 2] = (value[value.length - 2] ?? 0) ^ 1;
    expect(String.fromCharCode(value.at(-2) ?? 0)).toMatch(/\d/);
    await status.put(changed ?? "", value);
    await status.delete(deleted ?? "");
    const added = memberKey("new", "u1", "k");
    await (await h.kv(buckets.members)).put(added, json.encode({ by: "hand" }));
    const diffs = await compareProjections(h.nc, "t1");
    expect(
      diffs.map(({ bucket, missing, extra, different }) => ({ bucket, missing, extra, different })),
    ).toEqual([
      { bucket: buckets.status, missing: [], extra: [deleted], different: [changed] },
      { bucket: buckets.members, missing: [added], extra: [], different: [] },
    ]);
    expect(differences(diffs)).toBe(3);

    // A second rebuild into the same suffix starts from empty buckets.
    const before = await h.snapshot(buckets.members, rebuiltName(buckets.members, "t1"));
    await (await h.kv(rebuiltName(buckets.members, "t1"))).put(added, json.encode({ stale: true }));
    const again = await rebuildProjections(h.nc, h.config, { suffix: "t1" });
    expect(again).toMatchObject({ facts: h.published, invalid: 3, keys: keyCount, writes: keyCount });
    expect(await h.stored(rebuiltName(buckets.members, "t1"), added)).toBeUndefined();
    expect(await h.snapshot(buckets.members, rebuiltName(buckets.members, "t1"))).toEqual(before);
  });

  it("creates the rebuilt buckets with the live buckets' settings, also from no facts", async () => {
    await using h = await Harness.start();
    const progress: RebuildProgress[] = [];
    const result = await rebuildProjections(h.nc, h.config, { onProgress: (p) => progress.push(p) });
    expect(result).toMatchObject({
      buckets: ["presence_status_rebuild", "presence_members_rebuild"],
      facts: 0,
      invalid: 0,
      writes: 0,
      keys: 0,
    });
    expect(progress).toEqual([expect.objectContaining({ read: 0, total: 0 })]);
    for (const bucket of PROJECTIONS) {
      const settings = async (name: string) => {
        const c = (await h.jsm.streams.info(kvNames.stream(name))).config;
        return [
          c.num_replicas,
          c.max_msgs_per_subject,
          c.allow_direct,
          c.allow_rollup_hdrs,
          c.storage,
          c.discard,
        ];
      };
      const live = await settings(bucket);
      expect(live.slice(0, 2)).toEqual([h.config.replicas, 1]);
      expect(await settings(rebuiltName(bucket, "rebuild"))).toEqual(live);
    }
    expect(differences(await compareProjections(h.nc))).toBe(0);
  });

  it("refuses a suffix that cannot end a bucket name, and a server without the events stream", async () => {
    await using server = await NatsServer.start();
    const nc = await connect({ servers: server.url });
    try {
      const config = loadConfig({ NATS_URL: server.url });
      for (const suffix of ["a.b", "", "x y", "*", "é"]) {
        await expect(rebuildProjections(nc, config, { suffix })).rejects.toBeInstanceOf(InvalidSuffixError);
        await expect(compareProjections(nc, suffix)).rejects.toBeInstanceOf(InvalidSuffixError);
      }
      await expect(rebuildProjections(nc, config)).rejects.toBeInstanceOf(EventsStreamMissingError);
      const jsm = await jetstreamManager(nc);
      expect(await jsm.streams.names().next()).toEqual([]);
    } finally {
      await nc.close();
    }
  });
});

const CLI = join(repoRoot, "packages", "status-projector", "dist", "rebuild-main.js");

/** Runs the built CLI as a process with `env` on a minimal environment. */
async function runCli(
  args: readonly string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  if (!existsSync(CLI)) throw new Error(`${CLI} does not exist: build first (pnpm build)`);
  const proc = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  proc.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
  });
  proc.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
  // "close": the process exited and its output has been read.
  const code = await new Promise<number | null>((resolve) => proc.once("close", (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

describe("projections:rebuild (the CLI as a process)", () => {
  it("rebuilds and compares: exit 0 and a summary; 1 on a difference; 2 on a bad --suffix; 78 on bad config", async () => {
    await using h = await Harness.start();
    await h.startLive();
    await publishWorkload(h, workload(600));
    await h.projected();
    const env = { NATS_URL: h.server.url };

    const ok = await runCli(["--compare"], env);
    expect(ok, ok.stderr).toMatchObject({ code: 0 });
    const lines = ok.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(
        `^rebuilt presence_status_rebuild, presence_members_rebuild: ${h.published} facts, 3 invalid, ` +
          "[\\d,]+ writes, [\\d,]+ keys in \\d+\\.\\d s \\([\\d.]+[kM]?/s\\); compare: no differences$",
      ),
    );
    // Not a terminal: a line per 10 %, ending at 100 %; the invalid facts are named.
    expect(ok.stderr).toMatch(new RegExp(`rebuild \\[#{20}\\] 100% ${h.published}/${h.published} facts`));
    expect(ok.stderr).not.toContain("\r");
    expect(ok.stderr.match(/skipped invalid fact/g)).toHaveLength(3);

    // A live value changed by hand: listed on stdout, counted in the summary, exit 1.
    const changed = h.withValue(buckets.status)[0] ?? "";
    await (await h.kv(buckets.status)).put(changed, json.encode({ by: "hand" }));
    const diff = await runCli(["--", "--compare", "--suffix", "cli-2"], env);
    expect(diff, diff.stderr).toMatchObject({ code: 1 });
    expect(diff.stdout).toContain(`different ${buckets.status} ${changed}\n`);
    expect(diff.stdout.trimEnd().split("\n").at(-1)).toMatch(
      /^rebuilt presence_status_cli-2, presence_members_cli-2: .*; compare: 1 difference \(0 missing, 0 extra, 1 different\)$/,
    );

    const bad = await runCli(["--suffix", "no.dots"], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--suffix.*"no\.dots"/);
    expect(bad.stdout).toBe("");

    const config = await runCli([], { ...env, HERALD_REPLICAS: "0" });
    expect(config.code).toBe(78);
    expect(config.stderr).toContain("HERALD_REPLICAS");
  });
});
