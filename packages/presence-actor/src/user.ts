/**
 * One user: the machine's state value and context, and the step that runs one event through
 * the machine and collects what it asked for — outputs (outputs.ts), delayed machine events,
 * conn deadlines and a refusal, if any. The machine decides; this only carries.
 */
import type { AnyEventObject } from "xstate";
import type { Change, MachineEvent, PresenceContext, PresenceInput } from "./machine.js";
import { findConn } from "./memberships.js";
import { collectOutputs, type StepOutputs } from "./outputs.js";
import { actualStatus } from "./status-doc.js";
import {
  type DelayedOp,
  decide,
  delayedOp,
  emitted,
  initial,
  internState,
  type MachineAction,
  materialize,
  type StateValue,
} from "./xstate-pure.js";

/** A conn's deadline to set (`at`), or to clear (`at` undefined). */
export interface ConnDeadline {
  readonly conn: string;
  readonly at: number | undefined;
}

/** Why a command was refused, with its public error code; it changed nothing. */
export interface Refusal {
  readonly code: number;
  readonly message: string;
}

/** What a step asks of its caller besides outputs. */
export interface StepEffects {
  readonly delayed: DelayedOp[];
  readonly deadlines: ConnDeadline[];
  refusal?: Refusal;
}

export const newEffects = (): StepEffects => ({ delayed: [], deadlines: [] });

export class UserEntity {
  /** The machine's state value: a shared object per distinct state (`internState`). */
  value: StateValue;

  constructor(
    value: StateValue,
    public context: PresenceContext,
  ) {
    this.value = internState(value);
  }

  /** A new user in the machine's initial state. */
  static create(input: PresenceInput, effects: StepEffects): UserEntity {
    const [snapshot, actions] = initial(input);
    collectEffects(actions, 0, effects, []);
    return new UserEntity(snapshot.value, snapshot.context);
  }

  get user(): string {
    return this.context.user;
  }

  /** The ttl of a live conn, or undefined when the conn is not live. */
  connTtl(conn: string): number | undefined {
    return findConn(this.context.conns, conn)?.ttl;
  }

  /** Offline with nothing to remember: no conn, no times, no manual status (and so no timer). */
  isBlank(): boolean {
    const c = this.context;
    return (
      c.conns.length === 0 &&
      c.activeAt === undefined &&
      c.onlineAt === undefined &&
      c.manual === undefined &&
      actualStatus(this) === "offline"
    );
  }

  /**
   * Runs one event through the machine and appends what others see to `out`; what else it asked
   * for goes to `effects`. Returns false when the machine did not change.
   */
  step(
    event: MachineEvent | (AnyEventObject & { at: number }),
    out: StepOutputs,
    effects: StepEffects,
  ): boolean {
    const before = materialize(this.value, this.context);
    const [after, actions] = decide(before, event);
    const changes: Change[] = [];
    collectEffects(actions, event.at, effects, changes);
    const changed = after !== before && (after.value !== before.value || after.context !== before.context);
    if (changed) {
      this.value = internState(after.value);
      this.context = after.context;
    }
    collectOutputs(before, this, changes, event.at, out);
    return changed;
  }
}

/** Sorts the machine's actions into effects and reported changes. */
function collectEffects(
  actions: readonly MachineAction[],
  at: number,
  effects: StepEffects,
  changes: Change[],
): void {
  for (const action of actions) {
    const e = emitted(action);
    if (e === undefined) {
      const op = delayedOp(action, at);
      if (op !== undefined) effects.delayed.push(op);
      continue;
    }
    switch (e.type) {
      case "armConnTimeout":
        effects.deadlines.push({ conn: e.conn, at: at + e.ttl });
        break;
      case "cancelConnTimeout":
        effects.deadlines.push({ conn: e.conn, at: undefined });
        break;
      case "rejected":
        effects.refusal = { code: e.code, message: e.message };
        break;
      default:
        changes.push(e);
    }
  }
}
