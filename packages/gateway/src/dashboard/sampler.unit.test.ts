import { describe, expect, it } from "vitest";
import type { RegistrySample } from "./registry.js";
import { Sampler, SERIES_WINDOW_MS } from "./sampler.js";

const INF = Number.POSITIVE_INFINITY;
const registry = (queries: number, fast: number): RegistrySample => ({
  totals: { online: 1, away: 0, offline: 0, conns: 1, channels: 0, members: 0, ws_clients: 0 },
  viewReady: true,
  queryBuckets: new Map([
    [0.001, fast],
    [0.01, queries],
    [INF, queries],
  ]),
});
const sample = (atMs: number, queries: number, fast: number, events: number, stats?: unknown[]) => ({
  atMs,
  registry: registry(queries, fast),
  events,
  stats,
  deadLetters: undefined,
  topChannels: [],
});

describe("the dashboard's sampler", () => {
  it("rates events and queries between samples, and their latency from the buckets in between", () => {
    const s = new Sampler(4);
    const first = s.next(sample(0, 10, 10, 0));
    expect(first).toMatchObject({ events_per_s: null, queries_per_s: null, workers_at_ms: null });
    expect(first.partitions).toEqual({ total: 4, unowned: [] });
    // 20 queries in 2 s, all above 1 ms; 30 events.
    const t = s.next(sample(2000, 30, 10, 30));
    expect(t).toMatchObject({ events_per_s: 15, queries_per_s: 10, commands_per_s: null });
    expect(t.query_p50_ms).toBeCloseTo(5.5);
    expect(s.series).toHaveLength(2);
  });

  it("counts the WebSocket clients of every gateway that answered, and this one's before they have", () => {
    const s = new Sampler(1);
    expect(s.next(sample(0, 0, 0, 0)).totals.ws_clients).toBe(0);
    const gateway = (pid: number, clients: number) => ({
      component: "gateway",
      pid,
      uptime_ms: 1000,
      memory: { rss: 1, heapUsed: 1 },
      websocket_clients: clients,
    });
    const t = s.next(
      sample(1000, 0, 0, 0, [gateway(1, 3), gateway(2, 4), { component: "status-projector", pid: 3 }]),
    );
    expect(t.totals.ws_clients).toBe(7);
    expect(t.workers.find((w) => w.pid === 1)?.ws_clients).toBe(3);
  });

  it("owns no partition without an actor once the workers answered, and keeps the window's points", () => {
    const s = new Sampler(2);
    const t = s.next(sample(0, 0, 0, 0, []));
    expect(t.partitions.unowned).toEqual([0, 1]);
    s.next(sample(SERIES_WINDOW_MS + 1, 0, 0, 0));
    expect(s.series.map((p) => p.at_ms)).toEqual([SERIES_WINDOW_MS + 1]);
  });
});
