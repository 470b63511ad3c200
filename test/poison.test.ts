/**
 * No poison message (the hardening issue): nats-server and the three workers as processes. Each
 * poison is published on an internal subject as a component would see it, followed by a valid
 * command; the partition (or the projector) must apply that command within a second — its live
 * event, and its projection in KV. Every poison ends up in the dead-letter stream with a reason,
 * cut to fit when it was too large, and no worker exits.
 */
import {
  buckets,
  encodeCommandBatch,
  encodeTick,
  headers as H,
  internalSubjects,
  msgpack,
  partitionOf,
  streams,
  subjects,
} from "@herald/protocol";
import { NatsServer, WorkerProcess, waitFor } from "@herald/testkit";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Packr } from "msgpackr";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** msgpack that carries BigInts (msgpackr's extension), as a hostile writer might. */
const withBigInts = new Packr({ useRecords: false, useBigIntExtension: true });

const PARTITIONS = 1;
const P = 0;

describe("poison messages", () => {
  let server: NatsServer;
  let nc: NatsConnection;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    server = await NatsServer.start();
    const env = { NATS_URL: server.url, HERALD_PARTITIONS: String(PARTITIONS), LOG_LEVEL: "info" };
    for (const name of ["gateway", "status-projector", "presence-actor"] as const) {
      workers.push(WorkerProcess.spawn(name, env));
    }
    await Promise.all(workers.map((w) => w.waitForOutput(/"msg":"started"/)));
    nc = await connect({ servers: server.url });
  });

  afterAll(async () => {
    await nc?.close();
    await Promise.all(workers.map((w) => w.stop("SIGTERM")));
    await server?.[Symbol.asyncDispose]();
  });

  it("sets each poison aside and applies the next valid command within a second", async () => {
    expect(partitionOf("anyone", PARTITIONS)).toBe(P);
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const status = await new Kvm(nc).open(buckets.status);
    const now = () => Date.now();
    const huge = new Uint8Array(1000 * 1024).fill(0xc1); // 0xc1 is never valid msgpack
    const cmdPoisons: [string, string, Uint8Array][] = [
      ["garbage", internalSubjects.commands(P), new Uint8Array([0xc1, 0x00, 0xff])],
      ["nearly 1 MiB", internalSubjects.commands(P), huge],
      [
        "a BigInt in data (format 1: a map)",
        internalSubjects.commands(P),
        withBigInts.pack({
          v: 1,
          cmds: [
            {
              type: "join",
              user: "p",
              conn: "c",
              channel: "r",
              data: { n: 2n ** 80n },
              ttl_ms: 30_000,
              at_ms: now(),
            },
          ],
        }),
      ],
      [
        "at_ms 8.64e15",
        internalSubjects.commands(P),
        encodeCommandBatch([{ type: "heartbeat", user: "p", conn: "c", ttl_ms: 30_000, at_ms: 8.64e15 }]),
      ],
      [
        "at_ms a day ahead",
        internalSubjects.commands(P),
        encodeCommandBatch([
          { type: "heartbeat", user: "p", conn: "c", ttl_ms: 30_000, at_ms: now() + 86_400_000 },
        ]),
      ],
      ["a tick a day ahead", internalSubjects.ticks(P), encodeTick(now() + 86_400_000)],
      ["a tick on the commands' subject", internalSubjects.commands(P), encodeTick(now())],
      [
        "data that is not JSON",
        internalSubjects.commands(P),
        msgpack.encode({
          v: 2,
          cmds: [
            { type: "join", user: "p", conn: "c", channel: "r", data: "{nope", ttl_ms: 30_000, at_ms: now() },
          ],
        }),
      ],
    ];
    const factPoisons: [string, string, Uint8Array][] = [
      ["a garbage fact", internalSubjects.userFact("p"), new Uint8Array([0xc1])],
      [
        "a fact with a BigInt",
        internalSubjects.userFact("p"),
        withBigInts.pack({
          type: "user",
          user: "p",
          doc: { user: "p", status: "online", conns: 2n ** 80n, updated_at_ms: 1 },
        }),
      ],
      ["a fact of nearly 1 MiB", internalSubjects.userFact("p"), huge],
    ];

    let round = 0;
    /** A valid command after a poison: its event within a second, its projection too. */
    const applied = async (what: string) => {
      const user = `after-${round++}`;
      const events: unknown[] = [];
      const sub = nc.subscribe(subjects.userEvents(user), {
        callback: (_e, m) => {
          events.push(m.json());
        },
      });
      await nc.flush();
      const sent = Date.now();
      const reply = await nc.request(subjects.method("heartbeat"), JSON.stringify({ user, conn: "c" }));
      expect(reply.json(), what).toEqual({ result: {} });
      await waitFor(() => events.length > 0, { what: `${user}'s event after ${what}`, timeoutMs: 1000 });
      await waitFor(async () => (await status.get(user)) !== null, {
        what: `${user}'s projection after ${what}`,
        timeoutMs: 1000,
      });
      sub.unsubscribe();
      return Date.now() - sent;
    };

    await applied("nothing"); // everything is up
    for (const [what, subject, data] of [...cmdPoisons, ...factPoisons]) {
      await js.publish(subject, data);
      await applied(what);
    }
    // Every poison in the dead letters, with its reason; a large one cut to fit.
    const dlq = await waitFor(
      async () => {
        const info = await jsm.streams.info(streams.deadLetters);
        return info.state.messages >= cmdPoisons.length + factPoisons.length && info;
      },
      { what: "the dead letters", timeoutMs: 5000 },
    );
    const letters = [];
    for (let seq = dlq.state.first_seq; seq <= dlq.state.last_seq; seq++) {
      const sm = await jsm.streams.getMessage(streams.deadLetters, { seq });
      if (sm !== null) letters.push(sm);
    }
    for (const l of letters) expect(l.header.get(H.deadLetterReason)).not.toBe("");
    const cut = letters.filter((l) => l.header.get(H.deadLetterTruncated) === String(huge.length));
    expect(cut.map((l) => l.subject).sort()).toEqual(
      [internalSubjects.deadLetter("presence-actor"), internalSubjects.deadLetter("status-projector")].sort(),
    );
    for (const l of cut) expect(l.data.length).toBeLessThan(huge.length);
    // Nothing of the poisons was applied: user "p" has no document.
    expect(await status.get("p")).toBeNull();
    expect(workers.every((w) => w.exited === undefined)).toBe(true);
  });
});
