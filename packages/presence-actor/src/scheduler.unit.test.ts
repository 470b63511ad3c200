import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Due, Scheduler } from "./scheduler.js";

/** Everything due by `now`, in the order the scheduler gives it. */
function drain<T>(s: Scheduler<T>, now: number): Due<T>[] {
  const out: Due<T>[] = [];
  for (let d = s.next(now); d !== undefined; d = s.next(now)) out.push(d);
  return out;
}

describe("Scheduler", () => {
  it("fires timers in deadline order, only once due", () => {
    const s = new Scheduler<string>();
    s.schedule("c", 30, "C");
    s.schedule("a", 10, "A");
    s.schedule("d", 40, "D");
    s.schedule("b", 20, "B");
    expect(s.size).toBe(4);
    expect(s.peek()).toBe(10);
    expect(s.next(9)).toBeUndefined();
    expect(drain(s, 30)).toEqual([
      { key: "a", at: 10, payload: "A" },
      { key: "b", at: 20, payload: "B" },
      { key: "c", at: 30, payload: "C" },
    ]);
    expect(s.size).toBe(1);
    expect(drain(s, 100)).toEqual([{ key: "d", at: 40, payload: "D" }]);
    expect(s.size).toBe(0);
    expect(s.next(1000)).toBeUndefined();
  });

  it("scheduling a key again later delays it (and replaces its payload)", () => {
    const s = new Scheduler<string>();
    s.schedule("k", 10, "first");
    s.schedule("other", 15, "o");
    s.schedule("k", 20, "second");
    expect(s.deadline("k")).toBe(20);
    expect(s.size).toBe(2);
    expect(drain(s, 19)).toEqual([{ key: "other", at: 15, payload: "o" }]);
    expect(drain(s, 20)).toEqual([{ key: "k", at: 20, payload: "second" }]);
    expect(s.size).toBe(0);
  });

  it("a key moved later several times fires once, at its last deadline", () => {
    const s = new Scheduler<number>();
    for (let at = 10; at <= 100; at += 10) s.schedule("k", at, at);
    expect(drain(s, 99)).toEqual([]);
    expect(drain(s, 1000)).toEqual([{ key: "k", at: 100, payload: 100 }]);
  });

  it("scheduling a key again earlier brings it forward", () => {
    const s = new Scheduler<string>();
    s.schedule("k", 50, "late");
    s.schedule("m", 30, "m");
    s.schedule("k", 20, "early");
    expect(s.deadline("k")).toBe(20);
    expect(s.peek()).toBe(20);
    expect(drain(s, 1000)).toEqual([
      { key: "k", at: 20, payload: "early" },
      { key: "m", at: 30, payload: "m" },
    ]);
  });

  it("cancel removes a timer; cancelling an unknown key is harmless", () => {
    const s = new Scheduler<string>();
    s.schedule("a", 10, "A");
    s.schedule("b", 20, "B");
    s.cancel("a");
    s.cancel("nope");
    expect(s.size).toBe(1);
    expect(s.deadline("a")).toBeUndefined();
    expect(drain(s, 100)).toEqual([{ key: "b", at: 20, payload: "B" }]);
  });

  it("a cancelled key scheduled again fires at its new time only", () => {
    const s = new Scheduler<string>();
    s.schedule("a", 10, "old");
    s.cancel("a");
    s.schedule("a", 30, "new");
    expect(drain(s, 29)).toEqual([]);
    expect(drain(s, 30)).toEqual([{ key: "a", at: 30, payload: "new" }]);
  });

  it("lists its live timers", () => {
    const s = new Scheduler<string>();
    s.schedule("a", 10, "A");
    s.schedule("b", 20, "B");
    s.schedule("a", 15, "A2");
    s.cancel("b");
    expect([...s.entries()]).toEqual([{ key: "a", at: 15, payload: "A2" }]);
  });

  type Op =
    | { op: "schedule"; key: string; at: number; payload: number }
    | { op: "cancel"; key: string }
    | { op: "next"; now: number };
  const key = fc.constantFrom("a", "b", "c", "d", "e", "f");
  const time = fc.integer({ min: 0, max: 60 });
  const op: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({ op: fc.constant("schedule" as const), key, at: time, payload: fc.nat() }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("cancel" as const), key }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant("next" as const), now: time }) },
  );

  it("behaves like a naive sorted array over any schedule/cancel/next sequence", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const s = new Scheduler<number>();
        // The model: live timers kept sorted by deadline.
        let model: { key: string; at: number; payload: number }[] = [];
        for (const o of ops) {
          if (o.op === "schedule") {
            model = model.filter((t) => t.key !== o.key);
            model.push({ key: o.key, at: o.at, payload: o.payload });
            model.sort((x, y) => x.at - y.at || (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
            s.schedule(o.key, o.at, o.payload);
          } else if (o.op === "cancel") {
            model = model.filter((t) => t.key !== o.key);
            s.cancel(o.key);
          } else {
            const got = s.next(o.now);
            const first = model[0];
            if (first === undefined || first.at > o.now) {
              expect(got).toBeUndefined();
            } else {
              // The earliest, and among equal deadlines the smallest key.
              expect(got).toBeDefined();
              const d = got as Due<number>;
              expect({ key: d.key, at: d.at, payload: d.payload }).toEqual(first);
              model = model.filter((t) => t.key !== d.key);
            }
          }
          expect(s.size).toBe(model.length);
          for (const t of model) expect(s.deadline(t.key)).toBe(t.at);
          const peek = s.peek();
          if (model[0] !== undefined) expect(peek).toBeLessThanOrEqual(model[0].at);
        }
        // Finally everything left fires, in deadline order, exactly once.
        const rest = drain(s, Number.MAX_SAFE_INTEGER);
        expect(rest.map((d) => [d.at, d.key])).toEqual(model.map((t) => [t.at, t.key]));
        expect(s.size).toBe(0);
      }),
      { numRuns: 500 },
    );
  });
});
