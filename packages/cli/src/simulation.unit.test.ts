import { parseParams } from "@herald/contract";
import { describe, expect, it } from "vitest";
import { Simulation, type Step, seededRandom } from "./simulation.js";

const GRACE = 2000;
const TTL = 9000;
const T0 = 1_746_000_000_000;

function simulation(seed: number, users = 40) {
  return new Simulation({
    users,
    channels: 6,
    graceMs: GRACE,
    ttlMs: TTL,
    prefix: "t",
    random: seededRandom(seed),
  });
}

/** Runs the model for `ms` on a simulated clock: `rate` actions a second, in ticks of 20 ms. */
function drive(sim: Simulation, ms: number, rate: number): { steps: Step[]; at: number[] } {
  const steps: Step[] = [];
  const at: number[] = [];
  const busy = new Set<string>();
  for (let t = T0; t < T0 + ms; t += 20) {
    for (const s of sim.due(t)) {
      steps.push(s);
      at.push(t);
    }
    for (let i = 0; i < rate / 50; i++) {
      const s = sim.next(t, busy);
      if (s === undefined) continue;
      steps.push(s);
      at.push(t);
    }
  }
  return { steps, at };
}

describe("the simulate load model", () => {
  it("sends only calls the API accepts", () => {
    const sim = simulation(1);
    const { steps, at } = drive(sim, 60_000, 100);
    expect(steps.length).toBeGreaterThan(3000);
    steps.forEach((s, i) => {
      for (const call of s.calls) {
        expect(() =>
          parseParams(call.method, call.params, { maxTtlMs: 3_600_000, nowMs: at[i] as number }),
        ).not.toThrow();
      }
    });
  });

  it("behaves as users would: each kind of action happens", () => {
    const { steps } = drive(simulation(2), 60_000, 100);
    const kinds = new Set(steps.map((s) => s.kind));
    for (const k of [
      "open",
      "close",
      "refresh",
      "reconnect",
      "join",
      "update",
      "leave",
      "activity",
      "status",
      "idle",
      "heartbeats",
    ])
      expect(kinds, k).toContain(k);
    const statuses = steps.flatMap((s) => s.calls).filter((c) => c.method === "set_status");
    expect(new Set(statuses.map((c) => c.params.status))).toEqual(new Set(["dnd", "invisible", "auto"]));
  });

  it("keeps conns consistent: no call on a closed conn, no update or leave of a channel not joined", () => {
    const { steps } = drive(simulation(3), 60_000, 150);
    const live = new Set<string>();
    const joined = new Set<string>();
    for (const call of steps.flatMap((s) => s.calls)) {
      const p = call.params as {
        user: string;
        conn: string;
        channel: string;
        heartbeats?: { user: string; conn: string }[];
      };
      const conn = `${p.user}/${p.conn}`;
      switch (call.method) {
        case "heartbeat":
          for (const hb of p.heartbeats ?? [p]) {
            if (p.heartbeats !== undefined)
              expect(live, "a batch beats live conns only").toContain(`${hb.user}/${hb.conn}`);
            live.add(`${hb.user}/${hb.conn}`);
          }
          break;
        case "disconnect":
          expect(live).toContain(conn);
          live.delete(conn);
          for (const k of [...joined]) if (k.startsWith(`${conn}#`)) joined.delete(k);
          break;
        case "join":
          expect(live).toContain(conn);
          joined.add(`${conn}#${p.channel}`);
          break;
        case "update":
        case "leave":
          expect(live).toContain(conn);
          expect(joined).toContain(`${conn}#${p.channel}`);
          if (call.method === "leave") joined.delete(`${conn}#${p.channel}`);
          break;
        default:
          break;
      }
    }
  });

  it("brings a refreshed conn back within half the grace, rejoining its channels", () => {
    const sim = simulation(4);
    const { steps, at } = drive(sim, 60_000, 100);
    const refreshedAt = new Map<string, number>();
    let reconnects = 0;
    steps.forEach((s, i) => {
      const first = s.calls[0];
      if (s.kind === "refresh" && first !== undefined) {
        refreshedAt.set(`${first.params.user}/${first.params.conn}`, at[i] as number);
      }
      if (s.kind === "reconnect" && first !== undefined) {
        const key = `${first.params.user}/${first.params.conn}`;
        const since = (at[i] as number) - (refreshedAt.get(key) as number);
        expect(since).toBeLessThanOrEqual(GRACE / 2 + 20);
        expect(first.method).toBe("heartbeat");
        expect(s.calls.slice(1).every((c) => c.method === "join")).toBe(true);
        reconnects++;
      }
    });
    expect(reconnects).toBeGreaterThan(10);
  });

  it("heartbeats every open conn before its ttl passes", () => {
    const sim = simulation(5, 20);
    const { steps, at } = drive(sim, 60_000, 20);
    const lastBeat = new Map<string, number>();
    let gaps = 0;
    steps.forEach((s, i) => {
      const t = at[i] as number;
      for (const call of s.calls) {
        const p = call.params as {
          user: string;
          conn: string;
          heartbeats?: { user: string; conn: string }[];
        };
        const keys =
          call.method === "heartbeat" ? (p.heartbeats ?? [p]).map((hb) => `${hb.user}/${hb.conn}`) : [];
        if (call.method === "disconnect") keys.push(`${p.user}/${p.conn}`);
        for (const k of keys) {
          const last = lastBeat.get(k);
          if (last !== undefined) {
            expect(t - last, k).toBeLessThan(TTL);
            gaps++;
          }
          if (call.method === "heartbeat") lastBeat.set(k, t);
          else lastBeat.delete(k);
        }
      }
    });
    expect(gaps).toBeGreaterThan(50);
  });

  it("never has a busy user act, and ends by disconnecting every open conn", () => {
    const sim = simulation(6, 3);
    drive(sim, 10_000, 50);
    const busy = new Set(sim.userIds);
    expect(sim.next(T0, busy)).toBeUndefined();
    const before = sim.counts;
    const teardown = sim.teardown();
    expect(teardown.flatMap((s) => s.calls).filter((c) => c.method === "disconnect")).toHaveLength(
      before.conns,
    );
    expect(teardown.flatMap((s) => s.calls).filter((c) => c.method === "set_status")).toHaveLength(
      before.manual,
    );
    expect(sim.counts).toEqual({ conns: 0, connected: 0, memberships: 0, idle: 0, manual: 0 });
  });

  it("is repeatable with a seed", () => {
    const a = drive(simulation(7), 5000, 50).steps;
    const b = drive(simulation(7), 5000, 50).steps;
    expect(b).toEqual(a);
  });
});
