/**
 * The three workers as real processes against a real nats-server: they start (several of each
 * at once), create the streams and buckets they own with the right configuration, wait for a
 * server that is not up yet, refuse bad configuration, and exit 0 on SIGTERM within 5 s.
 */

import { spawn } from "node:child_process";
import { join } from "node:path";
import { buckets, COMPONENTS, internalSubjects, streams, subjects } from "@herald/protocol";
import { freePort, NatsServer, repoRoot, type WorkerName, WorkerProcess, waitFor } from "@herald/testkit";
import { jetstream, jetstreamManager, type StreamInfo } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const WORKERS: readonly WorkerName[] = COMPONENTS;
const NANOS_PER_MS = 1_000_000;

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
    expect(commands.config.subjects).toEqual([internalSubjects.allCommands]);
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
      expect(exit.ms).toBeLessThan(5000);
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

  it("refuses invalid configuration at start, naming the variable and the accepted range", async () => {
    for (const name of WORKERS) {
      const worker = WorkerProcess.spawn(name, {
        NATS_URL: server.url,
        HERALD_PARTITIONS: PARTITIONS,
        PRESENCE_GRACE_MS: "soon",
      });
      procs.push(worker);
      const exit = await worker.waitExit();
      expect(exit.code).toBe(78);
      expect(worker.output).toContain("PRESENCE_GRACE_MS: must be an integer from 0 to 3600000");
    }
  });
});
