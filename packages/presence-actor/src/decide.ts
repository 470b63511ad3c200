/**
 * The presence machine's pure transitions, without xstate's per-call overhead.
 *
 * xstate's `transition()` and `initialTransition()` build a throwaway actor for every call,
 * and that actor computes an initial snapshot of the machine (with no input, which throws and
 * catches an error inside); that is about 90 % of their cost. Here the same inert actor scope
 * is built once and handed to the machine's own `transition` / `getInitialSnapshot`, which is
 * all those functions do besides. The machine decides exactly as with `transition()` — same
 * snapshot, same actions (checked by `decide.unit.test.ts`) — which is safe because it neither
 * spawns, nor sends to, other actors, the only things the scope would be used for.
 */
import { type AnyActorScope, createActor, type ExecutableActionsFrom } from "xstate";
import { type PresenceEvent, type PresenceInput, presenceMachine } from "./machine.js";
import type { PresenceSnapshot } from "./user.js";

type Actions = ExecutableActionsFrom<typeof presenceMachine>[];

let collected: Actions = [];
const self = createActor(presenceMachine, { input: { user: "", awayAfterMs: 1, graceMs: 0 } });
const scope: AnyActorScope = {
  self,
  defer: () => {},
  id: "",
  logger: () => {},
  sessionId: "",
  stopChild: () => {},
  system: self.system,
  emit: () => {},
  actionExecutor: (action) => {
    collected.push(action as Actions[number]);
  },
};

/** Like xstate's `initialTransition(presenceMachine, input)`. */
export function initial(input: PresenceInput): [PresenceSnapshot, Actions] {
  const actions: Actions = [];
  collected = actions;
  const snapshot = presenceMachine.getInitialSnapshot(scope, input);
  return [snapshot, actions];
}

/** Like xstate's `transition(presenceMachine, snapshot, event)`. */
export function decide(snapshot: PresenceSnapshot, event: PresenceEvent): [PresenceSnapshot, Actions] {
  const actions: Actions = [];
  collected = actions;
  const next = presenceMachine.transition(snapshot, event, scope);
  return [next, actions];
}

/**
 * Compact storage: a user keeps only the machine's state value and context, and the value is
 * one shared object per distinct state (a handful exist). `materialize` turns them back into a
 * snapshot to decide with — a copy of a snapshot of the machine in that state, taken once by
 * `resolveState`, with the user's context — so a million idle users cost no snapshot objects.
 */
type StateValue = PresenceSnapshot["value"];
const templatesByKey = new Map<string, PresenceSnapshot>();
const templatesByValue = new Map<StateValue, PresenceSnapshot>();
/** A template's own context is never used: `materialize` replaces it. */
const TEMPLATE_CONTEXT: PresenceSnapshot["context"] = { user: "", awayAfterMs: 1, graceMs: 0, conns: [] };

/** The shared object for `value` (equal values give the same object). */
export function internState(value: StateValue): StateValue {
  if (templatesByValue.has(value)) return value;
  const key = JSON.stringify(value);
  let template = templatesByKey.get(key);
  if (template === undefined) {
    template = presenceMachine.resolveState({ value, context: TEMPLATE_CONTEXT });
    templatesByKey.set(key, template);
    templatesByValue.set(template.value, template);
  }
  return template.value;
}

/** A snapshot of the machine in state `value` with `context`. */
export function materialize(value: StateValue, context: PresenceSnapshot["context"]): PresenceSnapshot {
  const template = templatesByValue.get(internState(value)) as PresenceSnapshot;
  return { ...template, context } as PresenceSnapshot;
}
