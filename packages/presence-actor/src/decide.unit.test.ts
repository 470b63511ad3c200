import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { initialTransition, transition } from "xstate";
import { decide, initial } from "./decide.js";
import { type PresenceEvent, presenceMachine } from "./machine.js";

const conn = fc.constantFrom("a", "b");
const channel = fc.constantFrom("c1", "c2");
const event: fc.Arbitrary<Omit<PresenceEvent, "at">> = fc.oneof(
  fc.record({ type: fc.constant("CONNECT" as const), conn }),
  fc.record({ type: fc.constant("DISCONNECT" as const), conn }),
  fc.record({ type: fc.constant("CONN_TIMEOUT" as const), conn }),
  fc.record({ type: fc.constant("ACTIVITY" as const) }),
  fc.record({ type: fc.constant("FORGET" as const) }),
  fc.record({ type: fc.constant("JOIN" as const), conn, channel, data: fc.constant({ x: 1 }) }),
  fc.record({ type: fc.constant("UPDATE" as const), conn, channel, data: fc.constant({ x: 2 }) }),
  fc.record({ type: fc.constant("LEAVE" as const), conn, channel }),
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
) as fc.Arbitrary<Omit<PresenceEvent, "at">>;

const plain = (actions: readonly { type: string; params?: unknown }[]) =>
  actions.map((a) => ({ type: a.type, params: a.params }));

describe("decide", () => {
  it("decides exactly as xstate's transition(): same state, context and actions", () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 40 }), (events) => {
        const input = { user: "u", awayAfterMs: 4000, graceMs: 1000 };
        let [mine, myActions] = initial(input);
        let [theirs, theirActions] = initialTransition(presenceMachine, input);
        expect(plain(myActions)).toEqual(plain(theirActions));
        let at = 0;
        for (const e of events) {
          at += 700;
          const ev = { ...e, at } as PresenceEvent;
          [mine, myActions] = decide(mine, ev);
          [theirs, theirActions] = transition(presenceMachine, theirs, ev);
          expect(mine.value).toEqual(theirs.value);
          expect(mine.context).toEqual(theirs.context);
          expect(plain(myActions)).toEqual(plain(theirActions));
        }
      }),
      { numRuns: 300 },
    );
  });
});
