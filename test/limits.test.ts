/**
 * Limits with clear errors, and the cost of one user at every limit (the hardening issue):
 * nats-server and the three workers as processes, the limits at their defaults. One user fills
 * HERALD_MAX_CONNS_PER_USER conns, each in HERALD_MAX_CHANNELS_PER_CONN channels; one more conn
 * is refused with 429 and one more channel with 413, each naming its variable, and nothing
 * changes. Then the user goes invisible and back over and over (every membership hidden and
 * shown in one step) while a canary user in the same partition joins and leaves: no step of the
 * partition takes more than 50 ms of CPU, and the canary's events keep flowing.
 */
import { loadConfig, partitionOf, subjects } from "@herald/protocol";
import { NatsServer, WorkerProcess, waitFor } from "@herald/testkit";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

interface Reply {
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

const PARTITIONS = 2;
const { maxConnsPerUser: CONNS, maxChannelsPerConn: CHANNELS } = loadConfig({});

describe("limits at their defaults", () => {
  let server: NatsServer;
  let nc: NatsConnection;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    server = await NatsServer.start();
    // The rates are not what this test is about: high enough not to get in the way.
    const env = {
      NATS_URL: server.url,
      HERALD_PARTITIONS: String(PARTITIONS),
      HERALD_USER_RATE: "1000000",
      HERALD_CLIENT_RATE: "1000000",
      LOG_LEVEL: "info",
    };
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

  async function call(method: string, params: unknown): Promise<Reply> {
    return (
      await nc.request(subjects.method(method), JSON.stringify(params), { timeout: 10_000 })
    ).json<Reply>();
  }

  async function ok(method: string, params: unknown): Promise<Record<string, unknown>> {
    const r = await call(method, params);
    if (r.error !== undefined) throw new Error(`${method}: ${r.error.code} ${r.error.message}`);
    return r.result ?? {};
  }

  async function actorStats(): Promise<{ max_step_ms: number; max_step_cpu_ms: number; users: number }> {
    const m = await nc.request("herald.admin.stats.presence-actor", "", { timeout: 5000 });
    return m.json();
  }

  it("refuses one conn and one channel too many, naming the limit, and no step takes over 50 ms", async () => {
    const heavy = "heavy user";
    // A canary in the same partition as the heavy user.
    let n = 0;
    while (partitionOf(`canary ${n}`, PARTITIONS) !== partitionOf(heavy, PARTITIONS)) n++;
    const canary = `canary ${n}`;
    const data = { blob: "x".repeat(200) };

    // Every conn in as many channels as allowed (conns in parallel, each one's joins in order).
    await Promise.all(
      Array.from({ length: CONNS }, async (_, k) => {
        for (let ch = 0; ch < CHANNELS; ch++) {
          await ok("join", { user: heavy, conn: `c${k}`, channel: `room-${ch}`, data });
        }
      }),
    );
    const tooManyConns = await call("join", { user: heavy, conn: "one-more", channel: "room-0" });
    expect(tooManyConns.error?.code).toBe(429);
    expect(tooManyConns.error?.message).toMatch(/HERALD_MAX_CONNS_PER_USER/);
    const tooManyChannels = await call("join", { user: heavy, conn: "c0", channel: "one-more" });
    expect(tooManyChannels.error?.code).toBe(413);
    expect(tooManyChannels.error?.message).toMatch(/HERALD_MAX_CHANNELS_PER_CONN/);
    // Nothing changed: the refused conn is not live, the refused channel not joined.
    await waitFor(
      async () => {
        const s = (await ok("get_user_status", { users: [heavy] })) as { statuses: { status: string }[] };
        const c = (await ok("user_channels", { user: heavy })) as { channels: string[] };
        return s.statuses[0]?.status === "online" && c.channels.length === CHANNELS && c;
      },
      { what: "the heavy user's channels in the projections", timeoutMs: 30_000 },
    );
    expect(((await ok("user_channels", { user: heavy })) as { channels: string[] }).channels).not.toContain(
      "one-more",
    );
    expect(((await ok("presence_stats", { channel: "room-0" })) as { num_clients: number }).num_clients).toBe(
      CONNS,
    );

    // The canary's events while the heavy user hides and shows every membership, over and over.
    const latencies: number[] = [];
    const sent = new Map<number, number>();
    const sub = nc.subscribe(subjects.channelEvents("canary room"), {
      callback: (_e, m) => {
        // The first join is a join event, the next ones (joining again) update events.
        const e = m.json<{ type: string; data?: { i?: number } }>();
        const at = e.data?.i === undefined ? undefined : sent.get(e.data.i);
        if (at !== undefined) latencies.push(Date.now() - at);
      },
    });
    await nc.flush();
    const toggling = (async () => {
      for (let i = 0; i < 6; i++) {
        await ok("set_status", { user: heavy, status: "invisible" });
        await ok("set_status", { user: heavy, status: "auto" });
      }
    })();
    for (let i = 0; i < 30; i++) {
      sent.set(i, Date.now());
      await ok("join", { user: canary, conn: "k", channel: "canary room", data: { i } });
    }
    await toggling;
    await waitFor(() => latencies.length === 30, { what: "every canary join event", timeoutMs: 30_000 });
    sub.unsubscribe();

    const stats = await actorStats();
    latencies.sort((a, b) => a - b);
    console.log(
      `limits: ${CONNS} conns × ${CHANNELS} channels; longest partition step ${stats.max_step_cpu_ms} ms of CPU ` +
        `(${stats.max_step_ms} ms of time, with the other test processes sharing the machine); ` +
        `canary join → event p50 ${latencies[15]} ms, max ${latencies.at(-1)} ms`,
    );
    // The CPU the step took: on a loaded machine its wall time also counts other processes' turns.
    expect(stats.max_step_cpu_ms).toBeLessThan(50);
  });
});
