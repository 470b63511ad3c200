/**
 * Everything that relies on xstate beyond its public API, in one place (xstate is pinned to an
 * exact version; `xstate-pure.unit.test.ts` fails if an upgrade changes what this relies on).
 *
 * 1. Pure transitions without xstate's per-call overhead. xstate's `transition()` and
 *    `initialTransition()` build a throwaway actor for every call, which computes an initial
 *    snapshot of the machine — about 90 % of their cost. Here one inert actor scope is built
 *    once and handed to the machine's own `transition` / `getInitialSnapshot`, which is all
 *    those functions do besides. Safe because the machine neither spawns nor sends to other
 *    actors, the only things the scope would be used for.
 * 2. Compact users: a user keeps only the machine's state value and context, and the value is
 *    one shared object per distinct state (a handful exist). `materialize` turns them back into
 *    a snapshot to decide with — a copy of a snapshot of the machine in that state, taken once by
 *    `resolveState`, with the user's context.
 * 3. What the machine asks for, read from the actions a transition returns: delayed events
 *    (`xstate.raise` actions with a delay, cancelled by `xstate.cancel` actions) and what it
 *    emits (`xstate.emit` actions); their params are read here.
 */

import type { Status } from "@herald/protocol";
import {
  type AnyActorScope,
  type AnyEventObject,
  createActor,
  type ExecutableActionsFrom,
  type SnapshotFrom,
} from "xstate";
import { type Emitted, type MachineEvent, type PresenceInput, presenceMachine } from "./machine.js";

export type PresenceSnapshot = SnapshotFrom<typeof presenceMachine>;
export type StateValue = PresenceSnapshot["value"];
export type MachineAction = ExecutableActionsFrom<typeof presenceMachine>;

let collected: MachineAction[] = [];
const self = createActor(presenceMachine, { input: { user: "", settings: { awayAfterMs: 1, graceMs: 0 } } });
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
    collected.push(action as MachineAction);
  },
};

/** Like xstate's `initialTransition(presenceMachine, input)`. */
export function initial(input: PresenceInput): [PresenceSnapshot, MachineAction[]] {
  const actions: MachineAction[] = [];
  collected = actions;
  const snapshot = presenceMachine.getInitialSnapshot(scope, input);
  return [snapshot, actions];
}

/** Like xstate's `transition(presenceMachine, snapshot, event)`. */
export function decide(
  snapshot: PresenceSnapshot,
  event: MachineEvent | (AnyEventObject & { at: number }),
): [PresenceSnapshot, MachineAction[]] {
  const actions: MachineAction[] = [];
  collected = actions;
  const next = presenceMachine.transition(snapshot, event as MachineEvent, scope);
  return [next, actions];
}

interface Template {
  readonly snapshot: PresenceSnapshot;
  /** The status the machine's tags give this state (ignoring manual status). */
  readonly status: Status;
}

const templatesByKey = new Map<string, Template>();
const templatesByValue = new Map<StateValue, Template>();
/** A template's own context is never used: `materialize` replaces it. */
const TEMPLATE_CONTEXT: PresenceSnapshot["context"] = {
  user: "",
  settings: { awayAfterMs: 1, graceMs: 0 },
  conns: [],
  activeAt: undefined,
  reportedActiveAt: undefined,
  onlineAt: undefined,
  manual: undefined,
};

function template(value: StateValue): Template {
  const shared = templatesByValue.get(value);
  if (shared !== undefined) return shared;
  const key = JSON.stringify(value);
  let made = templatesByKey.get(key);
  if (made === undefined) {
    const snapshot = presenceMachine.resolveState({ value, context: TEMPLATE_CONTEXT });
    const status: Status = snapshot.hasTag("online")
      ? "online"
      : snapshot.hasTag("away")
        ? "away"
        : "offline";
    made = { snapshot, status };
    templatesByKey.set(key, made);
    templatesByValue.set(snapshot.value, made);
  }
  return made;
}

/** The shared object for `value` (equal values give the same object). */
export function internState(value: StateValue): StateValue {
  return template(value).snapshot.value;
}

/** The status a state means, by the machine's tags (online, away, otherwise offline). */
export function statusOfState(value: StateValue): Status {
  return template(value).status;
}

/** A snapshot of the machine in state `value` with `context`. */
export function materialize(value: StateValue, context: PresenceSnapshot["context"]): PresenceSnapshot {
  return { ...template(value).snapshot, context } as PresenceSnapshot;
}

/** A delayed machine event to (re)arm, or one to cancel, keyed by the machine's id for it. */
export type DelayedOp =
  | { readonly op: "schedule"; readonly id: string; readonly at: number; readonly event: AnyEventObject }
  | { readonly op: "cancel"; readonly id: string };

/**
 * The delayed-event operations among `action` (xstate's delayed raise and cancel), or undefined
 * when it is neither.
 */
export function delayedOp(action: MachineAction, at: number): DelayedOp | undefined {
  const a = action as { type: string; params?: unknown };
  if (a.type === "xstate.raise") {
    const p = a.params as { event: AnyEventObject; delay?: number; id?: string };
    if (p.delay === undefined) return undefined;
    return { op: "schedule", id: p.id ?? p.event.type, at: at + p.delay, event: p.event };
  }
  if (a.type === "xstate.cancel") return { op: "cancel", id: (a.params as { sendId: string }).sendId };
  return undefined;
}

/** What the machine emitted with `action` (xstate's emit), or undefined when it is not an emit. */
export function emitted(action: MachineAction): Emitted | undefined {
  const a = action as { type: string; params?: unknown };
  return a.type === "xstate.emit" ? (a.params as { event: Emitted }).event : undefined;
}
