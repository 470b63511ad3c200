/**
 * One user: the presence machine's snapshot plus what was last published for them, and the
 * pure step that turns a machine event into the events and facts to append (docs/PRESENCE.md).
 * Outputs are derived by comparing what others could see before and after the transition, so
 * the machine stays the only place where transitions are decided.
 */
import type {
  ChannelEvent,
  Fact,
  LeaveReason,
  MemberDoc,
  Status,
  StatusDoc,
  StatusEvent,
} from "@herald/protocol";
import type { AnyEventObject, SnapshotFrom } from "xstate";
import { decide, initial, internState, materialize } from "./decide.js";
import {
  type Conn,
  findConn,
  type Manual,
  type Membership,
  NO_DATA,
  type PresenceContext,
  type PresenceEvent,
  type PresenceInput,
  type presenceMachine,
} from "./machine.js";

export type PresenceSnapshot = SnapshotFrom<typeof presenceMachine>;

/** What the functions below read of a user: the machine's state value and context. */
export type UserState = Pick<PresenceSnapshot, "value" | "context">;

/** A delayed machine event to (re)arm, or one to cancel, keyed by the machine's id. */
export type TimerOp =
  | { readonly op: "schedule"; readonly id: string; readonly at: number; readonly event: AnyEventObject }
  | { readonly op: "cancel"; readonly id: string };

export interface Outputs {
  /** Public events (CONTRACT.md §5), in order. */
  readonly events: (StatusEvent | ChannelEvent)[];
  /** Facts for the projections, in order. */
  readonly facts: Fact[];
}

/** `active` moves in published documents at most this often (CONTRACT.md §4 allows 5 s). */
export const ACTIVE_COALESCE_MS = 5000;

const seconds = (ms: number): number => Math.floor(ms / 1000);

/** The status the machine is in, ignoring manual status. */
export function actualStatus(snapshot: UserState): Status {
  const value = snapshot.value as { status: string | { grace: string } };
  const s = value.status;
  if (typeof s === "object") return s.grace === "away" ? "away" : "online";
  return s === "away" ? "away" : s === "online" ? "online" : "offline";
}

export function isInvisible(ctx: PresenceContext): boolean {
  return ctx.manual?.status === "invisible";
}

function liveConns(ctx: PresenceContext): number {
  return ctx.conns.length;
}

/** What others see: status, and the manual status unless invisible. */
function reported(snapshot: UserState): { status: Status; manual?: Manual } {
  const ctx = snapshot.context;
  if (isInvisible(ctx)) return { status: "offline" };
  return ctx.manual === undefined
    ? { status: actualStatus(snapshot) }
    : { status: actualStatus(snapshot), manual: ctx.manual };
}

function times(snapshot: UserState, at: number): { online?: number; active?: number } {
  const ctx = snapshot.context;
  const out: { online?: number; active?: number } = {};
  const online = liveConns(ctx) > 0 ? at : ctx.onlineAt;
  if (online !== undefined) out.online = seconds(online);
  if (ctx.activeAt !== undefined) out.active = seconds(ctx.activeAt);
  return out;
}

/** The `presence_status` document (CONTRACT.md §6), or null when there is nothing to keep. */
export function statusDoc(snapshot: UserState, at: number): StatusDoc | null {
  const ctx = snapshot.context;
  const actual = actualStatus(snapshot);
  const t = times(snapshot, at);
  const conns = liveConns(ctx);
  if (actual === "offline" && ctx.manual === undefined && t.online === undefined && t.active === undefined) {
    return null;
  }
  if (isInvisible(ctx)) {
    return {
      user: ctx.user,
      status: "offline",
      manual: { ...ctx.manual, status: "invisible" },
      conns,
      updated_at_ms: at,
      hidden: true,
      actual: { status: actual, ...t },
    };
  }
  const doc: StatusDoc = { user: ctx.user, status: actual, ...t, conns, updated_at_ms: at };
  if (ctx.manual !== undefined) doc.manual = { ...ctx.manual };
  return doc;
}

/**
 * A document without what moves on its own: the write time, `online` while connected (it
 * means "now" then) and `active` (coalesced separately).
 */
function essence(d: StatusDoc): string {
  const live = d.conns > 0;
  const { updated_at_ms: _u, online, active: _a, actual, ...rest } = d;
  const a =
    actual === undefined ? undefined : { status: actual.status, online: live ? undefined : actual.online };
  return JSON.stringify({ ...rest, online: live ? undefined : online, actual: a });
}

const activeOf = (d: StatusDoc): number | undefined => d.actual?.active ?? d.active;

/** Sets the `active` that counts for coalescing (the `actual` one for an invisible user). */
function setActive(d: StatusDoc, active: number | undefined): void {
  const target = d.actual ?? d;
  if (active === undefined) delete target.active;
  else target.active = active;
}

/** Whether a new document is worth a fact: anything but `active` changed, or `active` moved ≥ 5 s. */
export function shouldPublish(prev: StatusDoc | null, next: StatusDoc | null): boolean {
  if (prev === null || next === null) return prev !== next;
  if (essence(prev) !== essence(next)) return true;
  const a = activeOf(prev);
  const b = activeOf(next);
  if (a === b) return false;
  return a === undefined || b === undefined || (b - a) * 1000 >= ACTIVE_COALESCE_MS;
}

interface Seen {
  conn: string;
  channel: string;
  m: Membership;
}

function memberships(ctx: PresenceContext): Map<string, Seen> {
  const out = new Map<string, Seen>();
  for (const c of ctx.conns) {
    for (const m of c.channels) out.set(`${c.id}\u0000${m.channel}`, { conn: c.id, channel: m.channel, m });
  }
  return out;
}

function memberDoc(user: string, s: Seen, hidden: boolean): MemberDoc {
  const doc: MemberDoc = {
    channel: s.channel,
    user,
    conn: s.conn,
    data: s.m.data,
    joined_at_ms: s.m.joined_at_ms,
    updated_at_ms: s.m.updated_at_ms,
  };
  if (hidden) doc.hidden = true;
  return doc;
}

function leaveReason(event: PresenceEvent): LeaveReason {
  if (event.type === "LEAVE") return "leave";
  if (event.type === "CONN_TIMEOUT") return "timeout";
  return "disconnect";
}

/** Channel events and member facts from the difference of memberships and visibility. */
function memberOutputs(
  before: PresenceContext,
  after: PresenceContext,
  event: PresenceEvent,
  at: number,
  out: Outputs,
): void {
  const user = after.user;
  const was = memberships(before);
  const now = memberships(after);
  const wasVisible = !isInvisible(before);
  const nowVisible = !isInvisible(after);
  // Channels with a visible member of the user, kept current while events are emitted.
  const visibleIn = new Map<string, number>();
  if (wasVisible) for (const s of was.values()) visibleIn.set(s.channel, (visibleIn.get(s.channel) ?? 0) + 1);

  // Leaves first (a conn that ends), then joins and updates.
  for (const [key, s] of was) {
    const next = now.get(key);
    const hiddenNow = next !== undefined && wasVisible && !nowVisible;
    if (next !== undefined && !hiddenNow) continue;
    if (next === undefined)
      out.facts.push({ type: "member", channel: s.channel, user, conn: s.conn, doc: null });
    else
      out.facts.push({
        type: "member",
        channel: s.channel,
        user,
        conn: s.conn,
        doc: memberDoc(user, next, true),
      });
    if (!wasVisible) continue;
    const left = (visibleIn.get(s.channel) ?? 1) - 1;
    visibleIn.set(s.channel, left);
    const e: ChannelEvent = {
      type: "leave",
      channel: s.channel,
      user,
      conn: s.conn,
      reason: next === undefined ? leaveReason(event) : "disconnect",
      at_ms: at,
    };
    if (left === 0) e.last = true;
    out.events.push(e);
  }
  for (const [key, s] of now) {
    const prev = was.get(key);
    const shownNow = prev !== undefined && !wasVisible && nowVisible;
    const changed = prev !== undefined && prev.m !== s.m;
    if (prev !== undefined && !shownNow && !changed) continue;
    if (prev !== undefined && !shownNow && wasVisible !== nowVisible) continue;
    out.facts.push({
      type: "member",
      channel: s.channel,
      user,
      conn: s.conn,
      doc: memberDoc(user, s, !nowVisible),
    });
    if (!nowVisible) continue;
    if (prev === undefined || shownNow) {
      const count = visibleIn.get(s.channel) ?? 0;
      visibleIn.set(s.channel, count + 1);
      const e: ChannelEvent = {
        type: "join",
        channel: s.channel,
        user,
        conn: s.conn,
        data: s.m.data,
        at_ms: at,
      };
      if (count === 0) e.first = true;
      out.events.push(e);
    } else {
      out.events.push({ type: "update", channel: s.channel, user, conn: s.conn, data: s.m.data, at_ms: at });
    }
  }
}

/**
 * The machine and what was last published for one user. The last document published is not
 * kept: everything in it but `active` follows from the state before a step (every change of
 * that is published at once), so only its `active` is (coalesced, it may lag the state).
 */
export class UserEntity {
  /** The machine's state value: a shared object per distinct state (`internState`). */
  value: PresenceSnapshot["value"];

  constructor(
    value: PresenceSnapshot["value"],
    public context: PresenceContext,
    /** The document last sent as a fact (null: none or removed). */
    /** `active` of the document last published (the `actual` one for an invisible user). */
    public publishedActive: number | null = null,
  ) {
    this.value = internState(value);
  }

  /** A new user in the machine's initial state. */
  static create(input: PresenceInput, timers: TimerOp[]): UserEntity {
    const [snapshot, actions] = initial(input);
    collectTimers(actions, 0, timers);
    return new UserEntity(snapshot.value, snapshot.context);
  }

  /**
   * Appends the user to a flat snapshot array: user, state index, activeAt, onlineAt, manual,
   * publishedActive, awayAfterMs, graceMs, conn count, then per conn its id and channel count,
   * then per channel its name, data (null for `{}`), joined_at_ms, updated_at_ms.
   */
  save(into: unknown[], states: Map<string, number>): void {
    const key = JSON.stringify(this.value);
    let state = states.get(key);
    if (state === undefined) {
      state = states.size;
      states.set(key, state);
    }
    const c = this.context;
    into.push(c.user, state, c.activeAt ?? null, c.onlineAt ?? null, c.manual ?? null, this.publishedActive);
    into.push(c.awayAfterMs, c.graceMs, c.conns.length);
    for (const conn of c.conns) {
      into.push(conn.id, conn.channels.length);
      for (const m of conn.channels) {
        const empty = Object.keys(m.data).length === 0;
        into.push(m.channel, empty ? null : m.data, m.joined_at_ms, m.updated_at_ms);
      }
    }
  }

  /** Reads a user written by `save` at `i`; returns it and the index after it. */
  static restore(
    flat: readonly unknown[],
    i: number,
    states: readonly PresenceSnapshot["value"][],
    channel: (name: string) => string,
  ): [UserEntity, number] {
    const user = flat[i] as string;
    const value = states[flat[i + 1] as number] as PresenceSnapshot["value"];
    const activeAt = flat[i + 2] as number | null;
    const onlineAt = flat[i + 3] as number | null;
    const manual = flat[i + 4] as Manual | null;
    const publishedActive = flat[i + 5] as number | null;
    const awayAfterMs = flat[i + 6] as number;
    const graceMs = flat[i + 7] as number;
    const nConns = flat[i + 8] as number;
    i += 9;
    const conns: Conn[] = [];
    for (let k = 0; k < nConns; k++) {
      const id = flat[i] as string;
      const nChannels = flat[i + 1] as number;
      i += 2;
      const channels: Membership[] = [];
      for (let n = 0; n < nChannels; n++) {
        const data = flat[i + 1] as Record<string, unknown> | null;
        channels.push({
          channel: channel(flat[i] as string),
          data: data ?? NO_DATA,
          joined_at_ms: flat[i + 2] as number,
          updated_at_ms: flat[i + 3] as number,
        });
        i += 4;
      }
      conns.push({ id, channels });
    }
    const context: PresenceContext = { user, awayAfterMs, graceMs, conns };
    if (activeAt !== null) context.activeAt = activeAt;
    if (onlineAt !== null) context.onlineAt = onlineAt;
    if (manual !== null) context.manual = manual;
    return [new UserEntity(value, context, publishedActive), i];
  }

  isLive(conn: string): boolean {
    return findConn(this.context.conns, conn) !== undefined;
  }

  /**
   * Runs one event through the machine and appends what changed to `out`; timer operations
   * the machine asked for go to `timers`. Returns false when the machine did not change.
   */
  step(event: PresenceEvent | (AnyEventObject & { at: number }), out: Outputs, timers: TimerOp[]): boolean {
    const before = materialize(this.value, this.context);
    const [after, actions] = decide(before, event as PresenceEvent);
    collectTimers(actions, event.at, timers);
    if (after === before || (after.value === before.value && after.context === before.context)) return false;
    this.value = internState(after.value);
    this.context = after.context;
    const at = event.at;
    memberOutputs(before.context, after.context, event as PresenceEvent, at, out);
    const prev = reported(before);
    const next = reported(after);
    if (prev.status !== next.status || JSON.stringify(prev.manual) !== JSON.stringify(next.manual)) {
      const e: StatusEvent = {
        type: "status",
        user: after.context.user,
        status: next.status,
        prev: prev.status,
        at_ms: at,
      };
      if (!isInvisible(after.context)) Object.assign(e, times(after, at));
      if (next.manual !== undefined) e.manual = { ...next.manual };
      out.events.push(e);
    }
    this.publishDoc(before, at, out);
    return true;
  }

  /** Appends a user fact when the document changed enough to be worth writing. */
  private publishDoc(before: UserState, at: number, out: Outputs): void {
    const doc = statusDoc(this, at);
    const prev = statusDoc(before, at);
    if (prev !== null) setActive(prev, this.publishedActive ?? undefined);
    if (!shouldPublish(prev, doc)) return;
    this.publishedActive = doc === null ? null : (activeOf(doc) ?? null);
    out.facts.push({ type: "user", user: this.context.user, doc });
  }
}

/** Converts xstate's delayed raise and cancel actions into timer operations. */
function collectTimers(
  actions: readonly { type: string; params?: unknown }[],
  at: number,
  timers: TimerOp[],
): void {
  for (const a of actions) {
    if (a.type === "xstate.raise") {
      const p = a.params as { event: AnyEventObject; delay?: number; id?: string };
      if (p.delay === undefined) continue;
      const id = p.id ?? p.event.type;
      timers.push({ op: "schedule", id, at: at + p.delay, event: p.event });
    } else if (a.type === "xstate.cancel") {
      timers.push({ op: "cancel", id: (a.params as { sendId: string }).sendId });
    }
  }
}
