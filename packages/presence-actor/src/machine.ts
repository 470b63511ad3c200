/**
 * The presence machine: the one place where a user's transitions are decided. One user's
 * live conns (with their ttl and channel memberships), online/away/offline status with its
 * grace, activity and its coalesced report, and manual status (dnd, invisible, expiry), as an
 * xstate v5 machine written with `setup()`.
 *
 * It is pure. The caller drives it with the machine's own transition (see xstate-pure.ts) and
 * owns time and the timers: every event carries `at` (the stamped command time, or a timer's
 * deadline); delayed transitions come back as xstate's delayed raise and cancel actions; a
 * conn's deadline comes back as an emitted `armConnTimeout`/`cancelConnTimeout`, and its passing
 * as a `CONN_TIMEOUT` event. What others get to see of a step is emitted as a {@link Change},
 * in the order it happened; the caller only turns those, and the status before and after, into
 * messages (outputs.ts).
 */
import type { LeaveReason } from "@herald/protocol";
import { assign, enqueueActions, setup } from "xstate";
import {
  type Conn,
  findConn,
  findMembership,
  inChannelElsewhere,
  type Membership,
  NO_CHANNELS,
  withConn,
  withMembership,
  withoutConn,
  withoutMembership,
} from "./memberships.js";

export type { Conn, Membership } from "./memberships.js";

export interface Manual {
  status: "dnd" | "invisible";
  text?: string;
  emoji?: string;
  expires_at_ms?: number;
}

/** The settings every user of a partition runs with (one object, shared by their contexts). */
export interface PresenceSettings {
  /** PRESENCE_AWAY_AFTER_MS. */
  readonly awayAfterMs: number;
  /** PRESENCE_GRACE_MS. */
  readonly graceMs: number;
  /** HERALD_MAX_CONNS_PER_USER: a new conn beyond it is refused (429); absent: no limit. */
  readonly maxConns?: number;
  /** HERALD_MAX_CHANNELS_PER_CONN: a join beyond it is refused (413); absent: no limit. */
  readonly maxChannels?: number;
  /**
   * HERALD_OFFLINE_RETENTION_MS: how long an offline user's `online`/`active` are kept after the
   * last of them (then forgotten, as by `delete_user_status`); absent: kept for ever.
   */
  readonly retentionMs?: number;
}

export interface PresenceContext {
  readonly user: string;
  readonly settings: PresenceSettings;
  /** Live conns and their channel memberships, in the order they came. */
  readonly conns: readonly Conn[];
  /** Last activity (ms), if known. */
  readonly activeAt: number | undefined;
  /**
   * The activity the status document reports (ms): it follows `activeAt`, except that an
   * activity less than {@link ACTIVE_COALESCE_MS} after the reported one is not reported
   * unless the same step changes something else the document shows (CONTRACT.md §4 lets
   * `active` lag by at most 5 s) — so a chatty user does not rewrite their document each time.
   */
  readonly reportedActiveAt: number | undefined;
  /** When the last conn ended (ms), if the user has been connected. */
  readonly onlineAt: number | undefined;
  readonly manual: Manual | undefined;
}

export interface PresenceInput {
  user: string;
  settings: PresenceSettings;
}

type At = { at: number };
type Data = Record<string, unknown>;

/** What the machine is told: one per command, and the conn timeouts its caller fires. */
export type MachineEvent =
  /** A heartbeat: a new conn connects (activity); a live one may change its ttl. */
  | ({ type: "HEARTBEAT"; conn: string; ttl: number } & At)
  /** The conn ends now. */
  | ({ type: "DISCONNECT"; conn: string } & At)
  /** The conn's ttl passed since its last sign of life. */
  | ({ type: "CONN_TIMEOUT"; conn: string } & At)
  | ({ type: "ACTIVITY" } & At)
  /** `delete_user_status`: forget `online`/`active` of an offline user. */
  | ({ type: "FORGET" } & At)
  /** `ttl` is the one a new conn gets; a live conn keeps its own. */
  | ({ type: "JOIN"; conn: string; channel: string; data: Data; ttl: number } & At)
  | ({ type: "UPDATE"; conn: string; channel: string; data: Data; ttl: number } & At)
  | ({ type: "LEAVE"; conn: string; channel: string; ttl: number } & At)
  | ({
      type: "SET_STATUS";
      status: "dnd" | "invisible" | "auto";
      text?: string;
      emoji?: string;
      expires_at_ms?: number;
    } & At);

/** The public event a member change shows others (none while the user is invisible). */
export type MemberEvent =
  | { readonly type: "join"; readonly first: boolean }
  | { readonly type: "update" }
  | { readonly type: "leave"; readonly reason: LeaveReason; readonly last: boolean };

/** What a step changed that others may see, reported by the machine in the order it happened. */
export type Change =
  /**
   * One member of a channel was added, changed, hidden, shown or removed (`membership: null`):
   * its new state for the projections, and the event others see.
   */
  | {
      readonly type: "member";
      readonly conn: string;
      readonly channel: string;
      readonly membership: Membership | null;
      /** The user is invisible: the member is kept for when they reappear, shown to nobody. */
      readonly hidden: boolean;
      readonly event?: MemberEvent;
    }
  /** A new conn connected: the status change of the step (if any) is reported here, before what follows. */
  | { readonly type: "announce" }
  /** The command is refused: it changed nothing. */
  | { readonly type: "rejected"; readonly code: 409 | 413 | 429; readonly message: string };

/** Everything the machine emits: what others see of a step, and the conn deadlines it wants. */
export type Emitted =
  | Change
  /** The conn's deadline is now `at + ttl` (the caller keeps conn deadlines). */
  | { readonly type: "armConnTimeout"; readonly conn: string; readonly ttl: number }
  | { readonly type: "cancelConnTimeout"; readonly conn: string };

/** `active` moves in the status document at most this often (CONTRACT.md §4 allows 5 s). */
export const ACTIVE_COALESCE_MS = 5000;

const seconds = (ms: number): number => Math.floor(ms / 1000);

export function isInvisible(ctx: Pick<PresenceContext, "manual">): boolean {
  return ctx.manual?.status === "invisible";
}

/** The user's memberships as changes that hide them (going invisible) or show them again. */
function visibilityChanges(conns: readonly Conn[], hide: boolean): Change[] {
  const out: Change[] = [];
  // Members per channel still to hide (hiding), or already shown (showing): `last` and `first`.
  const count = new Map<string, number>();
  if (hide)
    for (const c of conns) for (const m of c.channels) count.set(m.channel, (count.get(m.channel) ?? 0) + 1);
  for (const c of conns) {
    for (const m of c.channels) {
      const n = count.get(m.channel) ?? 0;
      count.set(m.channel, hide ? n - 1 : n + 1);
      const event: MemberEvent = hide
        ? { type: "leave", reason: "disconnect", last: n - 1 === 0 }
        : { type: "join", first: n === 0 };
      out.push({ type: "member", conn: c.id, channel: m.channel, membership: m, hidden: hide, event });
    }
  }
  return out;
}

const sameManual = (a: Manual | undefined, b: Manual | undefined): boolean =>
  JSON.stringify(a) === JSON.stringify(b);

/** Activity at `at`: the document reports it unless it is within the coalescing of the reported one. */
function activity(
  context: PresenceContext,
  at: number,
): Pick<PresenceContext, "activeAt" | "reportedActiveAt"> {
  const reported = context.reportedActiveAt;
  const report = reported === undefined || (seconds(at) - seconds(reported)) * 1000 >= ACTIVE_COALESCE_MS;
  return { activeAt: at, reportedActiveAt: report ? at : reported };
}

/** A conn ends (disconnect or timeout): the last one starts the grace, keeping the status. */
const connEnds = (grace: "grace.online" | "grace.away", reason: "disconnect" | "timeout") => {
  const actions = [{ type: "endConn", params: { reason } }, "reportActive"] as const;
  return [
    { guard: "isLastConn", target: grace, actions },
    { guard: "isLiveConn", actions },
  ] as const;
};

/** A new conn connects (activity), the user comes online; a JOIN then joins. */
const CONNECT = ["connect"] as const;
const CONNECT_JOIN = [...CONNECT, "join"] as const;
/** A command of a new conn, or a join of a new channel, over the limits: refused. */
const CONN_LIMIT = { guard: "connLimitReached", actions: "rejectConnLimit" } as const;
const CHANNEL_LIMIT = { guard: "channelLimitReached", actions: "rejectChannelLimit" } as const;
/** Where no conn is live (offline, grace), a command of a new conn brings the user online. */
const connectsFromOffline = {
  HEARTBEAT: { guard: "isNewConn", target: "online", actions: CONNECT },
  JOIN: { guard: "isNewConn", target: "online", actions: CONNECT_JOIN },
  LEAVE: { guard: "isNewConn", target: "online", actions: CONNECT },
} as const;

export const presenceMachine = setup({
  types: {
    context: {} as PresenceContext,
    events: {} as MachineEvent,
    input: {} as PresenceInput,
    emitted: {} as Emitted,
  },
  guards: {
    isNewConn: ({ context, event }) => "conn" in event && findConn(context.conns, event.conn) === undefined,
    isLiveConn: ({ context, event }) => "conn" in event && findConn(context.conns, event.conn) !== undefined,
    isLastConn: ({ context, event }) =>
      "conn" in event && context.conns.length === 1 && context.conns[0]?.id === event.conn,
    isMember: ({ context, event }) =>
      event.type === "UPDATE" &&
      findMembership(findConn(context.conns, event.conn), event.channel) !== undefined,
    /** A new conn, and the user has as many live conns as allowed already. */
    connLimitReached: ({ context, event }) =>
      "conn" in event &&
      context.settings.maxConns !== undefined &&
      context.conns.length >= context.settings.maxConns &&
      findConn(context.conns, event.conn) === undefined,
    /** A join of a new channel, and the conn is in as many channels as allowed already. */
    channelLimitReached: ({ context, event }) => {
      if (event.type !== "JOIN" || context.settings.maxChannels === undefined) return false;
      const conn = findConn(context.conns, event.conn);
      const channels = conn?.channels.length ?? 0;
      return channels >= context.settings.maxChannels && findMembership(conn, event.channel) === undefined;
    },
    /** There is something to forget once the retention has passed. */
    retains: ({ context }) =>
      context.settings.retentionMs !== undefined &&
      (context.activeAt !== undefined || context.onlineAt !== undefined),
    hasExpiry: ({ event }) => event.type === "SET_STATUS" && event.expires_at_ms !== undefined,
    isAuto: ({ event }) => event.type === "SET_STATUS" && event.status === "auto",
  },
  actions: {
    /** A new conn: live with the event's ttl, which arms its deadline; connecting is activity. */
    connect: enqueueActions(({ context, event, enqueue }) => {
      if (!("conn" in event) || !("ttl" in event)) return;
      // Connecting is activity, reported at once (the document changes: one more conn).
      enqueue.assign({
        conns: context.conns.concat([{ id: event.conn, ttl: event.ttl, channels: NO_CHANNELS }]),
        activeAt: event.at,
        reportedActiveAt: event.at,
      });
      enqueue.emit({ type: "armConnTimeout", conn: event.conn, ttl: event.ttl });
      enqueue.emit({ type: "announce" });
    }),
    /** A sign of life of a live conn: a heartbeat sets its ttl; its deadline moves. */
    touch: enqueueActions(({ context, event, enqueue }) => {
      if (!("conn" in event)) return;
      const conn = findConn(context.conns, event.conn);
      if (conn === undefined) return;
      let ttl = conn.ttl;
      if (event.type === "HEARTBEAT" && event.ttl !== conn.ttl) {
        ttl = event.ttl;
        enqueue.assign({ conns: withConn(context.conns, { id: conn.id, ttl, channels: conn.channels }) });
      }
      enqueue.emit({ type: "armConnTimeout", conn: conn.id, ttl });
    }),
    markActive: assign(({ context, event }) => activity(context, event.at)),
    /** The step changes what the status document shows: it reports the latest activity too. */
    reportActive: assign({ reportedActiveAt: ({ context }) => context.activeAt }),
    /** JOIN, or UPDATE of a member: the membership gets the event's data; it is activity. */
    join: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== "JOIN" && event.type !== "UPDATE") return;
      const conn = findConn(context.conns, event.conn);
      if (conn === undefined) return;
      const before = findMembership(conn, event.channel);
      const membership: Membership = {
        channel: event.channel,
        data: event.data,
        joined_at_ms: before?.joined_at_ms ?? event.at,
        updated_at_ms: event.at,
      };
      enqueue.assign({
        conns: withConn(context.conns, withMembership(conn, membership)),
        ...activity(context, event.at),
      });
      const hidden = isInvisible(context);
      const shown: MemberEvent | undefined = hidden
        ? undefined
        : before === undefined
          ? { type: "join", first: !inChannelElsewhere(context.conns, conn.id, event.channel) }
          : { type: "update" };
      const change: Change = { type: "member", conn: conn.id, channel: event.channel, membership, hidden };
      enqueue.emit(shown === undefined ? change : { ...change, event: shown });
    }),
    /** LEAVE: the membership ends (if there is one); it is activity either way. */
    leave: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== "LEAVE") return;
      const conn = findConn(context.conns, event.conn);
      if (findMembership(conn, event.channel) === undefined || conn === undefined) {
        enqueue.assign(activity(context, event.at));
        return;
      }
      enqueue.assign({
        conns: withConn(context.conns, withoutMembership(conn, event.channel)),
        ...activity(context, event.at),
      });
      const hidden = isInvisible(context);
      const change: Change = {
        type: "member",
        conn: conn.id,
        channel: event.channel,
        membership: null,
        hidden,
      };
      const last = !inChannelElsewhere(context.conns, conn.id, event.channel);
      enqueue.emit(hidden ? change : { ...change, event: { type: "leave", reason: "leave", last } });
    }),
    /** A conn ends: it leaves every channel with `reason`; the last one sets `onlineAt`. */
    endConn: enqueueActions(({ context, event, enqueue }, params: { reason: "disconnect" | "timeout" }) => {
      if (!("conn" in event)) return;
      const conn = findConn(context.conns, event.conn);
      if (conn === undefined) return;
      const rest = withoutConn(context.conns, conn.id);
      const hidden = isInvisible(context);
      for (const m of conn.channels) {
        const change: Change = {
          type: "member",
          conn: conn.id,
          channel: m.channel,
          membership: null,
          hidden,
        };
        const last = !inChannelElsewhere(rest, conn.id, m.channel);
        enqueue.emit(hidden ? change : { ...change, event: { type: "leave", reason: params.reason, last } });
      }
      enqueue.assign({ conns: rest, onlineAt: rest.length === 0 ? event.at : context.onlineAt });
      if (params.reason === "disconnect") enqueue.emit({ type: "cancelConnTimeout", conn: conn.id });
    }),
    forget: assign({ activeAt: undefined, reportedActiveAt: undefined, onlineAt: undefined }),
    /** The manual status (`auto` clears it); going invisible hides the user's memberships, and back. */
    setManual: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== "SET_STATUS") return;
      let next: Manual | undefined;
      if (event.status !== "auto") {
        next = { status: event.status };
        if (event.text !== undefined) next.text = event.text;
        if (event.emoji !== undefined) next.emoji = event.emoji;
        if (event.expires_at_ms !== undefined) next.expires_at_ms = event.expires_at_ms;
      }
      if (sameManual(context.manual, next)) {
        enqueue.assign({ manual: next });
        return;
      }
      if (isInvisible(context) !== (next?.status === "invisible")) {
        for (const change of visibilityChanges(context.conns, !isInvisible(context))) enqueue.emit(change);
      }
      enqueue.assign({ manual: next, reportedActiveAt: context.activeAt });
    }),
    /** The manual status expired. */
    clearManual: enqueueActions(({ context, enqueue }) => {
      if (isInvisible(context)) {
        for (const change of visibilityChanges(context.conns, false)) enqueue.emit(change);
      }
      enqueue.assign({ manual: undefined, reportedActiveAt: context.activeAt });
    }),
    /** A new conn over HERALD_MAX_CONNS_PER_USER: 429, and nothing changes. */
    rejectConnLimit: enqueueActions(({ context, event, enqueue }) => {
      if (!("conn" in event)) return;
      const message =
        `too many conns: user ${JSON.stringify(context.user)} has ${context.conns.length} live conns, ` +
        `at most ${context.settings.maxConns} are allowed (HERALD_MAX_CONNS_PER_USER); conn ${JSON.stringify(event.conn)} was refused`;
      enqueue.emit({ type: "rejected", code: 429, message });
    }),
    /** A join over HERALD_MAX_CHANNELS_PER_CONN: 413, and nothing changes. */
    rejectChannelLimit: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== "JOIN") return;
      const message =
        `too many channels: conn ${JSON.stringify(event.conn)} of user ${JSON.stringify(context.user)} is in ` +
        `${context.settings.maxChannels} channels, at most ${context.settings.maxChannels} are allowed ` +
        `(HERALD_MAX_CHANNELS_PER_CONN); leave one before joining ${JSON.stringify(event.channel)}`;
      enqueue.emit({ type: "rejected", code: 413, message });
    }),
    /** `update` of a channel the conn has not joined: 409, and nothing changes. */
    rejectNotJoined: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== "UPDATE") return;
      const message =
        `update: conn ${JSON.stringify(event.conn)} of user ${JSON.stringify(context.user)} ` +
        `has not joined channel ${JSON.stringify(event.channel)}`;
      enqueue.emit({ type: "rejected", code: 409, message });
    }),
  },
  delays: {
    awayAfter: ({ context }) => context.settings.awayAfterMs,
    /** What remains of awayAfter since the last activity (a user in grace turns away on time too). */
    awayRemaining: ({ context, event }) =>
      Math.max(0, (context.activeAt ?? 0) + context.settings.awayAfterMs - ("at" in event ? event.at : 0)),
    grace: ({ context }) => context.settings.graceMs,
    /** Until the retention has passed since the user was last online or active. */
    retention: ({ context, event }) =>
      Math.max(
        0,
        Math.max(context.onlineAt ?? 0, context.activeAt ?? 0) +
          (context.settings.retentionMs ?? 0) -
          ("at" in event ? event.at : 0),
      ),
    /** Until the manual status expires, from the time of the event that set it. */
    manualExpiry: ({ context, event }) =>
      Math.max(0, (context.manual?.expires_at_ms ?? event.at) - ("at" in event ? event.at : 0)),
  },
}).createMachine({
  id: "presence",
  type: "parallel",
  context: ({ input }) => ({
    user: input.user,
    settings: input.settings,
    conns: [],
    activeAt: undefined,
    reportedActiveAt: undefined,
    onlineAt: undefined,
    manual: undefined,
  }),
  states: {
    status: {
      initial: "offline",
      // Whatever the status: commands of a live conn, activity, and updates of non-members.
      on: {
        HEARTBEAT: { guard: "isLiveConn", actions: "touch" },
        ACTIVITY: { actions: "markActive" },
        JOIN: [
          { guard: "channelLimitReached", actions: "rejectChannelLimit" },
          { guard: "isLiveConn", actions: ["touch", "join"] },
        ],
        UPDATE: [{ guard: "isMember", actions: ["touch", "join"] }, { actions: "rejectNotJoined" }],
        LEAVE: { guard: "isLiveConn", actions: ["touch", "leave"] },
      },
      states: {
        /**
         * No live conn and no grace. While there is something to forget, the retention counts
         * from the last time the user was online or active; when it has passed, `online` and
         * `active` are forgotten (as by `delete_user_status`).
         */
        offline: {
          tags: "offline",
          initial: "settling",
          on: {
            ...connectsFromOffline,
            ACTIVITY: { target: "offline", reenter: true, actions: "markActive" },
            FORGET: { target: ".kept", actions: "forget" },
          },
          states: {
            settling: { always: [{ guard: "retains", target: "retained" }, { target: "kept" }] },
            retained: { after: { retention: { target: "kept", actions: "forget" } } },
            kept: {},
          },
        },
        online: {
          tags: "online",
          after: { awayAfter: { target: "away", actions: "reportActive" } },
          on: {
            HEARTBEAT: [
              CONN_LIMIT,
              { guard: "isNewConn", target: "online", reenter: true, actions: CONNECT },
            ],
            ACTIVITY: { target: "online", reenter: true, actions: "markActive" },
            JOIN: [
              CONN_LIMIT,
              { guard: "isNewConn", target: "online", reenter: true, actions: CONNECT_JOIN },
              CHANNEL_LIMIT,
              {
                guard: "isLiveConn",
                target: "online",
                reenter: true,
                actions: ["touch", "join"],
              },
            ],
            UPDATE: [
              {
                guard: "isMember",
                target: "online",
                reenter: true,
                actions: ["touch", "join"],
              },
              { actions: "rejectNotJoined" },
            ],
            LEAVE: [
              CONN_LIMIT,
              { guard: "isNewConn", target: "online", reenter: true, actions: CONNECT },
              {
                guard: "isLiveConn",
                target: "online",
                reenter: true,
                actions: ["touch", "leave"],
              },
            ],
            DISCONNECT: connEnds("grace.online", "disconnect"),
            CONN_TIMEOUT: connEnds("grace.online", "timeout"),
          },
        },
        away: {
          tags: "away",
          on: {
            HEARTBEAT: [CONN_LIMIT, { guard: "isNewConn", target: "online", actions: CONNECT }],
            ACTIVITY: { target: "online", actions: ["markActive", "reportActive"] },
            JOIN: [
              CONN_LIMIT,
              { guard: "isNewConn", target: "online", actions: CONNECT_JOIN },
              CHANNEL_LIMIT,
              {
                guard: "isLiveConn",
                target: "online",
                actions: ["touch", "join", "reportActive"],
              },
            ],
            UPDATE: [
              {
                guard: "isMember",
                target: "online",
                actions: ["touch", "join", "reportActive"],
              },
              { actions: "rejectNotJoined" },
            ],
            LEAVE: [
              CONN_LIMIT,
              { guard: "isNewConn", target: "online", actions: CONNECT },
              {
                guard: "isLiveConn",
                target: "online",
                actions: ["touch", "leave", "reportActive"],
              },
            ],
            DISCONNECT: connEnds("grace.away", "disconnect"),
            CONN_TIMEOUT: connEnds("grace.away", "timeout"),
          },
        },
        /** No live conn, but not offline yet: a conn that comes back in time prevents a flap. */
        grace: {
          after: { grace: { target: "offline", actions: "reportActive" } },
          on: {
            ...connectsFromOffline,
          },
          initial: "online",
          states: {
            online: {
              tags: "online",
              after: { awayRemaining: { target: "away", actions: "reportActive" } },
              on: { ACTIVITY: { target: "online", reenter: true, actions: "markActive" } },
            },
            away: {
              tags: "away",
              on: { ACTIVITY: { target: "online", actions: ["markActive", "reportActive"] } },
            },
          },
        },
      },
    },
    manual: {
      initial: "none",
      states: {
        none: {
          on: {
            SET_STATUS: [
              { guard: "isAuto" },
              { guard: "hasExpiry", target: "expiring", actions: "setManual" },
              { target: "set", actions: "setManual" },
            ],
          },
        },
        set: {
          on: {
            SET_STATUS: [
              { guard: "isAuto", target: "none", actions: "setManual" },
              { guard: "hasExpiry", target: "expiring", actions: "setManual" },
              { actions: "setManual" },
            ],
          },
        },
        expiring: {
          after: { manualExpiry: { target: "none", actions: "clearManual" } },
          on: {
            SET_STATUS: [
              { guard: "isAuto", target: "none", actions: "setManual" },
              { guard: "hasExpiry", target: "expiring", reenter: true, actions: "setManual" },
              { target: "set", actions: "setManual" },
            ],
          },
        },
      },
    },
  },
});
