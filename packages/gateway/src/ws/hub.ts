/**
 * The gateway's shared subscriptions for its WebSocket clients (CONTRACT.md §8): one NATS
 * subscription per channel or watched user, reference-counted across sockets, each with a
 * replica (replica.ts, status-replica.ts) that both answers a new subscriber's snapshot and
 * decides what is pushed, so every subscriber sees its snapshot and then exactly the changes
 * after it. Each change is serialised once and the same frame sent to every subscriber; a large
 * channel's interval push is computed once per interval.
 */
import {
  type ChannelEvent,
  encodeToken,
  type Member,
  type MemberDoc,
  type StatusEvent,
  subjects,
  type UserStatus,
} from "@herald/protocol";
import type { Logger } from "@herald/runtime";
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import type { PresenceView } from "../view.js";
import { ChannelReplica } from "./replica.js";
import { StatusReplica } from "./status-replica.js";

/**
 * Where a subscriber's pushes go: one JSON text frame each, as a string or already encoded
 * (UTF-8) when the same frame goes to several sockets.
 */
export interface Sink {
  send(frame: string | Buffer): void;
}

interface Entry<R, E> {
  readonly sinks: Set<Sink>;
  readonly sub: Subscription;
  /** Events received before the replica was made from the view. */
  buffer: E[] | undefined;
  replica: R | undefined;
  ready: Promise<void>;
}

export interface HubOptions {
  readonly nc: NatsConnection;
  readonly view: PresenceView;
  readonly now: () => number;
  /** CHANNEL_EVENTS_MAX_MEMBERS and CHANNEL_INTERVAL_MS. */
  readonly maxMembers: number;
  readonly intervalMs: number;
  readonly log: Logger;
}

const frame = (push: object): string => JSON.stringify({ push });

function asMember(doc: MemberDoc | undefined): Member | undefined {
  if (doc === undefined || doc.hidden === true) return undefined;
  return {
    user: doc.user,
    conn: doc.conn,
    data: doc.data,
    joined_at_ms: doc.joined_at_ms,
    updated_at_ms: doc.updated_at_ms,
  };
}

export class Hub {
  readonly #o: HubOptions;
  readonly #channels = new Map<string, Entry<ChannelReplica, ChannelEvent>>();
  /** By token(user), as the view's status keys are. */
  readonly #users = new Map<string, Entry<StatusReplica, StatusEvent> & { readonly user: string }>();
  readonly #timer: NodeJS.Timeout;
  #dropped = 0;

  constructor(o: HubOptions) {
    this.#o = o;
    o.view.listener = {
      member: (before, after) => this.#fromView(before, after),
      status: (key) => this.#statusFromView(key),
    };
    this.#timer = setInterval(() => this.#interval(), o.intervalMs);
    this.#timer.unref();
  }

  /** Channels and users with a subscription now, and live events that could not be read. */
  get stats(): { channels: number; users: number; unreadable_events: number } {
    return { channels: this.#channels.size, users: this.#users.size, unreadable_events: this.#dropped };
  }

  /** Subscribes `sink` to `channel`: the members now; the changes after them are pushed. */
  async subscribe(channel: string, sink: Sink): Promise<{ members: Member[] }> {
    let entry = this.#channels.get(channel);
    if (entry === undefined) {
      const created: Entry<ChannelReplica, ChannelEvent> = this.#open(subjects.channelEvents(channel), (m) =>
        this.#onChannelEvent(created, m),
      );
      created.ready = created.ready.then(() => {
        created.replica = new ChannelReplica(channel, this.#o.view.presence(channel), this.#o.maxMembers);
        for (const ev of created.buffer ?? []) created.replica.live(ev);
        created.buffer = undefined;
      });
      entry = created;
      this.#channels.set(channel, entry);
    }
    try {
      await entry.ready;
    } catch (err) {
      this.#closeIfUnused(this.#channels, channel, entry);
      throw err;
    }
    // Taken and joined in one step: every change after this snapshot is pushed, none before.
    entry.sinks.add(sink);
    return { members: (entry.replica as ChannelReplica).snapshot() };
  }

  unsubscribe(channel: string, sink: Sink): void {
    const entry = this.#channels.get(channel);
    if (entry === undefined) return;
    entry.sinks.delete(sink);
    this.#closeIfUnused(this.#channels, channel, entry);
  }

  /** Watches `users` for `sink`: their statuses now; their status changes are pushed. */
  async watch(users: readonly string[], sink: Sink): Promise<{ statuses: UserStatus[] }> {
    const entries = users.map((user) => {
      const key = encodeToken(user);
      let entry = this.#users.get(key);
      if (entry === undefined) {
        const created: Entry<StatusReplica, StatusEvent> & { user: string } = {
          ...this.#open(subjects.userEvents(user), (m) => this.#onStatusEvent(created, m)),
          user,
        };
        created.ready = created.ready.then(() => {
          const doc = this.#o.view.statusDoc(user);
          created.replica = new StatusReplica(this.#shown(user), doc?.updated_at_ms ?? 0);
          for (const ev of created.buffer ?? []) created.replica.live(ev);
          created.buffer = undefined;
        });
        entry = created;
        this.#users.set(key, entry);
      }
      return [key, entry] as const;
    });
    const settled = await Promise.allSettled(entries.map(([, e]) => e.ready));
    const failed = settled.find((s) => s.status === "rejected");
    if (failed !== undefined) {
      for (const [key, e] of entries) this.#closeIfUnused(this.#users, key, e);
      throw (failed as PromiseRejectedResult).reason;
    }
    const now = this.#o.now();
    const statuses = entries.map(([, e]) => {
      e.sinks.add(sink);
      const replica = e.replica as StatusReplica;
      // `online` is the time of the answer while a conn is live: the view's figures, unless a
      // live event has changed the status since.
      return replica.fromLive
        ? replica.current
        : (this.#o.view.getUserStatus([e.user], false, now)[0] as UserStatus);
    });
    return { statuses };
  }

  unwatch(users: readonly string[], sink: Sink): void {
    for (const user of users) {
      const key = encodeToken(user);
      const entry = this.#users.get(key);
      if (entry === undefined) continue;
      entry.sinks.delete(sink);
      this.#closeIfUnused(this.#users, key, entry);
    }
  }

  close(): void {
    clearInterval(this.#timer);
    for (const e of this.#channels.values()) e.sub.unsubscribe();
    for (const e of this.#users.values()) e.sub.unsubscribe();
    this.#channels.clear();
    this.#users.clear();
    this.#o.view.listener = undefined;
  }

  #open<R, E>(subject: string, onMsg: (m: Msg) => void): Entry<R, E> {
    const sub = this.#o.nc.subscribe(subject, {
      callback: (err, m) => {
        if (err === null) onMsg(m);
      },
    });
    // Once the server has the subscription, every later event reaches it.
    return { sinks: new Set(), sub, buffer: [], replica: undefined, ready: this.#o.nc.flush() };
  }

  #closeIfUnused<E extends { sinks: Set<Sink>; sub: Subscription }>(
    map: Map<string, E>,
    key: string,
    entry: E,
  ): void {
    if (entry.sinks.size > 0 || map.get(key) !== entry) return;
    // A subscriber may be waiting for its snapshot: it will find the entry gone and make another.
    entry.sub.unsubscribe();
    map.delete(key);
  }

  #read<T>(m: Msg): T | undefined {
    try {
      return m.json<T>();
    } catch {
      this.#dropped++;
      return undefined;
    }
  }

  #onChannelEvent(entry: Entry<ChannelReplica, ChannelEvent>, m: Msg): void {
    const ev = this.#read<ChannelEvent>(m);
    if (ev === undefined || (ev.type !== "join" && ev.type !== "update" && ev.type !== "leave")) return;
    if (entry.replica === undefined) entry.buffer?.push(ev);
    else this.#fanOut(entry.sinks, entry.replica.live(ev));
  }

  #onStatusEvent(entry: Entry<StatusReplica, StatusEvent>, m: Msg): void {
    const ev = this.#read<StatusEvent>(m);
    if (ev === undefined || ev.type !== "status") return;
    if (entry.replica === undefined) entry.buffer?.push(ev);
    else this.#fanOut(entry.sinks, entry.replica.live(ev));
  }

  #fromView(before: MemberDoc | undefined, after: MemberDoc | undefined): void {
    const channel = (after ?? before)?.channel;
    const entry = channel === undefined ? undefined : this.#channels.get(channel);
    if (entry?.replica === undefined) return;
    this.#fanOut(entry.sinks, entry.replica.view(asMember(before), asMember(after)));
  }

  #statusFromView(key: string): void {
    const entry = this.#users.get(key);
    if (entry?.replica === undefined) return;
    const doc = this.#o.view.statusDoc(entry.user);
    this.#fanOut(
      entry.sinks,
      entry.replica.view(this.#shown(entry.user), doc?.updated_at_ms ?? this.#o.now()),
    );
  }

  /** `user`'s status as others see it in the view now. */
  #shown(user: string): UserStatus {
    return this.#o.view.getUserStatus([user], false, this.#o.now())[0] as UserStatus;
  }

  #interval(): void {
    const now = this.#o.now();
    for (const entry of this.#channels.values()) this.#fanOut(entry.sinks, entry.replica?.flush(now));
  }

  #fanOut(sinks: ReadonlySet<Sink>, push: object | undefined): void {
    if (push === undefined || sinks.size === 0) return;
    const text = frame(push);
    // Encoded once, not again by every socket's send.
    const f = sinks.size > 1 ? Buffer.from(text) : text;
    for (const sink of sinks) sink.send(f);
  }
}
