/**
 * One channel as the application sees it: its own membership (join/update/leave) and, when
 * subscribed, the channel's members kept current with typed events.
 */
import type { ChannelEvent } from "@herald/contract";
import { Emitter } from "./emitter.js";
import { ClientErrorCode, type HeraldClientError } from "./errors.js";
import { MemberSet } from "./members.js";
import type {
  IntervalEvent,
  Member,
  MemberData,
  MemberEvent,
  MemberJoinEvent,
  MemberLeaveEvent,
  MemberUpdateEvent,
  PresenceStats,
} from "./types.js";

/** What a channel needs from its client (package-internal). */
export interface ChannelHost {
  /**
   * A request of the application: queued while disconnected, sent again after a drop.
   * `onResult` runs as the reply is read, before any frame behind it.
   */
  request(method: string, params: object, onResult?: (result: unknown) => void): Promise<unknown>;
  /**
   * A request of the client's own (resync): sent now on the current socket, never queued, and
   * not timed out (a late snapshot still applies); it fails when the socket drops.
   */
  internalRequest(method: string, params: object, onResult?: (result: unknown) => void): Promise<unknown>;
  /** Reports an error on the client's `error` event. */
  reportError(err: HeraldClientError): void;
  now(): number;
}

/** Events of a {@link Channel} (while subscribed). */
export interface ChannelEvents {
  join: MemberJoinEvent;
  update: MemberUpdateEvent;
  leave: MemberLeaveEvent;
  /** A large channel's interval push, after it was folded into `members` (its parts were emitted as join/update/leave first). */
  interval: IntervalEvent;
}

/** Package-internal entry points, kept off the public surface. */
export const RESYNC: unique symbol = Symbol("herald.resync");
export const PUSH: unique symbol = Symbol("herald.push");

export class Channel extends Emitter<ChannelEvents> {
  readonly #host: ChannelHost;
  readonly #set: MemberSet;
  #joined = false;
  #data: MemberData | undefined;
  /** Bumped by leave(): a join/update acknowledged after a later leave() changes nothing. */
  #joinGen = 0;
  #subscribed = false;
  /** Bumped by unsubscribe(): a snapshot arriving after a later unsubscribe() is dropped. */
  #subGen = 0;

  /** @internal Use `client.channel(name)`. */
  constructor(
    host: ChannelHost,
    /** The channel's name. */
    readonly name: string,
  ) {
    super();
    this.#host = host;
    this.#set = new MemberSet(name);
  }

  /** True once a `join` was acknowledged and `leave()` was not called since. Re-joined after reconnects. */
  get joined(): boolean {
    return this.#joined;
  }

  /** This conn's data in the channel, as last acknowledged (undefined when not joined). */
  get data(): MemberData | undefined {
    return this.#data;
  }

  /** True once `subscribe()` got its snapshot and `unsubscribe()` was not called since. */
  get subscribed(): boolean {
    return this.#subscribed;
  }

  /**
   * The channel's members by `memberKey(user, conn)`, kept current while subscribed (empty
   * otherwise). The same Map instance for the channel's whole life: read it, do not change it.
   */
  get members(): ReadonlyMap<string, Member> {
    return this.#set.map;
  }

  /** Enters the channel with `data` (default `{}`); joining again replaces the data. */
  async join(data?: MemberData): Promise<void> {
    const gen = this.#joinGen;
    await this.#host.request(
      "join",
      data === undefined ? { channel: this.name } : { channel: this.name, data },
    );
    if (gen !== this.#joinGen) return;
    this.#joined = true;
    this.#data = data ?? {};
  }

  /** Replaces this conn's data in the channel (409 when not joined). */
  async update(data: MemberData): Promise<void> {
    const gen = this.#joinGen;
    await this.#host.request("update", { channel: this.name, data });
    if (gen === this.#joinGen && this.#joined) this.#data = data;
  }

  /** Leaves the channel. Takes effect locally at once: it is no longer re-joined after a reconnect. */
  async leave(): Promise<void> {
    this.#joinGen++;
    this.#joined = false;
    this.#data = undefined;
    await this.#host.request("leave", { channel: this.name });
  }

  /**
   * Subscribes to the channel's members: resolves with `members` holding the snapshot, then keeps
   * it current and emits `join`/`update`/`leave` (and `interval` for large channels). The first
   * snapshot emits nothing; a later one (a repeated subscribe, a resync after reconnect) emits
   * the differences as synthetic events.
   */
  async subscribe(): Promise<ReadonlyMap<string, Member>> {
    const gen = this.#subGen;
    // The snapshot is taken as the reply is read: a push right behind it already applies.
    await this.#host.request("subscribe", { channel: this.name }, (result) => {
      if (gen === this.#subGen) this.#takeSnapshot(result);
    });
    return this.#set.map;
  }

  /** Stops the member updates; `members` is emptied at once (with no events). */
  async unsubscribe(): Promise<void> {
    this.#subGen++;
    this.#subscribed = false;
    this.#set.clear();
    await this.#host.request("unsubscribe", { channel: this.name });
  }

  /** The channel's members now (one query; does not need a subscription). */
  async presence(): Promise<Member[]> {
    const result = (await this.#host.request("presence", { channel: this.name })) as { members: Member[] };
    return result.members;
  }

  /** The channel's counts now. */
  async presenceStats(): Promise<PresenceStats> {
    return (await this.#host.request("presence_stats", { channel: this.name })) as PresenceStats;
  }

  /** @internal After a reconnect: re-joins with the last data and renews the subscription. */
  [RESYNC](): void {
    if (this.#joined) {
      const gen = this.#joinGen;
      const data = this.#data ?? {};
      this.#host.internalRequest("join", { channel: this.name, data }).catch((err: HeraldClientError) => {
        if (!this.#resyncFailed(err)) return;
        if (gen === this.#joinGen) {
          this.#joined = false;
          this.#data = undefined;
        }
      });
    }
    if (this.#subscribed) {
      const gen = this.#subGen;
      const take = (result: unknown) => {
        if (gen === this.#subGen) this.#takeSnapshot(result);
      };
      this.#host
        .internalRequest("subscribe", { channel: this.name }, take)
        .catch((err: HeraldClientError) => {
          if (!this.#resyncFailed(err) || gen !== this.#subGen) return;
          // Refused now (e.g. the new token no longer allows the channel): nothing stale stays.
          this.#subGen++;
          for (const ev of this.#set.resync([], this.#host.now())) this.#emitMember(ev);
          this.#subscribed = false;
        });
    }
  }

  /** @internal A push of this channel. */
  [PUSH](ev: ChannelEvent | IntervalEvent): void {
    if (!this.#subscribed) return;
    if (ev.type === "interval") {
      for (const e of this.#set.foldInterval(ev)) this.#emitMember(e);
      this.emit("interval", ev);
      return;
    }
    const e = this.#set.apply(ev);
    if (e !== undefined) this.#emitMember(e);
  }

  /** Takes a `subscribe` result: the first one silently, later ones with the differences as events. */
  #takeSnapshot(result: unknown): void {
    const { members } = result as { members: Member[] };
    const events = this.#set.resync(members, this.#host.now());
    if (!this.#subscribed) {
      this.#subscribed = true;
      return;
    }
    for (const ev of events) this.#emitMember(ev);
  }

  /** Reports a failed resync request; true when the server refused it (not when the connection was lost). */
  #resyncFailed(err: HeraldClientError): boolean {
    if (err.code === ClientErrorCode.Disconnected) return false;
    this.#host.reportError(err);
    return err.fromServer;
  }

  #emitMember(ev: MemberEvent): void {
    switch (ev.type) {
      case "join":
        this.emit("join", ev);
        return;
      case "update":
        this.emit("update", ev);
        return;
      case "leave":
        this.emit("leave", ev);
        return;
    }
  }
}
