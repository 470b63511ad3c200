/**
 * What xstate-pure.ts relies on beyond xstate's public API. If an xstate upgrade changes any of
 * it, a test here fails (xstate is pinned to an exact version in package.json).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { initialTransition, transition } from "xstate";
import { type MachineEvent, presenceMachine } from "./machine.js";
import { decide, delayedOp, initial, internState, materialize, statusOfState } from "./xstate-pure.js";

const conn = fc.constantFrom("a", "b");
const channel = fc.constantFrom("c1", "c2");
const ttl = fc.constantFrom(1000, 2000);
const event: fc.Arbitrary<Omit<MachineEvent, "at">> = fc.oneof(
  fc.record({ type: fc.constant("HEARTBEAT" as const), conn, ttl }),
  fc.record({ type: fc.constant("DISCONNECT" as const), conn }),
  fc.record({ type: fc.constant("CONN_TIMEOUT" as const), conn }),
  fc.record({ type: fc.constant("ACTIVITY" as const) }),
  fc.record({ type: fc.constant("FORGET" as const) }),
  fc.record({ type: fc.constant("JOIN" as const), conn, channel, data: fc.constant({ x: 1 }), ttl }),
  fc.record({ type: fc.constant("UPDATE" as const), conn, channel, data: fc.constant({ x: 2 }), ttl }),
  fc.record({ type: fc.constant("LEAVE" as const), conn, channel, ttl }),
  fc.record({
    type: fc.constant("SET_STATUS" as const),
    status: fc.constantFrom("dnd" as const, "invisible" as const, "auto" as const),
  }),
  // The delayed events the machine raises for itself.
  fc.constantFrom(
    { type: "xstate.after.awayAfter.presence.status.online" },
    { type: "xstate.after.grace.presence.status.grace" },
    { type: "xstate.after.awayRemaining.presence.status.grace.online" },
  ),
) as fc.Arbitrary<Omit<MachineEvent, "at">>;

const plain = (actions: readonly { type: string; params?: unknown }[]) =>
  actions.map((a) => ({ type: a.type, params: a.params }));

const input = {
  user: "u",
  settings: { awayAfterMs: 4000, graceMs: 1000, maxConns: 2, maxChannels: 1, retentionMs: 9000 },
};

describe("decide", () => {
  it("decides exactly as xstate's transition(): same state, context and actions", () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 40 }), (events) => {
        let [mine, myActions] = initial(input);
        let [theirs, theirActions] = initialTransition(presenceMachine, input);
        expect(plain(myActions)).toEqual(plain(theirActions));
        let at = 0;
        for (const e of events) {
          at += 700;
          const ev = { ...e, at } as MachineEvent;
          [mine, myActions] = decide(mine, ev);
          [theirs, theirActions] = transition(presenceMachine, theirs, ev);
          expect(mine.value).toEqual(theirs.value);
          expect(mine.context).toEqual(theirs.context);
          expect(plain(myActions)).toEqual(plain(theirActions));
          // A snapshot rebuilt from the state value and context decides the same.
          const again = materialize(mine.value, mine.context);
          expect(again.value).toEqual(mine.value);
          expect(again.context).toBe(mine.context);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("xstate's delayed raise and cancel actions", () => {
  it("carry the event, the delay and the id the machine gave them", () => {
    const [online, actions] = transition(presenceMachine, initialTransition(presenceMachine, input)[0], {
      type: "HEARTBEAT",
      conn: "a",
      ttl: 1000,
      at: 10_000,
    } as MachineEvent);
    const ops = actions.map((a) => delayedOp(a, 10_000)).filter((op) => op !== undefined);
    expect(ops).toEqual([
      {
        op: "schedule",
        id: "xstate.after.awayAfter.presence.status.online",
        at: 14_000,
        event: { type: "xstate.after.awayAfter.presence.status.online" },
      },
    ]);
    const [, more] = transition(presenceMachine, online, { type: "ACTIVITY", at: 11_000 } as MachineEvent);
    expect(more.map((a) => delayedOp(a, 11_000)).filter((op) => op !== undefined)).toEqual([
      { op: "cancel", id: "xstate.after.awayAfter.presence.status.online" },
      {
        op: "schedule",
        id: "xstate.after.awayAfter.presence.status.online",
        at: 15_000,
        event: { type: "xstate.after.awayAfter.presence.status.online" },
      },
    ]);
  });
});

describe("state values", () => {
  it("are shared objects per distinct state, with the status of the machine's tags", () => {
    const [start] = initial(input);
    const [online] = decide(start, { type: "HEARTBEAT", conn: "a", ttl: 1000, at: 1 });
    const [grace] = decide(online, { type: "DISCONNECT", conn: "a", at: 2 });
    expect(internState(JSON.parse(JSON.stringify(online.value)))).toBe(internState(online.value));
    expect([start, online, grace].map((s) => statusOfState(s.value))).toEqual([
      "offline",
      "online",
      "online",
    ]);
    const [graceAway] = decide(grace, {
      type: "xstate.after.awayRemaining.presence.status.grace.online",
      at: 5000,
    } as unknown as MachineEvent);
    expect(statusOfState(graceAway.value)).toBe("away");
  });
});
