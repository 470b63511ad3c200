/**
 * The member set of one subscribed channel, kept current from pushes, interval pushes and
 * snapshots. Pure: every change returns the events that describe it, and the map already holds
 * the final state when they are returned.
 */
import type { ChannelEvent } from "@herald/contract";
import { jsonEqual } from "./json-equal.js";
import type {
  IntervalEvent,
  Member,
  MemberData,
  MemberEvent,
  MemberJoinEvent,
  MemberLeaveEvent,
  MemberUpdateEvent,
} from "./types.js";

/**
 * The key of a member in `channel.members`. Ids hold no control characters (CONTRACT.md §1),
 * so joining with U+0000 is unambiguous.
 */
export function memberKey(user: string, conn: string): string {
  return `${user}\u0000${conn}`;
}

export class MemberSet {
  /** Members by {@link memberKey}. */
  readonly map = new Map<string, Member>();
  /** Conns per user, for `first` / `last` of the events the client makes. */
  readonly #conns = new Map<string, number>();

  constructor(readonly channel: string) {}

  /** Forgets every member, with no events. */
  clear(): void {
    this.map.clear();
    this.#conns.clear();
  }

  /** Applies a pushed join/update/leave; returns it as the event to emit (undefined: no change). */
  apply(ev: ChannelEvent): MemberEvent | undefined {
    const key = memberKey(ev.user, ev.conn);
    const prev = this.map.get(key);
    switch (ev.type) {
      case "join":
      case "update": {
        const data = (ev.data ?? {}) as MemberData;
        const joined = ev.type === "update" && prev !== undefined ? prev.joined_at_ms : ev.at_ms;
        this.#put({ user: ev.user, conn: ev.conn, data, joined_at_ms: joined, updated_at_ms: ev.at_ms });
        return ev as MemberJoinEvent | MemberUpdateEvent;
      }
      case "leave":
        if (prev === undefined) return undefined;
        this.#remove(key, prev);
        return ev as MemberLeaveEvent;
    }
  }

  /**
   * Folds an interval push: `left`, then `joined`, then `updated`, each unfolded into the
   * join/update/leave event a small channel would have pushed (`synthetic: "interval"`).
   * An entry that changes nothing (a leave of a member not held, an update to the same data)
   * gives no event.
   */
  foldInterval(iv: IntervalEvent): MemberEvent[] {
    const events: MemberEvent[] = [];
    const at_ms = iv.at_ms;
    for (const l of iv.left) {
      const key = memberKey(l.user, l.conn);
      const prev = this.map.get(key);
      if (prev === undefined) continue;
      events.push(this.#leaveEvent(key, prev, l.reason, at_ms, "interval"));
    }
    for (const m of [...iv.joined, ...iv.updated]) {
      const key = memberKey(m.user, m.conn);
      const prev = this.map.get(key);
      if (prev !== undefined && jsonEqual(prev.data, m.data)) continue;
      const member: Member = {
        user: m.user,
        conn: m.conn,
        data: m.data,
        joined_at_ms: prev?.joined_at_ms ?? at_ms,
        updated_at_ms: at_ms,
      };
      events.push(this.#changeEvent(member, prev, at_ms, "interval"));
    }
    return events;
  }

  /**
   * Replaces the set with a fresh snapshot (`subscribe`'s result) and returns the events that
   * turn the old set into it (`synthetic: "resync"`): a `leave` (reason `"resync"`, with the
   * last known data, at `nowMs`) for each member gone, then a `join` (at its `joined_at_ms`) for
   * each new one, then an `update` (at its `updated_at_ms`) for each whose data differs. A
   * member whose data is the same gives no event (its times are still taken from the snapshot).
   * The map then holds the snapshot's members in the snapshot's order.
   */
  resync(members: readonly Member[], nowMs: number): MemberEvent[] {
    const fresh = new Map<string, Member>();
    for (const m of members) fresh.set(memberKey(m.user, m.conn), m);
    const events: MemberEvent[] = [];
    for (const [key, prev] of [...this.map]) {
      if (!fresh.has(key)) events.push(this.#leaveEvent(key, prev, "resync", nowMs, "resync"));
    }
    const updates: MemberEvent[] = [];
    for (const m of fresh.values()) {
      const prev = this.map.get(memberKey(m.user, m.conn));
      if (prev === undefined) events.push(this.#changeEvent(m, prev, m.joined_at_ms, "resync"));
      else if (!jsonEqual(prev.data, m.data))
        updates.push(this.#changeEvent(m, prev, m.updated_at_ms, "resync"));
    }
    events.push(...updates);
    // Same members now; rebuild in the snapshot's order with the snapshot's times.
    this.map.clear();
    for (const [key, m] of fresh) this.map.set(key, m);
    return events;
  }

  #put(m: Member): void {
    const key = memberKey(m.user, m.conn);
    if (!this.map.has(key)) this.#conns.set(m.user, (this.#conns.get(m.user) ?? 0) + 1);
    this.map.set(key, m);
  }

  #remove(key: string, m: Member): void {
    this.map.delete(key);
    const n = (this.#conns.get(m.user) ?? 1) - 1;
    if (n <= 0) this.#conns.delete(m.user);
    else this.#conns.set(m.user, n);
  }

  /** Puts `m` (new, or changed from `prev`) and returns its join or update event. */
  #changeEvent(
    m: Member,
    prev: Member | undefined,
    at_ms: number,
    synthetic: "resync" | "interval",
  ): MemberEvent {
    const first = prev === undefined && !this.#conns.has(m.user);
    this.#put(m);
    const base = { channel: this.channel, user: m.user, conn: m.conn, data: m.data, at_ms, synthetic };
    if (prev !== undefined) return { type: "update", ...base };
    return first ? { type: "join", ...base, first: true } : { type: "join", ...base };
  }

  #leaveEvent(
    key: string,
    prev: Member,
    reason: MemberLeaveEvent["reason"],
    at_ms: number,
    synthetic: "resync" | "interval",
  ): MemberLeaveEvent {
    this.#remove(key, prev);
    const last = !this.#conns.has(prev.user);
    const ev: MemberLeaveEvent = {
      type: "leave",
      channel: this.channel,
      user: prev.user,
      conn: prev.conn,
      data: prev.data,
      reason,
      at_ms,
      synthetic,
    };
    return last ? { ...ev, last: true } : ev;
  }
}
