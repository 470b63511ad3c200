/**
 * The partition against a small reference model of docs/PRESENCE.md, written from the document
 * and not from the machine: random command sequences over a few users, conns and channels, with
 * gaps beyond ttl, grace and away. After every step, what others can tell from the public events
 * alone (each user's reported status; the visible (channel, conn) members) must be what the
 * model says at that time, and so must what the projections get from the facts (status, conns,
 * hidden and actual status; every member with its hidden flag).
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { type Command, type Fact, msgpack, type StatusDoc } from "@herald/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  activity,
  advance,
  disconnect,
  eventsOf,
  factsOf,
  forget,
  heartbeat,
  join,
  leave,
  type PublicEvent,
  Simulation,
  type Step,
  setStatus,
  T0,
  update,
} from "../test-support/spec.js";
import { Partition, type PartitionOptions, type SavedPartition } from "./partition.js";

const USERS = ["u1", "u2", "a.b *"] as const;
const CONNS = ["a", "b", "c"] as const;
const CHANNELS = ["c1", "c2"] as const;
const TTLS = [1000, 2500, 6000] as const;
const AWAY = 4000;

type Reported = "online" | "away" | "offline";

// ---- the reference model --------------------------------------------------------------------

interface ModelUser {
  /** Live conns: deadline (last heartbeat/join/update/leave + the conn's ttl), ttl, channels. */
  conns: Map<string, { deadline: number; ttl: number; channels: Set<string> }>;
  activeAt?: number;
  /** When the last conn ended. */
  lastEnd?: number;
  manual: "none" | "dnd" | "invisible";
  manualExpires?: number;
}

class Model {
  readonly users = new Map<string, ModelUser>();
  clock = 0;

  constructor(readonly opts: PartitionOptions) {}

  #user(user: string): ModelUser {
    let u = this.users.get(user);
    if (u === undefined) {
      u = { conns: new Map(), manual: "none" };
      this.users.set(user, u);
    }
    return u;
  }

  /** Lets time pass to `t`: conns whose deadline has come end (a timeout), manual statuses expire. */
  settle(t: number): void {
    this.clock = Math.max(this.clock, t);
    for (const u of this.users.values()) {
      const ending = [...u.conns].filter(([, c]) => c.deadline <= this.clock);
      ending.sort((x, y) => x[1].deadline - y[1].deadline);
      for (const [conn, c] of ending) {
        u.conns.delete(conn);
        if (u.conns.size === 0) u.lastEnd = c.deadline;
      }
      if (u.manualExpires !== undefined && u.manualExpires <= this.clock) {
        u.manual = "none";
        u.manualExpires = undefined;
      }
    }
  }

  /**
   * A conn is live after this; a new one is activity (connecting). A heartbeat sets the conn's
   * ttl; join/update/leave keep a live conn's own ttl (a new conn gets the command's).
   */
  #touch(
    u: ModelUser,
    conn: string,
    ttl: number,
    heartbeat = false,
  ): { deadline: number; channels: Set<string> } {
    const t = this.clock;
    let c = u.conns.get(conn);
    if (c === undefined) {
      c = { deadline: t + ttl, ttl, channels: new Set() };
      u.conns.set(conn, c);
      u.activeAt = t;
    }
    if (heartbeat) c.ttl = ttl;
    c.deadline = t + c.ttl;
    return c;
  }

  apply(cmd: Command): void {
    this.settle(cmd.at_ms);
    const t = this.clock;
    const u = this.#user(cmd.user);
    switch (cmd.type) {
      case "heartbeat":
        this.#touch(u, cmd.conn, cmd.ttl_ms, true);
        break;
      case "disconnect":
        if (u.conns.delete(cmd.conn) && u.conns.size === 0) u.lastEnd = t;
        break;
      case "activity":
        u.activeAt = t;
        break;
      case "forget":
        break; // only online/active times of an offline user: no status, no member
      case "join":
        this.#touch(u, cmd.conn, cmd.ttl_ms).channels.add(cmd.channel);
        u.activeAt = t;
        break;
      case "update":
        // Only a member's update is applied; any other is refused (409) and changes nothing.
        if (u.conns.get(cmd.conn)?.channels.has(cmd.channel) === true) {
          this.#touch(u, cmd.conn, cmd.ttl_ms);
          u.activeAt = t;
        }
        break;
      case "leave":
        this.#touch(u, cmd.conn, cmd.ttl_ms).channels.delete(cmd.channel);
        u.activeAt = t;
        break;
      case "set_status":
        u.manual = cmd.status === "auto" ? "none" : cmd.status;
        u.manualExpires = cmd.status === "auto" ? undefined : cmd.expires_at_ms;
        break;
    }
    this.settle(t); // an expires_at_ms already past
  }

  /** What others see now. */
  /** The status ignoring invisibility. */
  actual(user: string): Reported {
    const u = this.users.get(user);
    if (u === undefined) return "offline";
    const inGrace = u.lastEnd !== undefined && this.clock < u.lastEnd + this.opts.graceMs;
    if (u.conns.size === 0 && !inGrace) return "offline";
    return this.clock - (u.activeAt ?? 0) >= AWAY ? "away" : "online";
  }

  invisible(user: string): boolean {
    return this.users.get(user)?.manual === "invisible";
  }

  /** What others see now. */
  reported(user: string): Reported {
    return this.invisible(user) ? "offline" : this.actual(user);
  }

  conns(user: string): number {
    return this.users.get(user)?.conns.size ?? 0;
  }

  /** Every membership as `channel conn`. */
  allMembers(user: string): string[] {
    const u = this.users.get(user);
    if (u === undefined) return [];
    return [...u.conns].flatMap(([conn, c]) => [...c.channels].map((ch) => `${ch} ${conn}`)).sort();
  }

  /** Visible memberships as `channel conn`. */
  members(user: string): string[] {
    return this.invisible(user) ? [] : this.allMembers(user);
  }
}

// ---- what the projections get (the facts) ---------------------------------------------------

class Projection {
  readonly docs = new Map<string, StatusDoc | null>();
  /** user → `channel conn` → hidden */
  readonly members = new Map<string, Map<string, boolean>>();

  see(f: Fact): void {
    if (f.type === "user") {
      this.docs.set(f.user, f.doc);
      return;
    }
    let mine = this.members.get(f.user);
    if (mine === undefined) {
      mine = new Map();
      this.members.set(f.user, mine);
    }
    const key = `${f.channel} ${f.conn}`;
    if (f.doc === null) mine.delete(key);
    else mine.set(key, f.doc.hidden === true);
  }

  /** Compares with the model: status, conns, hidden, actual; members and their hidden flag. */
  agrees(model: Model, user: string, where: string): void {
    const doc = this.docs.get(user) ?? null;
    const hidden = model.invisible(user);
    equal(doc?.status ?? "offline", model.reported(user), `doc status of ${where}`);
    equal(doc?.conns ?? 0, model.conns(user), `doc conns of ${where}`);
    if (doc !== null) {
      equal(doc.hidden === true, hidden, `doc hidden of ${where}`);
      if (hidden) equal(doc.actual?.status, model.actual(user), `doc actual of ${where}`);
    }
    const mine = this.members.get(user) ?? new Map<string, boolean>();
    deepEqual([...mine.keys()].sort(), model.allMembers(user), `member docs of ${where}`);
    for (const [key, h] of mine) equal(h, hidden, `member ${key} hidden of ${where}`);
  }
}

// ---- what a subscriber of the public events can tell ----------------------------------------

class Observer {
  readonly status = new Map<string, { status: Reported; manual: string }>();
  readonly members = new Map<string, Set<string>>();
  readonly lastAt = new Map<string, number>();

  see(e: PublicEvent): void {
    // Per user, events come in the order they happened.
    ok(e.at_ms >= (this.lastAt.get(e.user) ?? 0), "events of a user out of order");
    this.lastAt.set(e.user, e.at_ms);
    if (e.type === "status") {
      const before = this.status.get(e.user) ?? { status: "offline", manual: "" };
      equal(e.prev, before.status, "status event with a wrong prev");
      const manual = JSON.stringify(e.manual ?? null);
      // A status event says something new: the status or the manual status changed.
      ok(e.status !== before.status || manual !== before.manual, "status event without a change");
      this.status.set(e.user, { status: e.status, manual });
      return;
    }
    let mine = this.members.get(e.user);
    if (mine === undefined) {
      mine = new Set();
      this.members.set(e.user, mine);
    }
    const key = `${e.channel} ${e.conn}`;
    const othersInChannel = [...mine].filter((k) => k !== key && k.startsWith(`${e.channel} `)).length;
    if (e.type === "join") {
      ok(!mine.has(key), "join of a visible member");
      equal(e.first === true, othersInChannel === 0, "join with a wrong first");
      mine.add(key);
    } else if (e.type === "update") {
      ok(mine.has(key), "update of an unseen member");
    } else {
      ok(mine.has(key), "leave of an unseen member");
      equal(e.last === true, othersInChannel === 0, "leave with a wrong last");
      mine.delete(key);
    }
  }

  reported(user: string): Reported {
    return this.status.get(user)?.status ?? "offline";
  }

  visible(user: string): string[] {
    return [...(this.members.get(user) ?? [])].sort();
  }
}

// ---- random scenarios -------------------------------------------------------------------------

type Spec =
  | { k: "heartbeat"; user: string; conn: string; ttl: number }
  | { k: "disconnect"; user: string; conn: string }
  | { k: "activity"; user: string }
  | { k: "forget"; user: string }
  | { k: "join"; user: string; conn: string; channel: string; ttl: number; data: number }
  | { k: "update"; user: string; conn: string; channel: string; ttl: number; data: number }
  | { k: "leave"; user: string; conn: string; channel: string; ttl: number }
  | { k: "set_status"; user: string; status: "dnd" | "invisible" | "auto"; expiresIn?: number }
  | { k: "advance" };

const user = fc.constantFrom(...USERS);
const conn = fc.constantFrom(...CONNS);
const channel = fc.constantFrom(...CHANNELS);
const ttl = fc.constantFrom(...TTLS);
const spec: fc.Arbitrary<Spec> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ k: fc.constant("heartbeat" as const), user, conn, ttl }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("disconnect" as const), user, conn }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("activity" as const), user }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("forget" as const), user }) },
  {
    weight: 4,
    arbitrary: fc.record({ k: fc.constant("join" as const), user, conn, channel, ttl, data: fc.nat(3) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ k: fc.constant("update" as const), user, conn, channel, ttl, data: fc.nat(3) }),
  },
  { weight: 3, arbitrary: fc.record({ k: fc.constant("leave" as const), user, conn, channel, ttl }) },
  {
    weight: 3,
    arbitrary: fc.record(
      {
        k: fc.constant("set_status" as const),
        user,
        status: fc.constantFrom("dnd" as const, "invisible" as const, "auto" as const),
        expiresIn: fc.integer({ min: -2000, max: 8000 }),
      },
      { requiredKeys: ["k", "user", "status"] },
    ),
  },
  { weight: 1, arbitrary: fc.constant({ k: "advance" as const }) },
);
/** Mostly short gaps, some beyond ttl, grace and away. */
const gap = fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: 0, max: 999 }) },
  { weight: 3, arbitrary: fc.integer({ min: 1000, max: 5000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 5000, max: 15_000 }) },
  { weight: 1, arbitrary: fc.constant(0) },
);
const scenario = fc.array(fc.tuple(gap, spec), { minLength: 1, maxLength: 60 });

function toSteps(items: readonly [number, Spec][]): Step[] {
  let t = T0;
  const steps: Step[] = [];
  for (const [g, s] of items) {
    t += g;
    switch (s.k) {
      case "heartbeat":
        steps.push(heartbeat(s.user, s.conn, t, s.ttl));
        break;
      case "disconnect":
        steps.push(disconnect(s.user, s.conn, t));
        break;
      case "activity":
        steps.push(activity(s.user, t));
        break;
      case "forget":
        steps.push(forget(s.user, t));
        break;
      case "join":
        steps.push(join(s.user, s.conn, s.channel, t, { n: s.data }, s.ttl));
        break;
      case "update":
        steps.push(update(s.user, s.conn, s.channel, t, { n: s.data }, s.ttl));
        break;
      case "leave":
        steps.push(leave(s.user, s.conn, s.channel, t, s.ttl));
        break;
      case "set_status":
        steps.push(
          setStatus(s.user, s.status, t, s.expiresIn === undefined ? {} : { expires_at_ms: t + s.expiresIn }),
        );
        break;
      case "advance":
        steps.push(advance(t));
        break;
    }
  }
  steps.push(advance(t + 1_000_000));
  return steps;
}

function check(steps: readonly Step[], opts: PartitionOptions): void {
  const sim = new Simulation(opts);
  const model = new Model(opts);
  const observer = new Observer();
  const projection = new Projection();
  for (const step of steps) {
    const out = sim.run(step);
    if ("advance" in step) model.settle(step.advance);
    else model.apply(step);
    for (const e of eventsOf(out)) observer.see(e);
    for (const f of factsOf(out)) projection.see(f);
    for (const u of USERS) {
      const where = `${u} after ${JSON.stringify(step)}`;
      equal(observer.reported(u), model.reported(u), `status of ${where}`);
      deepEqual(observer.visible(u), model.members(u), `members of ${where}`);
      projection.agrees(model, u, where);
    }
  }
  // Long after the last command nobody is left.
  for (const u of USERS) {
    expect(observer.reported(u)).toBe("offline");
    expect(observer.visible(u)).toEqual([]);
  }
  const ids = sim.raw.map((o) => o.msgId);
  expect(new Set(ids).size).toBe(ids.length);
  // The same commands on a fresh partition give the same bytes under the same ids.
  const again = new Simulation(opts);
  again.runAll(steps);
  expect(again.raw).toEqual(sim.raw);
}

describe("Partition against a reference model", () => {
  // Grace 0 (allowed by config), shorter than the away time, and longer than it.
  const opts = fc.constantFrom(0, 2000, 7000).map((graceMs) => ({ awayAfterMs: AWAY, graceMs }));

  it("reports the model's status and members after every step, with unique and stable ids", () => {
    fc.assert(
      fc.property(scenario, opts, (items, o) => check(toSteps(items), o)),
      { numRuns: 150 },
    );
  }, 120_000);

  it("continues from a snapshot exactly as it would have gone on", () => {
    fc.assert(
      fc.property(scenario, opts, fc.nat(), (items, o, cut) => {
        const steps = toSteps(items);
        const k = cut % (steps.length + 1);
        const whole = new Simulation(o);
        whole.runAll(steps);
        const first = new Simulation(o);
        first.runAll(steps.slice(0, k));
        // Through the bytes, as a new owner reads it.
        const saved = msgpack.decode(msgpack.encode(first.partition.save())) as SavedPartition;
        const resumed = first.resumeFrom(Partition.restore(saved, o));
        resumed.runAll(steps.slice(k));
        expect(resumed.raw).toEqual(whole.raw.slice(first.raw.length));
        expect(resumed.partition.save()).toEqual(whole.partition.save());
      }),
      { numRuns: 150 },
    );
  }, 120_000);

  it("saves in steps exactly what save() gives, pausing between the steps", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, opts, fc.integer({ min: 1, max: 4 }), async (items, o, step) => {
        const sim = new Simulation(o);
        sim.runAll(toSteps(items));
        let pauses = 0;
        const saved = await sim.partition.saveInSteps(async () => void pauses++, step);
        expect(saved).toEqual(sim.partition.save());
        const parts = sim.partition.users.size + sim.partition.timers.size;
        expect(pauses).toBe(Math.floor(parts / step));
      }),
      { numRuns: 100 },
    );
  }, 120_000);
});
