import { describe, expect, it } from "vitest";
import { commandsPerSecond, FORGET_AFTER_MS, LAG_WARN, unownedPartitions, WorkerTable } from "./workers.js";

const memory = { rss: 100, heapUsed: 50 };
const gateway = (uptime_ms: number, appended_commands: number, pid = 1) => ({
  component: "gateway",
  pid,
  uptime_ms,
  memory,
  appended_commands,
  view: { ready: true },
});
const actor = (partitions: number[], caught_up: number, pid = 2) => ({
  component: "presence-actor",
  pid,
  uptime_ms: 1000,
  memory,
  owner: "o1",
  partitions,
  caught_up,
  commands: 0,
});
const projector = (pending: number, deadLettered = 0) => ({
  component: "status-projector",
  pid: 3,
  uptime_ms: 1000,
  memory,
  facts: 10,
  pending,
  deadLettered,
});

describe("the workers table", () => {
  it("rates each process's work over its own uptime, none across a restart", () => {
    const t = new WorkerTable();
    expect(t.update([gateway(1000, 100)], 0)[0]?.rate_per_s).toBeNull();
    const [g] = t.update([gateway(3000, 300)], 2000);
    expect(g?.rate_per_s).toBe(100);
    expect(commandsPerSecond([g as NonNullable<typeof g>])).toBe(100);
    // Restarted with the same pid: its uptime went back.
    expect(t.update([gateway(500, 10)], 3000)[0]?.rate_per_s).toBeNull();
  });

  it("shows a catching-up actor, a lagging projector and dead letters as warnings", () => {
    const t = new WorkerTable();
    const rows = t.update([actor([0, 1, 2], 1), projector(LAG_WARN + 1, 2), gateway(1, 0)], 0);
    expect(rows.map((r) => r.component)).toEqual(["gateway", "presence-actor", "status-projector"]);
    expect(rows[0]?.health).toBe("ok");
    expect(rows[1]).toMatchObject({ health: "warn", note: "catching up 2 of 3 partitions", owner: "o1" });
    expect(rows[2]).toMatchObject({ health: "warn", lag: LAG_WARN + 1, dead_letters: 2 });
    expect(rows[2]?.note).toBe(`lagging ${LAG_WARN + 1} messages, 2 dead letters`);
    const standby = t.update([actor([], 0)], 1).find((r) => r.component === "presence-actor");
    expect(standby).toMatchObject({ health: "ok", note: "standby" });
  });

  it("keeps a process that stopped answering as bad for a while, then forgets it", () => {
    const t = new WorkerTable();
    t.update([gateway(1, 0), projector(0)], 0);
    const rows = t.update([gateway(2, 0)], 5000);
    expect(rows[1]).toMatchObject({ component: "status-projector", answered: false, health: "bad" });
    expect(t.update([gateway(3, 0)], FORGET_AFTER_MS + 1)).toHaveLength(1);
  });

  it("ignores replies that are not a worker's, and tells partitions no answering actor owns", () => {
    const t = new WorkerTable();
    const rows = t.update([null, { component: "x", pid: 1 }, actor([0, 2], 2), actor([3], 1, 4)], 0);
    expect(rows).toHaveLength(2);
    expect(unownedPartitions(rows, 5)).toEqual([1, 4]);
  });
});
