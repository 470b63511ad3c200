import { type Command, encodeCommandBatch, partitionOf } from "@herald/protocol";
import { describe, expect, it } from "vitest";
import { BatchingAppender } from "./appender.js";
import { AppendFailedError, OverloadedError, StoppingError } from "./errors.js";

const PARTITIONS = 4;

interface Call {
  readonly partition: number;
  readonly cmds: readonly Command[];
  readonly msgId: string;
  readonly ack: () => void;
  readonly fail: (err: Error) => void;
}

/** A publisher whose acks the test gives, and a scheduler whose ticks the test runs. */
function setup(opts: { maxBatchCommands?: number; maxPendingBatches?: number; maxBatchBytes?: number } = {}) {
  const calls: Call[] = [];
  const ticks: (() => void)[] = [];
  const appender = new BatchingAppender({
    partitions: PARTITIONS,
    idPrefix: "gw",
    publish: (partition, cmds, msgId) =>
      new Promise<void>((ack, fail) => calls.push({ partition, cmds: [...cmds], msgId, ack, fail })),
    schedule: (fn) => ticks.push(fn),
    ...opts,
  });
  const tick = () => {
    for (const fn of ticks.splice(0)) fn();
  };
  return { appender, calls, tick };
}

/** Users that live in the given partition. */
function usersOf(partition: number, n: number): string[] {
  const users: string[] = [];
  for (let i = 0; users.length < n; i++) {
    if (partitionOf(`u${i}`, PARTITIONS) === partition) users.push(`u${i}`);
  }
  return users;
}

const hb = (user: string, at = 0): Command => ({
  type: "heartbeat",
  user,
  conn: "c",
  ttl_ms: 1000,
  at_ms: at,
});

/** Settles microtasks so promise callbacks have run. */
const settle = () => new Promise<void>((r) => setImmediate(r));

function watch(p: Promise<void>): { state: "pending" | "done" | Error } {
  const s: { state: "pending" | "done" | Error } = { state: "pending" };
  p.then(
    () => {
      s.state = "done";
    },
    (err: Error) => {
      s.state = err;
    },
  );
  return s;
}

describe("BatchingAppender", () => {
  it("sends one batch per partition per tick, holding the commands of many requests in order", async () => {
    const { appender, calls, tick } = setup();
    const [a, b] = usersOf(0, 2) as [string, string];
    const [c] = usersOf(1, 1) as [string];
    const r1 = watch(appender.append([hb(a, 1), hb(c, 1)]));
    const r2 = watch(appender.append([hb(b, 2), hb(a, 3)]));
    expect(calls).toHaveLength(0);
    tick();
    expect(calls.map((x) => x.partition).sort()).toEqual([0, 1]);
    const p0 = calls.find((x) => x.partition === 0);
    expect(p0?.cmds.map((x) => [x.user, x.at_ms])).toEqual([
      [a, 1],
      [b, 2],
      [a, 3],
    ]);
    calls.find((x) => x.partition === 1)?.ack();
    await settle();
    // r1 also waits for partition 0.
    expect(r1.state).toBe("pending");
    p0?.ack();
    await settle();
    expect(r1.state).toBe("done");
    expect(r2.state).toBe("done");
    expect(appender.stats()).toMatchObject({ appended_commands: 4, appended_batches: 2, pending_batches: 0 });
  });

  it("gives every batch its own message id with the process prefix", async () => {
    const { appender, calls, tick } = setup({ maxBatchCommands: 2 });
    const users = usersOf(2, 5);
    void appender.append(users.map((u) => hb(u)));
    for (let i = 0; i < 3; i++) {
      tick();
      calls[i]?.ack();
      await settle();
    }
    const ids = calls.map((c) => c.msgId);
    expect(ids.length).toBe(3);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^gw-\d+$/);
  });

  it("sends a full batch at once and keeps one publish in flight per partition, in order", async () => {
    const { appender, calls, tick } = setup({ maxBatchCommands: 3 });
    const users = usersOf(0, 7);
    const done = watch(appender.append(users.map((u, i) => hb(u, i))));
    // The first 3 went out without waiting for a tick; the next full one waits for its ack.
    expect(calls).toHaveLength(1);
    expect(calls[0]?.cmds.map((c) => c.at_ms)).toEqual([0, 1, 2]);
    tick();
    expect(calls).toHaveLength(1);
    calls[0]?.ack();
    await settle();
    expect(calls).toHaveLength(2);
    expect(calls[1]?.cmds.map((c) => c.at_ms)).toEqual([3, 4, 5]);
    // Commands that arrive meanwhile join the open batch.
    const later = watch(appender.append([hb(users[0] as string, 99)]));
    calls[1]?.ack();
    await settle();
    expect(calls[2]?.cmds.map((c) => c.at_ms)).toEqual([6, 99]);
    expect(done.state).toBe("pending");
    calls[2]?.ack();
    await settle();
    expect(done.state).toBe("done");
    expect(later.state).toBe("done");
  });

  it("publishes different partitions in parallel", () => {
    const { appender, calls, tick } = setup();
    void appender.append([0, 1, 2, 3].map((p) => hb(usersOf(p, 1)[0] as string)));
    tick();
    expect(calls.map((c) => c.partition).sort()).toEqual([0, 1, 2, 3]);
  });

  it("fails the requests of a batch that was not acknowledged, and only those", async () => {
    const { appender, calls, tick } = setup();
    const [a] = usersOf(0, 1) as [string];
    const [b] = usersOf(1, 1) as [string];
    const ra = watch(appender.append([hb(a)]));
    const rb = watch(appender.append([hb(b)]));
    tick();
    calls.find((c) => c.partition === 0)?.fail(new Error("timeout"));
    calls.find((c) => c.partition === 1)?.ack();
    await settle();
    expect(ra.state).toBeInstanceOf(AppendFailedError);
    expect((ra.state as AppendFailedError).code).toBe(503);
    expect((ra.state as AppendFailedError).message).toContain("timeout");
    expect(rb.state).toBe("done");
    expect(appender.stats()).toMatchObject({ failed_batches: 1, appended_batches: 1 });
    // The lane carries on.
    const again = watch(appender.append([hb(a)]));
    tick();
    calls.at(-1)?.ack();
    await settle();
    expect(again.state).toBe("done");
  });

  it("treats a publish that throws like a failed one", async () => {
    const appender = new BatchingAppender({
      partitions: 1,
      idPrefix: "x",
      publish: () => {
        throw new Error("closed");
      },
      schedule: (fn) => fn(),
    });
    await expect(appender.append([hb("u")])).rejects.toBeInstanceOf(AppendFailedError);
  });

  it("refuses a request at once, appending nothing, while too many batches are pending", async () => {
    const { appender, calls, tick } = setup({ maxBatchCommands: 1, maxPendingBatches: 2 });
    const [a, b, c] = usersOf(0, 3) as [string, string, string];
    void appender.append([hb(a), hb(b)]);
    expect(() => appender.append([hb(c)])).toThrow(OverloadedError);
    expect(appender.stats().overloaded).toBe(1);
    tick();
    calls[0]?.ack();
    await settle();
    calls[1]?.ack();
    await settle();
    expect(calls.flatMap((x) => x.cmds.map((cmd) => cmd.user))).toEqual([a, b]);
    const last = appender.append([hb(c)]);
    tick();
    calls.at(-1)?.ack();
    await expect(last).resolves.toBeUndefined();
  });

  it("flushes pending batches on close and refuses commands after", async () => {
    const { appender, calls } = setup();
    const [a] = usersOf(3, 1) as [string];
    const pending = watch(appender.append([hb(a)]));
    const closed = watch(appender.close());
    expect(calls).toHaveLength(1);
    expect(() => appender.append([hb(a)])).toThrow(StoppingError);
    await settle();
    expect(closed.state).toBe("pending");
    calls[0]?.ack();
    await settle();
    expect(pending.state).toBe("done");
    expect(closed.state).toBe("done");
  });

  it("answers an empty append at once", async () => {
    const { appender, calls } = setup();
    await appender.append([]);
    expect(calls).toHaveLength(0);
  });

  it("cuts batches by bytes too, so commands with large data never make one too large to store", async () => {
    const { appender, calls, tick } = setup({ maxBatchBytes: 64 * 1024 });
    const [user] = usersOf(1, 1) as [string];
    const data = { blob: "x".repeat(4000) };
    const joins: Command[] = Array.from({ length: 100 }, (_, i) => ({
      type: "join",
      user,
      conn: `c${i}`,
      channel: "r",
      data,
      ttl_ms: 30_000,
      at_ms: 0,
    }));
    const done = watch(appender.append(joins));
    tick();
    // Each batch is acknowledged in turn; the next goes when the one before is.
    for (let i = 0; i < 10 && done.state === "pending"; i++) {
      for (const c of calls.filter((c) => !("acked" in c))) {
        Object.assign(c, { acked: true });
        c.ack();
      }
      await settle();
      tick();
    }
    expect(done.state).toBe("done");
    const sizes = calls.map((c) => encodeCommandBatch(c.cmds).length);
    expect(calls.length).toBeGreaterThan(1);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(64 * 1024);
    expect(calls.flatMap((c) => c.cmds)).toEqual(joins);
  });
});
