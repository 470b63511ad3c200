/**
 * One channel's members as a gateway's WebSocket subscribers see them (pure): started from the
 * view, then kept current by two feeds — the channel's live events (in stream order: what
 * subscribers are pushed) and the view's changes to its member documents, which correct the
 * replica only where the live feed has not already brought the same change (an event older than
 * the NATS subscription, or one dropped). A change either feed brings twice is applied once, so
 * a subscriber's snapshot followed by its pushes never loses or repeats a change.
 *
 * Above `maxMembers` members the channel is large (CONTRACT.md §8): changes are collected, netted
 * per member, and handed out once per interval instead of one push each.
 */
import type { ChannelEvent, LeaveReason, Member } from "@herald/protocol";

interface Record extends Member {
  /** Last set by the view (a correction), not by a live event. */
  fromView: boolean;
}

/** The interval push of a large channel (CONTRACT.md §8). */
export interface IntervalPush {
  readonly type: "interval";
  readonly channel: string;
  readonly joined: { user: string; conn: string; data: Record["data"] }[];
  readonly left: { user: string; conn: string; reason: LeaveReason }[];
  readonly updated: { user: string; conn: string; data: Record["data"] }[];
  readonly num_clients: number;
  readonly num_users: number;
  readonly at_ms: number;
}

type Pending =
  | { kind: "joined"; user: string; conn: string; data: Record["data"] }
  | { kind: "updated"; user: string; conn: string; data: Record["data"] }
  | { kind: "left"; user: string; conn: string; reason: LeaveReason };

/** Ids have no control characters, so NUL separates them unambiguously. */
const keyOf = (user: string, conn: string): string => `${user}\u0000${conn}`;

export class ChannelReplica {
  readonly #members = new Map<string, Record>();
  /** Conns per user in the channel. */
  readonly #users = new Map<string, number>();
  /** Changes not yet handed out, while the channel is large. */
  readonly #pending = new Map<string, Pending>();

  constructor(
    readonly channel: string,
    members: readonly Member[],
    readonly maxMembers: number,
  ) {
    for (const m of members) this.#put({ ...m, fromView: true });
  }

  get large(): boolean {
    return this.#members.size > this.maxMembers;
  }

  get stats(): { num_clients: number; num_users: number } {
    return { num_clients: this.#members.size, num_users: this.#users.size };
  }

  /** The members now, in the view's order (user, then conn). */
  snapshot(): Member[] {
    const out: Member[] = [];
    for (const { fromView: _, ...m } of this.#members.values()) out.push(m);
    return out.sort((a, b) =>
      a.user < b.user ? -1 : a.user > b.user ? 1 : a.conn < b.conn ? -1 : a.conn > b.conn ? 1 : 0,
    );
  }

  /** A live event of the channel: the change to hand out, or undefined when it changes nothing. */
  live(ev: ChannelEvent): ChannelEvent | undefined {
    const key = keyOf(ev.user, ev.conn);
    const rec = this.#members.get(key);
    if (ev.type === "leave") {
      if (rec === undefined || (rec.fromView && rec.updated_at_ms > ev.at_ms)) return undefined;
      this.#remove(key, rec);
      return this.#note(ev);
    }
    // The view brought this change (or a later one) first.
    if (rec?.fromView === true && rec.updated_at_ms >= ev.at_ms) return undefined;
    this.#put({
      user: ev.user,
      conn: ev.conn,
      data: ev.data,
      joined_at_ms: rec?.joined_at_ms ?? ev.at_ms,
      updated_at_ms: ev.at_ms,
      fromView: false,
    });
    return this.#note(ev);
  }

  /** The view's member document now (undefined: gone or hidden), `before` the one it replaces. */
  view(before: Member | undefined, after: Member | undefined): ChannelEvent | undefined {
    const m = after ?? before;
    if (m === undefined) return undefined;
    const key = keyOf(m.user, m.conn);
    const rec = this.#members.get(key);
    if (after === undefined) {
      // Gone from the view: a correction only if the replica holds nothing newer.
      if (rec === undefined || rec.updated_at_ms > m.updated_at_ms) return undefined;
      this.#remove(key, rec);
      const last = !this.#users.has(m.user);
      return this.#note({
        type: "leave",
        channel: this.channel,
        user: m.user,
        conn: m.conn,
        reason: "leave",
        ...(last ? { last: true as const } : {}),
        at_ms: m.updated_at_ms,
      });
    }
    if (rec !== undefined && rec.updated_at_ms >= after.updated_at_ms) return undefined;
    const first = rec === undefined && !this.#users.has(after.user);
    this.#put({ ...after, fromView: true });
    return this.#note(
      rec === undefined
        ? {
            type: "join",
            channel: this.channel,
            user: after.user,
            conn: after.conn,
            data: after.data,
            ...(first ? { first: true as const } : {}),
            at_ms: after.updated_at_ms,
          }
        : {
            type: "update",
            channel: this.channel,
            user: after.user,
            conn: after.conn,
            data: after.data,
            at_ms: after.updated_at_ms,
          },
    );
  }

  /** The changes collected since the last call, as one interval push (undefined: none). */
  flush(atMs: number): IntervalPush | undefined {
    if (this.#pending.size === 0) return undefined;
    const push: IntervalPush = {
      type: "interval",
      channel: this.channel,
      joined: [],
      left: [],
      updated: [],
      ...this.stats,
      at_ms: atMs,
    };
    for (const p of this.#pending.values()) {
      if (p.kind === "left") push.left.push({ user: p.user, conn: p.conn, reason: p.reason });
      else push[p.kind].push({ user: p.user, conn: p.conn, data: p.data });
    }
    this.#pending.clear();
    return push;
  }

  /** Hands a change out: as itself while the channel is small, netted into the interval when large. */
  #note(ev: ChannelEvent): ChannelEvent | undefined {
    if (!this.large && this.#pending.size === 0) return ev;
    const key = keyOf(ev.user, ev.conn);
    const had = this.#pending.get(key);
    if (ev.type === "leave") {
      // Joined and left within one interval: nobody needs to hear of it.
      if (had?.kind === "joined") this.#pending.delete(key);
      else this.#pending.set(key, { kind: "left", user: ev.user, conn: ev.conn, reason: ev.reason });
    } else {
      const kind = had?.kind === "joined" || (had === undefined && ev.type === "join") ? "joined" : "updated";
      this.#pending.set(key, { kind, user: ev.user, conn: ev.conn, data: ev.data });
    }
    return undefined;
  }

  #put(rec: Record): void {
    const key = keyOf(rec.user, rec.conn);
    if (!this.#members.has(key)) this.#users.set(rec.user, (this.#users.get(rec.user) ?? 0) + 1);
    this.#members.set(key, rec);
  }

  #remove(key: string, rec: Record): void {
    this.#members.delete(key);
    const n = (this.#users.get(rec.user) ?? 1) - 1;
    if (n === 0) this.#users.delete(rec.user);
    else this.#users.set(rec.user, n);
  }
}
