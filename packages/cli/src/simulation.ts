/**
 * The load model of `herald simulate`: users with tabs (conns) that open and close, refresh
 * (a disconnect, then the same conn back within the grace period, rejoining its channels),
 * heartbeat while open, join, update and leave channels with data, show activity, go idle
 * (no activity: they turn away) and come back, and set dnd or invisible now and then.
 *
 * Pure: time and randomness come in, and it returns the API calls to make, in steps (the calls
 * of one step are made in order; a user has one step in flight at a time). Its state is
 * updated as if every call succeeded.
 */
import type { Method } from "@herald/contract";

export interface ApiCall {
  readonly method: Method;
  readonly params: Record<string, unknown>;
}

/** What a step does, for the summary. */
export type StepKind =
  | "open"
  | "close"
  | "refresh"
  | "reconnect"
  | "join"
  | "update"
  | "leave"
  | "activity"
  | "status"
  | "idle"
  | "heartbeats";

export interface Step {
  readonly kind: StepKind;
  /** The user the calls are about; undefined for heartbeat batches of many users. */
  readonly user?: string;
  readonly calls: readonly ApiCall[];
}

export interface SimulationOptions {
  readonly users: number;
  readonly channels: number;
  /** PRESENCE_GRACE_MS of the system: a refresh comes back well within it. */
  readonly graceMs: number;
  /** `ttl_ms` of every heartbeat; open conns heartbeat every third of it. */
  readonly ttlMs: number;
  /** Ids are `<prefix>-u<n>` (users) and `<prefix>:room-<n>` (channels). */
  readonly prefix: string;
  /** Uniform in [0, 1). */
  readonly random: () => number;
  readonly maxTabs?: number;
  readonly maxChannelsPerTab?: number;
}

interface Tab {
  readonly conn: string;
  /** Channel → the member's data. */
  readonly channels: Map<string, Record<string, unknown>>;
  nextBeatAt: number;
  /** While refreshing: when the conn comes back. */
  reconnectAt?: number;
}

interface SimUser {
  readonly id: string;
  readonly index: number;
  readonly tabs: Map<string, Tab>;
  idle: boolean;
  manual?: "dnd" | "invisible";
  nextTab: number;
}

const DEVICES = ["web", "desktop", "ios", "android"] as const;
const STATUS_TEXTS = [
  ["in a meeting", "📅"],
  ["focusing", "🎧"],
  ["commuting", "🚆"],
  ["lunch", "🍜"],
] as const;
const HEARTBEAT_BATCH_MAX = 1000;

/** A small seeded generator (mulberry32), so a run can be repeated with `--seed`. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Simulation {
  readonly #o: Required<SimulationOptions>;
  readonly #users: SimUser[];
  readonly #channels: string[];

  constructor(opts: SimulationOptions) {
    this.#o = { maxTabs: 3, maxChannelsPerTab: 3, ...opts };
    this.#users = Array.from({ length: opts.users }, (_, i) => ({
      id: `${opts.prefix}-u${i + 1}`,
      index: i + 1,
      tabs: new Map(),
      idle: false,
      nextTab: 1,
    }));
    this.#channels = Array.from({ length: opts.channels }, (_, i) => `${opts.prefix}:room-${i + 1}`);
  }

  get userIds(): string[] {
    return this.#users.map((u) => u.id);
  }

  get channelIds(): string[] {
    return [...this.#channels];
  }

  /** Open conns, users with one, channel memberships, idle users, users with a manual status. */
  get counts(): { conns: number; connected: number; memberships: number; idle: number; manual: number } {
    let conns = 0;
    let connected = 0;
    let memberships = 0;
    let idle = 0;
    let manual = 0;
    for (const u of this.#users) {
      const open = [...u.tabs.values()].filter((t) => t.reconnectAt === undefined);
      conns += open.length;
      if (u.tabs.size > 0) connected++;
      for (const t of open) memberships += t.channels.size;
      if (u.idle && u.tabs.size > 0) idle++;
      if (u.manual !== undefined) manual++;
    }
    return { conns, connected, memberships, idle, manual };
  }

  #pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#o.random() * items.length)] as T;
  }

  /** Popular channels first: a skewed pick, as real rooms are. */
  #pickChannel(): string {
    const r = this.#o.random();
    return this.#channels[Math.floor(r * r * this.#channels.length)] as string;
  }

  #openTabs(u: SimUser): Tab[] {
    return [...u.tabs.values()].filter((t) => t.reconnectAt === undefined);
  }

  #data(u: SimUser, tab: Tab): Record<string, unknown> {
    return { name: `User ${u.index}`, device: this.#pick(DEVICES), tab: tab.conn, typing: false };
  }

  /**
   * Steps due at `nowMs`: heartbeat batches of the open conns whose turn it is, and refreshed
   * conns coming back (a heartbeat, then their channels joined again).
   */
  due(nowMs: number): Step[] {
    const steps: Step[] = [];
    let beats: { user: string; conn: string; ttl_ms: number }[] = [];
    for (const u of this.#users) {
      for (const tab of u.tabs.values()) {
        if (tab.reconnectAt !== undefined) {
          if (tab.reconnectAt > nowMs) continue;
          tab.reconnectAt = undefined;
          tab.nextBeatAt = nowMs + this.#o.ttlMs / 3;
          steps.push({
            kind: "reconnect",
            user: u.id,
            calls: [
              { method: "heartbeat", params: { user: u.id, conn: tab.conn, ttl_ms: this.#o.ttlMs } },
              ...[...tab.channels].map(([channel, data]) => ({
                method: "join" as const,
                params: { user: u.id, conn: tab.conn, channel, data },
              })),
            ],
          });
        } else if (tab.nextBeatAt <= nowMs) {
          tab.nextBeatAt = nowMs + this.#o.ttlMs / 3;
          beats.push({ user: u.id, conn: tab.conn, ttl_ms: this.#o.ttlMs });
          if (beats.length === HEARTBEAT_BATCH_MAX) {
            steps.push({
              kind: "heartbeats",
              calls: [{ method: "heartbeat", params: { heartbeats: beats } }],
            });
            beats = [];
          }
        }
      }
    }
    if (beats.length > 0)
      steps.push({ kind: "heartbeats", calls: [{ method: "heartbeat", params: { heartbeats: beats } }] });
    return steps;
  }

  /** One random action of a user not `busy`; undefined when every user tried is busy. */
  next(nowMs: number, busy: ReadonlySet<string>): Step | undefined {
    for (let attempt = 0; attempt < 8; attempt++) {
      const u = this.#pick(this.#users);
      if (busy.has(u.id)) continue;
      const step = this.#act(u, nowMs);
      if (step !== undefined) return step;
    }
    return undefined;
  }

  #act(u: SimUser, nowMs: number): Step | undefined {
    const open = this.#openTabs(u);
    const joined = open.flatMap((t) => [...t.channels.keys()].map((ch) => ({ tab: t, ch })));
    const joinable = open.filter((t) => t.channels.size < this.#o.maxChannelsPerTab);
    const weights: [StepKind, number][] = [];
    if (u.tabs.size === 0) weights.push(["open", 10]);
    else {
      if (u.tabs.size < this.#o.maxTabs) weights.push(["open", 2]);
      if (open.length > 0) weights.push(["close", 2], ["refresh", 2]);
    }
    if (u.idle) weights.push(["activity", 2]);
    else if (open.length > 0) {
      if (joinable.length > 0) weights.push(["join", 8]);
      if (joined.length > 0) weights.push(["update", 8], ["leave", 4]);
      weights.push(["activity", 6], ["status", 1], ["idle", 1.5]);
    }
    if (u.manual !== undefined && !weights.some(([k]) => k === "status")) weights.push(["status", 1]);
    const total = weights.reduce((s, [, w]) => s + w, 0);
    if (total === 0) return undefined;
    let r = this.#o.random() * total;
    let kind: StepKind = (weights[0] as [StepKind, number])[0];
    for (const [k, w] of weights) {
      r -= w;
      if (r < 0) {
        kind = k;
        break;
      }
    }
    const user = u.id;
    switch (kind) {
      case "open": {
        const conn = `tab-${u.nextTab++}`;
        u.tabs.set(conn, { conn, channels: new Map(), nextBeatAt: nowMs + this.#o.ttlMs / 3 });
        u.idle = false;
        return {
          kind,
          user,
          calls: [{ method: "heartbeat", params: { user, conn, ttl_ms: this.#o.ttlMs } }],
        };
      }
      case "close": {
        const tab = this.#pick(open);
        u.tabs.delete(tab.conn);
        return { kind, user, calls: [{ method: "disconnect", params: { user, conn: tab.conn } }] };
      }
      case "refresh": {
        const tab = this.#pick(open);
        const half = this.#o.graceMs / 2;
        tab.reconnectAt = nowMs + Math.min(half, 100) + this.#o.random() * Math.max(0, half - 100);
        return { kind, user, calls: [{ method: "disconnect", params: { user, conn: tab.conn } }] };
      }
      case "join": {
        const tab = this.#pick(joinable);
        const channel = this.#pickChannel();
        const data = this.#data(u, tab);
        tab.channels.set(channel, data);
        return { kind, user, calls: [{ method: "join", params: { user, conn: tab.conn, channel, data } }] };
      }
      case "update": {
        const { tab, ch } = this.#pick(joined);
        const before = tab.channels.get(ch) ?? {};
        const data = { ...before, typing: before.typing !== true };
        tab.channels.set(ch, data);
        return {
          kind,
          user,
          calls: [{ method: "update", params: { user, conn: tab.conn, channel: ch, data } }],
        };
      }
      case "leave": {
        const { tab, ch } = this.#pick(joined);
        tab.channels.delete(ch);
        return { kind, user, calls: [{ method: "leave", params: { user, conn: tab.conn, channel: ch } }] };
      }
      case "activity":
        u.idle = false;
        return { kind, user, calls: [{ method: "update_user_status", params: { users: [user] } }] };
      case "idle":
        // Going idle sends nothing: the user stops acting and turns away after a while.
        u.idle = true;
        return { kind, user, calls: [] };
      case "status": {
        if (u.manual !== undefined && this.#o.random() < 0.6) {
          u.manual = undefined;
          return { kind, user, calls: [{ method: "set_status", params: { user, status: "auto" } }] };
        }
        const status = this.#o.random() < 0.75 ? "dnd" : "invisible";
        u.manual = status;
        const [text, emoji] = this.#pick(STATUS_TEXTS);
        const expires = nowMs + 60_000 + Math.floor(this.#o.random() * 240_000);
        const params: Record<string, unknown> =
          status === "dnd" ? { user, status, text, emoji, expires_at_ms: expires } : { user, status };
        return { kind, user, calls: [{ method: "set_status", params }] };
      }
      default:
        return undefined;
    }
  }

  /** The steps that end a run: every conn disconnected, manual statuses cleared. */
  teardown(): Step[] {
    const steps: Step[] = [];
    for (const u of this.#users) {
      const calls: ApiCall[] = [];
      for (const tab of u.tabs.values()) {
        if (tab.reconnectAt === undefined)
          calls.push({ method: "disconnect", params: { user: u.id, conn: tab.conn } });
      }
      if (u.manual !== undefined)
        calls.push({ method: "set_status", params: { user: u.id, status: "auto" } });
      u.tabs.clear();
      u.manual = undefined;
      if (calls.length > 0) steps.push({ kind: "close", user: u.id, calls });
    }
    return steps;
  }
}
