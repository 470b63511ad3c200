/**
 * The three workers as real processes against a real nats-server: they start (several of each
 * at once), create the streams and buckets they own with the right configuration, wait for a
 * server that is not up yet, connect with the credentials of NATS_URL, refuse bad configuration
 * (every variable), and exit 0 on SIGTERM within their stop deadline.
 */

import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { buckets, COMPONENTS, INT_VARIABLES, internalSubjects, streams, subjects } from "@herald/protocol";
import { STOP_TIMEOUT_MS } from "@herald/runtime";
import {
  callUntilAnswered,
  freePort,
  NatsServer,
  repoRoot,
  type WorkerName,
  WorkerProcess,
  waitFor,
} from "@herald/testkit";
import { jetstream, jetstreamManager, type StreamInfo } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const WORKERS: readonly WorkerName[] = COMPONENTS;
const NANOS_PER_MS = 1_000_000;
/**
 * How long a clean stop may take before the worker forces itself out with exit 1: a
 * presence-actor stores and snapshots every partition it holds, up to 60 s (its app's
 * STOP_TIMEOUT_MS, ARCHITECTURE.md "Leases"); the others the runtime's 5 s.
 */
const STOP_LIMIT_MS: Record<WorkerName, number> = {
  gateway: STOP_TIMEOUT_MS,
  "presence-actor": 60_000,
  "status-projector": STOP_TIMEOUT_MS,
};

describe("workers as processes", () => {
  let server: NatsServer;
  let nc: NatsConnection;
  const procs: WorkerProcess[] = [];

  beforeAll(async () => {
    server = await NatsServer.start();
    nc = await connect({ servers: server.url });
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p[Symbol.asyncDispose]()));
    await nc?.close();
    await server?.[Symbol.asyncDispose]();
  });

  // Every process of a deployment must use one partition count (8 here, not the default 16).
  const PARTITIONS = "8";

  it("start two of each at the same time, create their resources, and stop cleanly on SIGTERM", async () => {
    const env = { NATS_URL: server.url, LOG_LEVEL: "info", HERALD_PARTITIONS: PARTITIONS };
    const started = [...WORKERS, ...WORKERS].map((w) => WorkerProcess.spawn(w, env));
    procs.push(...started);
    await Promise.all(started.map((p) => p.waitForOutput(/"msg":"started"/)));

    const jsm = await jetstreamManager(nc);
    const info = async (name: string): Promise<StreamInfo> => jsm.streams.info(name);

    const commands = await info(streams.commands);
    // Commands and ticks of every partition.
    expect(commands.config.subjects).toEqual([internalSubjects.allPartitions]);
    expect(commands.config.duplicate_window).toBe(2 * 60_000 * NANOS_PER_MS);

    const events = await info(streams.events);
    expect(events.config.subjects).toEqual([internalSubjects.allEvents, internalSubjects.allFacts]);
    expect(events.config.republish).toMatchObject({
      src: internalSubjects.allEvents,
      dest: subjects.allEvents,
    });
    expect(events.config.max_age).toBe(7 * 86_400_000 * NANOS_PER_MS);

    expect((await info(streams.deadLetters)).config.subjects).toEqual([internalSubjects.allDeadLetters]);

    const kvm = new Kvm(nc);
    const bucketNames: string[] = [];
    for await (const status of kvm.list()) bucketNames.push(status.bucket);
    expect(bucketNames.sort()).toEqual(Object.values(buckets).sort());

    // Every process answers a stats request with its counters and memory.
    for (const component of WORKERS) {
      const inbox = `_INBOX.stats.${component}`;
      const replies: Record<string, unknown>[] = [];
      const sub = nc.subscribe(inbox, { callback: (_e, m) => void replies.push(m.json()) });
      nc.publish(internalSubjects.stats(component), JSON.stringify({ gc: true }), { reply: inbox });
      await waitFor(() => replies.length === 2, { what: `stats of both ${component} processes` });
      sub.unsubscribe();
      const pids = started.filter((p) => p.name === component).map((p) => p.pid);
      expect(replies.map((r) => r.pid).sort()).toEqual(pids.sort());
      for (const r of replies) {
        expect(r.component).toBe(component);
        expect((r.memory as { heapUsed: number }).heapUsed).toBeGreaterThan(0);
      }
      if (component === "presence-actor") {
        // Between them they hold every partition (8).
        await waitFor(
          async () => {
            const again: Record<string, unknown>[] = [];
            const s2 = nc.subscribe(`${inbox}.2`, { callback: (_e, m) => void again.push(m.json()) });
            nc.publish(internalSubjects.stats(component), "", { reply: `${inbox}.2` });
            await waitFor(() => again.length === 2, { what: "stats again" });
            s2.unsubscribe();
            return again.flatMap((r) => r.partitions as number[]).length === 8;
          },
          { what: "8 partitions held", timeoutMs: 15_000 },
        );
      }
    }

    // Half stop on SIGTERM, half on SIGINT (Ctrl-C): both must drain and exit 0.
    const exits = await Promise.all(started.map((p, i) => p.stop(i % 2 === 0 ? "SIGTERM" : "SIGINT")));
    for (const [i, exit] of exits.entries()) {
      expect(exit, `${started[i]?.name} output:\n${started[i]?.output}`).toMatchObject({
        code: 0,
        signal: null,
      });
      const name = started[i]?.name as WorkerName;
      expect(exit.ms, `${name} stop`).toBeLessThan(STOP_LIMIT_MS[name]);
    }
  });

  it("a stored event is republished once on its public subject, a fact never", async () => {
    // The events stream's republish is what gives live subscribers exactly-once delivery.
    const seen: string[] = [];
    const sub = nc.subscribe(subjects.allEvents, {
      callback: (_e, m) => {
        seen.push(`${m.subject} ${m.string()}`);
      },
    });
    const js = jetstream(nc);
    await js.publish(internalSubjects.userEvent("a.b c"), '{"n":1}', { msgID: "once" });
    await js.publish(internalSubjects.userEvent("a.b c"), '{"n":1}', { msgID: "once" });
    await js.publish(internalSubjects.userFact("a.b c"), '{"fact":true}');
    await js.publish(internalSubjects.userEvent("a.b c"), '{"n":2}', { msgID: "twice" });
    await nc.flush();
    await waitFor(() => seen.length >= 2, { what: "two republished events" });
    sub.unsubscribe();
    // In stream order: had the fact been republished it would stand between the two.
    const subject = subjects.userEvents("a.b c");
    expect(subject).toBe("presence.events.user.a=2Eb=20c");
    expect(seen).toEqual([`${subject} {"n":1}`, `${subject} {"n":2}`]);
  });

  it("a worker started before its server waits for it", async () => {
    const port = await freePort();
    const worker = WorkerProcess.spawn("status-projector", { NATS_URL: `nats://127.0.0.1:${port}` });
    procs.push(worker);
    // It is trying to connect before there is anything to connect to.
    await worker.waitForOutput(/"msg":"connecting to NATS"/);
    await using late = await NatsServer.start({ port });
    await worker.waitForOutput(/"msg":"started"/);
    const lnc = await connect({ servers: late.url });
    const names: string[] = [];
    for await (const status of new Kvm(lnc).list()) names.push(status.bucket);
    await lnc.close();
    expect(names).toContain(buckets.status);
    expect(await worker.stop("SIGTERM")).toMatchObject({ code: 0 });
  });

  it("npm start's runner starts every worker and stops them all on Ctrl-C", async () => {
    // With NATS_URL set the runner uses that server instead of starting one on nats.conf's port.
    const runner = spawn(process.execPath, [join(repoRoot, "scripts", "run.mjs")], {
      env: {
        PATH: process.env.PATH ?? "",
        NATS_URL: server.url,
        HERALD_PARTITIONS: PARTITIONS,
        LOG_FORMAT: "json",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const collect = (b: Buffer) => {
      output += b.toString();
    };
    runner.stdout.on("data", collect);
    runner.stderr.on("data", collect);
    const exited = new Promise<number | null>((resolve) => runner.once("exit", (code) => resolve(code)));
    try {
      await waitFor(() => WORKERS.every((w) => new RegExp(`\\[${w}\\].*"msg":"started"`).test(output)), {
        timeoutMs: 20_000,
        what: "all workers started by run.mjs",
      }).catch((err: Error) => {
        throw new Error(`${err.message}\n--- run.mjs output ---\n${output}`);
      });
      runner.kill("SIGINT");
      expect(await exited).toBe(0);
      for (const w of WORKERS) expect(output).toMatch(new RegExp(`\\[${w}\\].*"msg":"stopped"`));
    } finally {
      runner.kill("SIGKILL");
    }
  });

  it("connects with the user:pass of NATS_URL, and not with a wrong password", async () => {
    const password = "s3cret-Pw";
    await using secured = await NatsServer.start({
      extraConfig: ["authorization {", "  user: herald", `  password: ${JSON.stringify(password)}`, "}"].join(
        "\n",
      ),
    });
    const url = (pass: string) => `nats://herald:${pass}@127.0.0.1:${secured.port}`;
    // The server really wants them.
    await expect(connect({ servers: secured.url, reconnect: false })).rejects.toThrow(/Authorization/);
    const snc = await connect({ servers: secured.url, user: "herald", pass: password });
    try {
      // A wrong password: the server refuses it, and the worker never starts (it gives up).
      const wrong = WorkerProcess.spawn("gateway", {
        NATS_URL: url("wrong-Pw"),
        HERALD_PARTITIONS: PARTITIONS,
      });
      procs.push(wrong);
      const exit = await waitFor(() => wrong.exited, { what: "the worker with a wrong password to give up" });
      expect(exit.code, wrong.output).not.toBe(0);
      expect(wrong.output).toMatch(/Authorization Violation/);
      expect(wrong.output).not.toMatch(/"msg":"connected to NATS"|"msg":"started"/);
      expect(wrong.output).not.toContain("wrong-Pw");
      expect(secured.log()).toMatch(/authentication error/);
      await expect(snc.request(subjects.method("get_user_status"), '{"users":["x"]}')).rejects.toThrow(
        /no responders/i,
      );

      // The right one: it connects, ensures its resources and serves the API.
      const right = WorkerProcess.spawn("gateway", {
        NATS_URL: url(password),
        HERALD_PARTITIONS: PARTITIONS,
      });
      procs.push(right);
      await right.waitForOutput(/"msg":"started"/);
      expect(await callUntilAnswered(snc, "get_user_status", { users: ["x"] })).toEqual({
        statuses: [{ user: "x", status: "offline" }],
      });
      expect(await callUntilAnswered(snc, "heartbeat", { user: "x", conn: "c" })).toEqual({});
      const jsm = await jetstreamManager(snc);
      expect((await jsm.streams.info(streams.commands)).state.messages).toBe(1);
      expect(await right.stop("SIGTERM")).toMatchObject({ code: 0 });
      expect(right.output).not.toContain(password);
    } finally {
      await snc.close();
    }
  });

  it("refuses every invalid configuration variable at start: exit 78, naming it", async () => {
    const range = (v: { variable: string; min: number; max: number }) =>
      `${v.variable}: must be an integer from ${v.min} to ${v.max}`;
    // [env, what stderr must say]: every variable of protocol/src/config.ts, one worker each.
    const cases: [Record<string, string>, string][] = [
      ...Object.values(INT_VARIABLES).flatMap((v, i): [Record<string, string>, string][] => [
        // Out of range, or not an integer, in turn.
        [{ [v.variable]: i % 2 === 0 ? String(v.max + 1) : "soon" }, range(v)],
      ]),
      [
        { PRESENCE_TTL_MS: "20000", PRESENCE_MAX_TTL_MS: "10000" },
        "PRESENCE_TTL_MS: must not exceed PRESENCE_MAX_TTL_MS (10000), got 20000",
      ],
      [{ LOG_LEVEL: "loud" }, "LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent"],
      [{ LOG_FORMAT: "xml" }, "LOG_FORMAT: must be one of auto, pretty, json"],
      [
        { NATS_URL: "http://herald:s3cret@127.0.0.1:4222" },
        'NATS_URL: "http://***@127.0.0.1:4222" has scheme http:; expected nats or tls',
      ],
      [{ NATS_URL: `${server.url},` }, "NATS_URL: has an empty entry"],
      [
        { HTTP_ADDR: "8000" },
        'HTTP_ADDR: must be host:port (port 0 to 65535; [::1]:port for IPv6) or off, got "8000"',
      ],
      [{ METRICS_ADDR: "127.0.0.1:99999" }, "METRICS_ADDR: must be host:port"],
      [
        { HTTP_API_KEY: "short" },
        "HTTP_API_KEY: must be 16 to 512 printable ASCII characters without spaces",
      ],
      [{ CLIENT_TOKEN_HMAC_SECRET: "short" }, "CLIENT_TOKEN_HMAC_SECRET: must be at least 32 bytes"],
      [{ CLIENT_TOKEN_PUBLIC_KEY: "not a key" }, "CLIENT_TOKEN_PUBLIC_KEY: must be a PEM public key"],
      [{ CLIENT_INSECURE: "yes" }, "CLIENT_INSECURE: must be true or false"],
    ];
    // Every variable config.ts reads (`env.X`, an integer's `variable: "X"`, an address's
    // `readAddress(env, "X"`, a token setting's `text("X"`) is among them.
    const source = readFileSync(join(repoRoot, "packages", "protocol", "src", "config.ts"), "utf8");
    const variables = new Set(
      [...source.matchAll(/(?:\benv\.|variable: "|readAddress\(env, "|text\(")([A-Z][A-Z0-9_]*)/g)]
        .map((m) => m[1])
        // Any issuer or audience is a valid one: there is no bad value to try.
        .filter((v) => v !== "CLIENT_TOKEN_ISSUER" && v !== "CLIENT_TOKEN_AUDIENCE"),
    );
    expect(variables.size).toBeGreaterThanOrEqual(12);
    const tested = new Set(cases.flatMap(([env]) => Object.keys(env)));
    expect([...variables].sort()).toEqual([...tested].sort());

    // Four at a time: each is a node start that exits at once.
    const check = async (i: number, env: Record<string, string>, message: string) => {
      const name = WORKERS[i % WORKERS.length] as WorkerName;
      // With a server to connect to: a worker that accepted the value would start and stay.
      const worker = WorkerProcess.spawn(name, {
        NATS_URL: server.url,
        HERALD_PARTITIONS: PARTITIONS,
        ...env,
      });
      procs.push(worker);
      const what = `${name} with ${JSON.stringify(env)}`;
      // Read before anything else: it exits at once (node's own start is most of it).
      const exit = await waitFor(() => worker.exited, { what: `${what} to exit`, timeoutMs: 15_000 }).catch(
        (err: Error) => {
          throw new Error(`${err.message}\n--- output ---\n${worker.output}`);
        },
      );
      expect(exit.code, `${what}:\n${worker.output}`).toBe(78);
      expect(worker.output, what).toContain(`herald ${name}: invalid configuration`);
      expect(worker.output, what).toContain(message);
      expect(worker.output, what).not.toContain("connecting to NATS");
      expect(worker.output, what).not.toContain("s3cret");
    };
    for (let i = 0; i < cases.length; i += 4) {
      await Promise.all(cases.slice(i, i + 4).map(([env, message], k) => check(i + k, env, message)));
    }
  });
});
