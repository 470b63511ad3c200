/**
 * One partition of users: their entities, their timers, and a logical clock. Pure: commands and
 * the passing of time go in, the messages to append come out (docs/PRESENCE.md). The adapter
 * only moves bytes between JetStream and this.
 */
import {
  type ChannelEvent,
  type Command,
  encodeFact,
  encodeToken,
  type Fact,
  fnv1a32,
  internalSubjects,
  json,
  type StatusEvent,
} from "@herald/protocol";
import type { AnyEventObject } from "xstate";
import { internState } from "./decide.js";
import { NO_DATA, type PresenceEvent } from "./machine.js";
import { type Due, Scheduler } from "./scheduler.js";
import { type Outputs, type TimerOp, UserEntity } from "./user.js";

/** One message for the events stream, with its deterministic de-duplication id. */
export interface Outgoing {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly msgId: string;
}

export interface PartitionOptions {
  readonly awayAfterMs: number;
  readonly graceMs: number;
}

const CONN_TIMEOUT = "CONN_TIMEOUT";

/** A conn's deadline: its `CONN_TIMEOUT` event is made when it fires. */
class ConnDeadline {
  constructor(
    readonly conn: string,
    /** The ttl that set it. */
    readonly ttl: number,
  ) {}
}

/**
 * What a timer fires: a conn's deadline, or one of the machine's own delayed events (shared
 * per type). The user is the start of the timer's key, so it is not stored again.
 */
type TimerPayload = ConnDeadline | AnyEventObject;

/** Version of {@link SavedPartition}; a snapshot of another version is ignored (replay instead). */
export const SNAPSHOT_VERSION = 2;

/** A partition's state as plain data, for snapshots. */
export interface SavedPartition {
  readonly v: typeof SNAPSHOT_VERSION;
  readonly partition: number;
  readonly clock: number;
  /** The distinct machine state values (JSON); users refer to them by index. */
  readonly states: readonly string[];
  /** Every user, flat (see `UserEntity.save`): no object per user, quick to encode and decode. */
  readonly users: readonly unknown[];
  /** Every timer, flat: key, deadline, event type, conn or null, ttl or null. */
  readonly timers: readonly unknown[];
}

function isEmpty(data: Record<string, unknown>): boolean {
  for (const _ in data) return false;
  return true;
}

/** A conn's deadline: key `<user>\0t<conn>`. */
const TTL_PREFIX = "t";
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

export class Partition {
  readonly users = new Map<string, UserEntity>();
  readonly timers = new Scheduler<TimerPayload>();
  /** Logical time: the latest command stamp or timer deadline seen; never goes back. */
  clock = 0;
  /** Counters for logs and tests. */
  readonly stats = { commands: 0, heartbeatsNoChange: 0, transitions: 0, timersFired: 0 };
  readonly #channels = new Map<string, string>();

  constructor(
    readonly id: number,
    private readonly opts: PartitionOptions,
  ) {}

  /**
   * Applies one command. Timers due at or before its stamp fire first, so time runs forward
   * in stamp order. `msgIdBase` makes the ids of what it produces deterministic (the command's
   * stream sequence and index), so re-applying after a crash appends nothing twice.
   */
  apply(cmd: Command, msgIdBase: string, out: Outgoing[]): void {
    this.advance(cmd.at_ms, out);
    this.stats.commands++;
    const at = this.clock;
    // One lookup per command; and one string per user in memory, the one its entity holds
    // (commands bring new copies).
    const known = this.users.get(cmd.user);
    if (cmd.type === "heartbeat" && known?.isLive(cmd.conn) === true) {
      // The hot path: a live conn's heartbeat only moves its deadline. No transition, and
      // nothing else can be due (every timer due by the clock fired above).
      this.stats.heartbeatsNoChange++;
      this.#armTtl(known.context.user, cmd.conn, at + cmd.ttl_ms, cmd.ttl_ms);
      return;
    }
    const user = known?.context.user ?? cmd.user;
    const result: Outputs = { events: [], facts: [] };
    const timers: TimerOp[] = [];
    switch (cmd.type) {
      case "heartbeat": {
        const entity = this.#entity(known, user, timers);
        this.#step(entity, { type: "CONNECT", conn: cmd.conn, at }, result, timers);
        this.#armTtl(user, cmd.conn, at + cmd.ttl_ms, cmd.ttl_ms);
        break;
      }
      case "disconnect": {
        const entity = known;
        if (entity === undefined || !entity.isLive(cmd.conn)) break;
        this.timers.cancel(this.#ttlKey(user, cmd.conn));
        this.#step(entity, { type: "DISCONNECT", conn: cmd.conn, at }, result, timers);
        break;
      }
      case "activity":
        this.#step(this.#entity(known, user, timers), { type: "ACTIVITY", at }, result, timers);
        break;
      case "forget": {
        const entity = known;
        if (entity === undefined) break;
        this.#step(entity, { type: "FORGET", at }, result, timers);
        break;
      }
      case "join":
      case "update":
      case "leave": {
        const entity = this.#entity(known, user, timers);
        if (!entity.isLive(cmd.conn))
          this.#step(entity, { type: "CONNECT", conn: cmd.conn, at }, result, timers);
        // Proof of life like a heartbeat, with the conn's own ttl (the default for a new conn).
        const ttl = this.#ttlOf(user, cmd.conn) ?? cmd.ttl_ms;
        this.#armTtl(user, cmd.conn, at + ttl, ttl);
        const channel = this.#channel(cmd.channel);
        const event: PresenceEvent =
          cmd.type === "leave"
            ? { type: "LEAVE", conn: cmd.conn, channel, at }
            : {
                type: cmd.type === "join" ? "JOIN" : "UPDATE",
                conn: cmd.conn,
                channel,
                data: isEmpty(cmd.data) ? NO_DATA : cmd.data,
                at,
              };
        this.#step(entity, event, result, timers);
        break;
      }
      case "set_status": {
        const event: PresenceEvent = { type: "SET_STATUS", status: cmd.status, at };
        if (cmd.text !== undefined) event.text = cmd.text;
        if (cmd.emoji !== undefined) event.emoji = cmd.emoji;
        if (cmd.expires_at_ms !== undefined) event.expires_at_ms = cmd.expires_at_ms;
        this.#step(this.#entity(known, user, timers), event, result, timers);
        break;
      }
    }
    this.#applyTimers(user, timers);
    // Every timer due by the clock fired before the command, so any due now was armed by it with
    // no delay (a grace of 0, an expires_at_ms already past). It fires now, as part of the
    // command and under its ids: a timer's own id (key and time) would repeat when the same
    // timer is armed again within the same millisecond.
    for (let due = this.timers.next(this.clock); due !== undefined; due = this.timers.next(this.clock)) {
      this.#fire(due, result);
    }
    this.#emit(result, msgIdBase, out);
  }

  /** Fires every timer due at or before `now` (in deadline order), moving the clock forward. */
  advance(now: number, out: Outgoing[]): void {
    for (let due = this.timers.next(now); due !== undefined; due = this.timers.next(now)) {
      this.clock = Math.max(this.clock, due.at);
      const result: Outputs = { events: [], facts: [] };
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
  async saveInSteps(pause: () => Promise<void>, step = 5000): Promise<SavedPartition> {
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
    let n = 0;
    for (const entity of this.users.values()) {
      entity.save(users, states);
      if (++n % step === 0) yield;
    }
    const timers: unknown[] = [];
    for (const t of this.timers.entries()) {
      const p = t.payload;
      if (p instanceof ConnDeadline) timers.push(t.key, t.at, CONN_TIMEOUT, p.conn, p.ttl);
      else timers.push(t.key, t.at, p.type, p.conn ?? null, null);
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
    const states = saved.states.map((json) => internState(JSON.parse(json) as UserEntity["value"]));
    const channel = (name: string) => p.#channel(name);
    for (let i = 0; i < saved.users.length; ) {
      const [entity, next] = UserEntity.restore(saved.users, i, states, channel);
      p.users.set(entity.context.user, entity);
      i = next;
    }
    const t = saved.timers;
    for (let i = 0; i < t.length; i += 5) {
      const type = t[i + 2] as string;
      const conn = t[i + 3] as string | null;
      const ttl = t[i + 4] as number | null;
      const payload: TimerPayload =
        ttl !== null && conn !== null
          ? new ConnDeadline(conn, ttl)
          : conn === null
            ? sharedEvent({ type })
            : { type, conn };
      p.timers.schedule(t[i] as string, t[i + 1] as number, payload);
    }
    return p;
  }

  /** Runs one due timer's event through its user's machine. */
  #fire(due: Due<TimerPayload>, result: Outputs): void {
    this.stats.timersFired++;
    const entity = this.users.get(userOfKey(due.key));
    if (entity === undefined) return;
    const p = due.payload;
    const event =
      p instanceof ConnDeadline ? { type: CONN_TIMEOUT, conn: p.conn, at: due.at } : { ...p, at: due.at };
    const timers: TimerOp[] = [];
    this.#step(entity, event, result, timers);
    this.#applyTimers(entity.context.user, timers);
  }

  /** `known` if the user has an entity, else a new one in the machine's initial state. */
  #entity(known: UserEntity | undefined, user: string, timers: TimerOp[]): UserEntity {
    let entity = known;
    if (entity === undefined) {
      entity = UserEntity.create(
        { user, awayAfterMs: this.opts.awayAfterMs, graceMs: this.opts.graceMs },
        timers,
      );
      this.users.set(user, entity);
    }
    return entity;
  }

  #step(
    entity: UserEntity,
    event: PresenceEvent | (AnyEventObject & { at: number }),
    result: Outputs,
    timers: TimerOp[],
  ): void {
    if (entity.step(event, result, timers)) this.stats.transitions++;
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

  #ttlKey(user: string, conn: string): string {
    return `${user}${SEP}${TTL_PREFIX}${conn}`;
  }

  /** The ttl of the conn's last heartbeat (or first command), while it is live. */
  #ttlOf(user: string, conn: string): number | undefined {
    const p = this.timers.payload(this.#ttlKey(user, conn));
    return p instanceof ConnDeadline ? p.ttl : undefined;
  }

  #armTtl(user: string, conn: string, at: number, ttl: number): void {
    const key = this.#ttlKey(user, conn);
    // The hot path: same ttl, only the deadline moves (one lookup, no new objects).
    const payload = this.timers.reschedule(key, at);
    if (!(payload instanceof ConnDeadline && payload.ttl === ttl))
      this.timers.schedule(key, at, new ConnDeadline(conn, ttl));
  }

  #applyTimers(user: string, ops: readonly TimerOp[]): void {
    for (const op of ops) {
      const key = `${user}${SEP}${timerCode(op.id)}`;
      if (op.op === "cancel") this.timers.cancel(key);
      else this.timers.schedule(key, op.at, sharedEvent(op.event));
    }
  }

  #emit(result: Outputs, msgIdBase: string, out: Outgoing[]): void {
    let k = 0;
    for (const e of result.events) {
      out.push({ subject: eventSubject(e), data: json.encode(e), msgId: `${msgIdBase}.${k++}` });
    }
    for (const f of result.facts) {
      out.push({ subject: factSubject(f), data: encodeFact(f), msgId: `${msgIdBase}.${k++}` });
    }
  }
}

function eventSubject(e: StatusEvent | ChannelEvent): string {
  return e.type === "status" ? internalSubjects.userEvent(e.user) : internalSubjects.channelEvent(e.channel);
}

function factSubject(f: Fact): string {
  return f.type === "user"
    ? internalSubjects.userFact(f.user)
    : internalSubjects.memberFact(f.channel, f.user, f.conn);
}
