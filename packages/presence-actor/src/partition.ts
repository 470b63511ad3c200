/**
 * One partition of users: a router from commands to their users' machines, one deadline heap
 * for all their timers, and a logical clock. Pure: commands and the passing of time go in, the
 * messages to append come out (docs/PRESENCE.md); the runner only moves bytes between JetStream
 * and this. What a command means is the machine's to decide (machine.ts).
 */
import {
  type Command,
  encodeFact,
  encodeToken,
  type Fact,
  fnv1a32,
  internalSubjects,
  json,
} from "@herald/protocol";
import type { AnyEventObject } from "xstate";
import type { MachineEvent, PresenceSettings } from "./machine.js";
import { NO_DATA } from "./memberships.js";
import type { PublicEvent, StepOutputs } from "./outputs.js";
import { type Due, Scheduler } from "./scheduler.js";
import { newEffects, type Refusal, type StepEffects, UserEntity } from "./user.js";
import { restoreUser, saveUser } from "./user-codec.js";
import { internState, type StateValue } from "./xstate-pure.js";

/** The settings every user of the partition runs with. */
export type PartitionOptions = PresenceSettings;

/**
 * One message a partition appends to the events stream (or, from its runner, a dead letter),
 * with its deterministic de-duplication id.
 */
/** What an output is, for the metrics: a public event by its type, a fact, or a dead letter. */
export type OutputKind = PublicEvent["type"] | "fact" | "dead_letter";

export interface Output {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly msgId: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly kind?: OutputKind;
}

/**
 * What a timer fires: a conn's deadline (the conn), or one of the machine's own delayed events
 * (one shared object per type). The user is the start of the timer's key, so it is not stored.
 */
type TimerPayload = string | AnyEventObject;

/** Version of {@link SavedPartition}; a snapshot of another version is ignored (replay instead). */
export const SNAPSHOT_VERSION = 4;

/** A partition's state as plain data, for snapshots. */
export interface SavedPartition {
  readonly v: typeof SNAPSHOT_VERSION;
  readonly partition: number;
  readonly clock: number;
  /** The distinct machine state values (JSON); users refer to them by index. */
  readonly states: readonly string[];
  /** Every user, flat (see `saveUser`): no object per user, quick to encode and decode. */
  readonly users: readonly unknown[];
  /** Every timer, flat: key, deadline, then the conn (a conn deadline) or null and the event type. */
  readonly timers: readonly unknown[];
}

function isEmpty(data: Record<string, unknown>): boolean {
  for (const _ in data) return false;
  return true;
}

/** A key part for a conn's deadline: `<user>\0t<conn>`. */
const CONN_TIMER = "t";
const codes = new Map<string, string>();
/**
 * A short key part for one of the machine's timer ids (`xstate.after.awayAfter.presence.…`,
 * 45 bytes, in two keys per online user): `m` + its FNV-1a hash. Deterministic, so a replay
 * gives a timer's outputs the same ids.
 */
function timerCode(id: string): string {
  let code = codes.get(id);
  if (code === undefined) {
    code = `m${fnv1a32(id).toString(36)}`;
    codes.set(id, code);
  }
  return code;
}
const events = new Map<string, AnyEventObject>();
/** The machine's own delayed events carry only a type: one object per type. */
function sharedEvent(event: AnyEventObject): AnyEventObject {
  if (Object.keys(event).length !== 1) return event;
  let shared = events.get(event.type);
  if (shared === undefined) {
    shared = event;
    events.set(event.type, event);
  }
  return shared;
}
const SEP = "\u0000";
/** The user a timer key belongs to (`<user>\0…`). */
const userOfKey = (key: string): string => key.slice(0, key.indexOf(SEP));
const connKey = (user: string, conn: string): string => `${user}${SEP}${CONN_TIMER}${conn}`;

/** A command type the switch below does not handle fails to compile here. */
function unhandled(cmd: never): never {
  throw new Error(`unhandled command ${JSON.stringify(cmd)}`);
}

export class Partition {
  readonly users = new Map<string, UserEntity>();
  readonly timers = new Scheduler<TimerPayload>();
  /** Logical time: the latest command stamp or timer deadline seen; never goes back. */
  clock = 0;
  /** Counters for logs and tests. */
  readonly stats = { commands: 0, heartbeatsNoChange: 0, transitions: 0, timersFired: 0 };

  /** Channel names held once for every member (for tests and stats). */
  get channelNames(): number {
    return this.#channels.size;
  }
  /** One string per channel name in use (released when no member holds it; see `#saving`). */
  #channels = new Map<string, string>();

  /** One settings object, shared by every user's context. */
  readonly #settings: PresenceSettings;

  constructor(
    readonly id: number,
    opts: PartitionOptions,
  ) {
    this.#settings = Object.freeze({ ...opts });
  }

  /**
   * Applies one command. Timers due at or before its stamp fire first, so time runs forward
   * in stamp order. `msgIdBase` makes the ids of what it produces deterministic (the command's
   * stream sequence and index), so re-applying after a crash appends nothing twice. Returns why
   * the command was refused (it then changed nothing), or undefined.
   */
  apply(cmd: Command, msgIdBase: string, out: Output[]): Refusal | undefined {
    this.advance(cmd.at_ms, out);
    this.stats.commands++;
    const at = this.clock;
    // One lookup per command; and one string per user in memory, the one its entity holds
    // (commands bring new copies).
    const known = this.users.get(cmd.user);
    if (cmd.type === "heartbeat" && known?.connTtl(cmd.conn) === cmd.ttl_ms) {
      // The hot path: a heartbeat of a live conn with its ttl unchanged only moves the conn's
      // deadline (what the machine would ask for), with no transition. Nothing else can be due:
      // every timer due by the clock fired above.
      this.stats.heartbeatsNoChange++;
      this.#armConn(known.user, cmd.conn, at + cmd.ttl_ms);
      return undefined;
    }
    const effects = newEffects();
    const entity = known ?? UserEntity.create({ user: cmd.user, settings: this.#settings }, effects);
    const result: StepOutputs = { events: [], facts: [] };
    if (entity.step(this.#event(cmd, at), result, effects)) this.stats.transitions++;
    // A user is kept while there is something to remember of them: a blank one has no timer
    // but those its step cancels, and a new blank one is never stored.
    const blank = entity.isBlank();
    if (known !== undefined || !blank) this.#applyEffects(entity.user, effects);
    if (blank) this.users.delete(entity.user);
    else if (known === undefined) this.users.set(entity.user, entity);
    // Every timer due by the clock fired before the command, so any due now was armed by it with
    // no delay (a grace of 0, an expires_at_ms already past). It fires now, as part of the
    // command and under its ids: a timer's own id (key and time) would repeat when the same
    // timer is armed again within the same millisecond.
    for (let due = this.timers.next(this.clock); due !== undefined; due = this.timers.next(this.clock)) {
      this.#fire(due, result);
    }
    this.#emit(result, msgIdBase, out);
    return effects.refusal;
  }

  /** Fires every timer due at or before `now` (in deadline order), moving the clock forward. */
  advance(now: number, out: Output[]): void {
    for (let due = this.timers.next(now); due !== undefined; due = this.timers.next(now)) {
      this.clock = Math.max(this.clock, due.at);
      const result: StepOutputs = { events: [], facts: [] };
      this.#fire(due, result);
      const user = userOfKey(due.key);
      this.#emit(
        result,
        `t.${encodeToken(user)}.${encodeToken(due.key.slice(user.length + 1))}.${due.at}`,
        out,
      );
    }
    this.clock = Math.max(this.clock, now);
  }

  /**
   * The partition's whole state as plain data (users, timers, clock). A partition restored from
   * it behaves exactly like this one: same outputs, same ids, timers in the same order.
   */
  save(): SavedPartition {
    const saving = this.#saving(Number.POSITIVE_INFINITY);
    for (;;) {
      const step = saving.next();
      if (step.done === true) return step.value;
    }
  }

  /**
   * `save()` in steps of `step` users or timers, awaiting `pause()` between them, so a large
   * partition does not hold the event loop; nothing may change the partition meanwhile.
   */
  async saveInSteps(pause: () => Promise<void>, step: number): Promise<SavedPartition> {
    const saving = this.#saving(step);
    for (;;) {
      const next = saving.next();
      if (next.done === true) return next.value;
      await pause();
    }
  }

  *#saving(step: number): Generator<void, SavedPartition> {
    const states = new Map<string, number>();
    const users: unknown[] = [];
    // The channel names members hold now: those no member holds any more are released.
    const inUse = new Map<string, string>();
    let n = 0;
    for (const entity of this.users.values()) {
      saveUser(entity, users, states);
      for (const c of entity.context.conns) for (const m of c.channels) inUse.set(m.channel, m.channel);
      if (++n % step === 0) yield;
    }
    this.#channels = inUse;
    const timers: unknown[] = [];
    for (const t of this.timers.entries()) {
      const p = t.payload;
      if (typeof p === "string") timers.push(t.key, t.at, p, null);
      else timers.push(t.key, t.at, null, p.type);
      if (++n % step === 0) yield;
    }
    return {
      v: SNAPSHOT_VERSION,
      partition: this.id,
      clock: this.clock,
      states: [...states.keys()],
      users,
      timers,
    };
  }

  /** A partition in the state `saved` describes. */
  static restore(saved: SavedPartition, opts: PartitionOptions): Partition {
    const p = new Partition(saved.partition, opts);
    p.clock = saved.clock;
    // Each distinct state once, as the shared object users hold.
    const states = saved.states.map((json) => internState(JSON.parse(json) as StateValue));
    const channel = (name: string) => p.#channel(name);
    for (let i = 0; i < saved.users.length; ) {
      const [entity, next] = restoreUser(saved.users, i, states, p.#settings, channel);
      p.users.set(entity.user, entity);
      i = next;
    }
    const t = saved.timers;
    for (let i = 0; i < t.length; i += 4) {
      const conn = t[i + 2] as string | null;
      const payload: TimerPayload = conn ?? sharedEvent({ type: t[i + 3] as string });
      p.timers.schedule(t[i] as string, t[i + 1] as number, payload);
    }
    return p;
  }

  /** The machine event of a command (every command type maps to one). */
  #event(cmd: Command, at: number): MachineEvent {
    switch (cmd.type) {
      case "heartbeat":
        return { type: "HEARTBEAT", conn: cmd.conn, ttl: cmd.ttl_ms, at };
      case "disconnect":
        return { type: "DISCONNECT", conn: cmd.conn, at };
      case "activity":
        return { type: "ACTIVITY", at };
      case "forget":
        return { type: "FORGET", at };
      case "join":
      case "update":
        return {
          type: cmd.type === "join" ? "JOIN" : "UPDATE",
          conn: cmd.conn,
          channel: this.#channel(cmd.channel),
          data: isEmpty(cmd.data) ? NO_DATA : cmd.data,
          ttl: cmd.ttl_ms,
          at,
        };
      case "leave":
        return { type: "LEAVE", conn: cmd.conn, channel: this.#channel(cmd.channel), ttl: cmd.ttl_ms, at };
      case "set_status": {
        const event: MachineEvent = { type: "SET_STATUS", status: cmd.status, at };
        if (cmd.text !== undefined) event.text = cmd.text;
        if (cmd.emoji !== undefined) event.emoji = cmd.emoji;
        if (cmd.expires_at_ms !== undefined) event.expires_at_ms = cmd.expires_at_ms;
        return event;
      }
      default:
        return unhandled(cmd);
    }
  }

  /** Runs one due timer's event through its user's machine. */
  #fire(due: Due<TimerPayload>, result: StepOutputs): void {
    this.stats.timersFired++;
    const entity = this.users.get(userOfKey(due.key));
    if (entity === undefined) return;
    const p = due.payload;
    const event =
      typeof p === "string" ? { type: "CONN_TIMEOUT" as const, conn: p, at: due.at } : { ...p, at: due.at };
    const effects = newEffects();
    if (entity.step(event, result, effects)) this.stats.transitions++;
    this.#applyEffects(entity.user, effects);
    if (entity.isBlank()) this.users.delete(entity.user);
  }

  /** Channel names are shared by many users: one string per name. */
  #channel(name: string): string {
    let interned = this.#channels.get(name);
    if (interned === undefined) {
      interned = name;
      this.#channels.set(name, name);
    }
    return interned;
  }

  #armConn(user: string, conn: string, at: number): void {
    const key = connKey(user, conn);
    // Usually the deadline exists and only moves (one lookup, no new objects).
    if (this.timers.reschedule(key, at) === undefined) this.timers.schedule(key, at, conn);
  }

  #applyEffects(user: string, effects: StepEffects): void {
    for (const d of effects.deadlines) {
      if (d.at === undefined) this.timers.cancel(connKey(user, d.conn));
      else this.#armConn(user, d.conn, d.at);
    }
    for (const op of effects.delayed) {
      const key = `${user}${SEP}${timerCode(op.id)}`;
      if (op.op === "cancel") this.timers.cancel(key);
      else this.timers.schedule(key, op.at, sharedEvent(op.event));
    }
  }

  #emit(result: StepOutputs, msgIdBase: string, out: Output[]): void {
    let k = 0;
    for (const e of result.events) {
      out.push({
        subject: eventSubject(e),
        data: json.encode(e),
        msgId: `${msgIdBase}.${k++}`,
        kind: e.type,
      });
    }
    for (const f of result.facts) {
      out.push({ subject: factSubject(f), data: encodeFact(f), msgId: `${msgIdBase}.${k++}`, kind: "fact" });
    }
  }
}

function eventSubject(e: PublicEvent): string {
  return e.type === "status" ? internalSubjects.userEvent(e.user) : internalSubjects.channelEvent(e.channel);
}

function factSubject(f: Fact): string {
  return f.type === "user"
    ? internalSubjects.userFact(f.user)
    : internalSubjects.memberFact(f.channel, f.user, f.conn);
}
