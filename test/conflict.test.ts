/**
 * 409 is decided by the user's owner (CONTRACT.md §4: `update` of a channel the conn has not
 * joined). nats-server, two gateways, a status-projector and two presence-actors as processes.
 * Users join through one gateway and update at once through the other while a presence-actor is
 * killed with SIGKILL (and replaced): an acknowledged join is never followed by a 409 for its
 * update, whichever gateway took it and however far the projections lag; an update of a channel
 * really not joined still gets 409, and changes nothing. A 503 (no owner yet) is answered again
 * after a pause, at most a bounded number of times. The update's latency is printed. Each worker
 * connects as its own NATS user (nats-auth.conf), the test as `client`.
 */
import { subjects } from "@herald/protocol";
import { NatsServer, type WorkerName, WorkerProcess, waitFor } from "@herald/testkit";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

interface Reply {
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

const USERS = 24;
const RUN_MS = 16_000;
/** A 503 (the partition is being taken over) is sent again, at most this many times. */
const MAX_503 = 40;

describe("409 decided by the user's owner", () => {
  let server: NatsServer;
  let nc: NatsConnection;
  const workers: WorkerProcess[] = [];
  let env: (name: WorkerName) => Record<string, string>;

  beforeAll(async () => {
    server = await NatsServer.start({ auth: true });
    env = (name) => ({ NATS_URL: server.urlFor(name), PRESENCE_GRACE_MS: "500", LOG_LEVEL: "info" });
    for (const name of [
      "gateway",
      "gateway",
      "status-projector",
      "presence-actor",
      "presence-actor",
    ] as const) {
      workers.push(WorkerProcess.spawn(name, env(name)));
    }
    await Promise.all(workers.map((w) => w.waitForOutput(/"msg":"started"/)));
    nc = await connect(server.optionsFor("client"));
  });

  afterAll(async () => {
    await nc?.close();
    await Promise.all(workers.map((w) => w.stop("SIGKILL")));
    const violations = server?.permissionViolations();
    await server?.[Symbol.asyncDispose]();
    expect(violations).toEqual([]);
  });

  /** One request; no reply at all is a failure of the test (every request is answered). */
  async function request(method: string, params: unknown): Promise<Reply> {
    const m = await nc.request(subjects.method(method), JSON.stringify(params), { timeout: 15_000 });
    return m.json<Reply>();
  }

  /** Sends again on 503, bounded; returns the first other answer and how long the last try took. */
  async function settled(method: string, params: unknown): Promise<{ reply: Reply; ms: number }> {
    for (let attempt = 0; ; attempt++) {
      const t0 = performance.now();
      const reply = await request(method, params);
      const ms = performance.now() - t0;
      if (reply.error?.code !== 503) return { reply, ms };
      if (attempt >= MAX_503)
        throw new Error(`${method} answered 503 ${attempt + 1} times: ${reply.error.message}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  it("never answers 409 to the update of an acknowledged join, and still refuses a real one", async () => {
    const actors = workers.filter((w) => w.name === "presence-actor");
    const until = Date.now() + RUN_MS;
    /** Updates of acknowledged joins answered 409 (must stay empty). */
    const wrong: string[] = [];
    /** Updates of channels never joined, and their answers (must all be 409). */
    const refused: string[] = [];
    const latencies: number[] = [];
    const joinLatencies: number[] = [];
    let updates = 0;

    // One presence-actor is killed a third of the way in, and replaced.
    const chaos = (async () => {
      await new Promise((r) => setTimeout(r, RUN_MS / 3));
      await actors[0]?.stop("SIGKILL");
      workers.push(WorkerProcess.spawn("presence-actor", env("presence-actor")));
    })();

    await Promise.all(
      Array.from({ length: USERS }, async (_, u) => {
        const user = `cf.user ${u} ü`;
        const conn = `c${u}`;
        for (let round = 0; Date.now() < until; round++) {
          const channel = `room-${round % 3}`;
          // The join goes through whichever gateway the queue group picks; so does the update.
          const join = await settled("join", { user, conn, channel, data: { round } });
          expect(join.reply.error, `join of ${user}`).toBeUndefined();
          joinLatencies.push(join.ms);
          const update = await settled("update", { user, conn, channel, data: { round, updated: true } });
          updates++;
          latencies.push(update.ms);
          if (update.reply.error?.code === 409)
            wrong.push(`${user} ${channel} round ${round}: ${update.reply.error.message}`);
          else expect(update.reply.error, `update of ${user}`).toBeUndefined();
          if (round % 4 === 0) {
            const never = await settled("update", { user, conn, channel: "never-joined", data: { x: 1 } });
            refused.push(never.reply.error === undefined ? "accepted" : String(never.reply.error.code));
          }
          await settled("leave", { user, conn, channel });
        }
      }),
    );
    await chaos;

    expect(wrong).toEqual([]);
    expect(refused.length).toBeGreaterThan(USERS);
    expect(new Set(refused)).toEqual(new Set(["409"]));
    // A refused update changed nothing: nobody is, or was, in the channel never joined.
    await waitFor(async () => (await request("presence", { channel: "room-0" })).result !== undefined, {
      what: "queries answered",
    });
    expect((await request("presence", { channel: "never-joined" })).result).toEqual({ members: [] });
    expect((await request("history", { channel: "never-joined" })).result).toEqual({ events: [] });

    const q = (xs: number[], p: number) => {
      const s = [...xs].sort((a, b) => a - b);
      return (s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? 0).toFixed(1);
    };
    console.log(
      `${updates} updates answered from the owner's verdict: p50 ${q(latencies, 0.5)} ms, p99 ${q(latencies, 0.99)} ms; ` +
        `joins (answered once stored) p50 ${q(joinLatencies, 0.5)} ms, p99 ${q(joinLatencies, 0.99)} ms ` +
        "(a presence-actor killed during the run)",
    );
  });
});
