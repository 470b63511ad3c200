import { describe, expect, it } from "vitest";
import { stripAnsi } from "./format.js";
import { gatewayTotals, partitionsText, renderTop, workRate } from "./top-view.js";
import type { StatsSnapshot, WorkerStats } from "./workers.js";

const memory = { rss: 80 * 1024 * 1024, heapUsed: 20 * 1024 * 1024 };
const gateway = (appended: number, extra: Record<string, unknown> = {}): WorkerStats => ({
  component: "gateway",
  pid: 100,
  uptime_ms: 62_000,
  memory,
  appended_commands: appended,
  pending_batches: 0,
  view: { ready: true, invalid_values: 0, users: 12, members: 30 },
  ...extra,
});
const actor = (commands: number, partitions: number[], caughtUp: number): WorkerStats => ({
  component: "presence-actor",
  pid: 200,
  uptime_ms: 3_600_000,
  memory,
  partitions,
  caught_up: caughtUp,
  users: 12,
  timers: 4,
  commands,
});
const projector = (facts: number, pending: number): WorkerStats => ({
  component: "status-projector",
  pid: 300,
  uptime_ms: 5000,
  memory,
  facts,
  pending,
  applied: 9,
  deadLettered: 0,
});
const snapshot = (atMs: number, workers: Partial<StatsSnapshot["workers"]>): StatsSnapshot => ({
  atMs,
  workers: { gateway: [], "presence-actor": [], "status-projector": [], ...workers },
});

describe("top view", () => {
  it("reads totals from a gateway's stats, whichever it carries", () => {
    expect(gatewayTotals(gateway(0))).toEqual({ known: 12, members: 30 });
    expect(
      gatewayTotals(
        gateway(0, {
          node: { num_users: 7, num_clients: 9, num_channels: 3 },
          totals: { online: 5, away: 2, conns: 9, channels: 3, members: 30 },
        }),
      ),
    ).toEqual({ known: 12, members: 30, present: 7, conns: 9, channels: 3, online: 5, away: 2 });
    expect(gatewayTotals(undefined)).toEqual({});
  });

  it("computes a process's rate between two answers, none for a new or restarted one", () => {
    expect(workRate(gateway(150), gateway(50), "gateway", 2000)).toBe(50);
    expect(workRate(gateway(150), undefined, "gateway", 2000)).toBeUndefined();
    expect(workRate(gateway(10), gateway(50), "gateway", 1000)).toBeUndefined();
  });

  it("lists partitions as ranges", () => {
    expect(partitionsText([3, 0, 1, 2, 7, 9, 10])).toBe("7 (0-3,7,9-10)");
    expect(partitionsText([])).toBe("0");
    expect(partitionsText(undefined)).toBe("-");
  });

  it("renders totals, rates and one row per process", () => {
    const before = snapshot(1000, {
      gateway: [gateway(100)],
      "presence-actor": [actor(100, [0, 1, 2, 3], 4)],
      "status-projector": [projector(200, 0)],
    });
    const now = snapshot(2000, {
      gateway: [gateway(150)],
      "presence-actor": [actor(150, [0, 1, 2, 3], 3)],
      "status-projector": [projector(260, 4)],
    });
    const lines = renderTop(now, before, { title: "nats://h:1 as admin", width: 200 }).map(stripAnsi);
    expect(lines[0]).toMatch(/^herald top {2}nats:\/\/h:1 as admin {2}\d\d:\d\d:\d\d$/);
    expect(lines[2]).toBe("known users 12   members 30");
    expect(lines[3]).toBe("commands 50/s appended   50/s applied   facts 60/s projected");
    expect(lines[5]).toMatch(
      /^COMPONENT\s+PID\s+UPTIME\s+RSS\s+HEAP\s+PARTITIONS\s+CAUGHT UP\s+LAG\s+RATE\s+NOTES$/,
    );
    expect(lines[6]).toMatch(
      /^gateway\s+100\s+1m 2s\s+80\.0 MiB\s+20\.0 MiB\s+-\s+yes\s+-\s+50 cmd\/s\s+0 batches pending$/,
    );
    expect(lines[7]).toMatch(
      /^presence-actor\s+200\s+1h\s+.*4 \(0-3\)\s+3\/4\s+-\s+50 cmd\/s\s+12 users, 4 timers$/,
    );
    expect(lines[8]).toMatch(/^status-projector\s+300\s+5s\s+.*-\s+no\s+4\s+60 fact\/s/);
    expect(lines).toHaveLength(9);
  });

  it("says which components did not answer, and cuts lines to the width", () => {
    const lines = renderTop(snapshot(0, {}), undefined, { title: "x", width: 30 }).map(stripAnsi);
    expect(lines).toContain("no gateway answered: no totals");
    expect(lines.at(-1)).toBe("no answer from: gateway, pres…");
    for (const l of lines) expect([...l].length).toBeLessThanOrEqual(30);
  });
});
